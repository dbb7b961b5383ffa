"""Token healing: the prompt backs up by its last token, and the answer's first tokens must
spell that token's bytes again.

A prompt that ends inside what the model would write as one token (``pri`` of ``print``, ``]``
of ``]\\n``, ``=`` of ``==``) is a token boundary the model rarely saw in training, and it answers
as if the word or operator were complete. Removing the last token and letting the model choose
how to write those bytes (``print`` as one token, ``]\\n`` as one) gives it back its own
boundaries. The first generated tokens are constrained by logit masking: a token is allowed when
its bytes are a prefix of what remains to be spelled, or begin with all of it.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable

import numpy as np
import numpy.typing as npt


class HealingVocabulary:
    """The vocabulary's byte strings, sorted, for finding the tokens allowed at each step. Built
    once per model (about a second for 150k tokens), on first use."""

    def __init__(
        self,
        n_vocab: int,
        token_bytes: Callable[[int], bytes],
        is_normal: Callable[[int], bool],
    ) -> None:
        entries = sorted(
            (piece, token)
            for token in range(n_vocab)
            if is_normal(token) and (piece := token_bytes(token))
        )
        self._pieces = [piece for piece, _ in entries]
        self._tokens = np.array([token for _, token in entries], dtype=np.int64)
        self._exact: dict[bytes, list[int]] = {}
        for piece, token in entries:
            self._exact.setdefault(piece, []).append(token)

    def allowed(self, remaining: bytes) -> npt.NDArray[np.int64]:
        """Tokens that may come next while ``remaining`` bytes are still to be spelled."""
        found: list[int] = []
        for length in range(1, len(remaining)):
            found.extend(self._exact.get(remaining[:length], ()))
        start = bisect.bisect_left(self._pieces, remaining)
        end = start
        while end < len(self._pieces) and self._pieces[end].startswith(remaining):
            end += 1
        return np.concatenate([np.array(found, dtype=np.int64), self._tokens[start:end]])


def spelled(piece: bytes, remaining: bytes) -> tuple[bytes, bytes]:
    """(the part of ``piece`` that goes past the healed bytes, what remains to be spelled)."""
    taken = min(len(piece), len(remaining))
    return piece[taken:], remaining[taken:]
