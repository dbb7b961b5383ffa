"""Drafting by n-gram lookup: guess the next tokens of an answer that copies from a known text.

After each generated token, the last few generated tokens are looked up in the known text's
tokens (with array comparisons: a few microseconds per step over thousands of tokens); the tokens
that followed them there are proposed as a draft, and the engine checks the whole draft with one
batched decode (greedy verification: a draft token is kept while it is what the model would have
picked). One matcher, two ways to choose among several matches:

- a rewrite (add type hints, simplify...) walks through its input: the match at or after where
  the previous one ended wins (``DraftLookup``);
- a completion copies from around the cursor in its own prompt (identifiers, call shapes, the
  text after the cursor): the match nearest the cursor wins (``PromptLookup``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class NgramDrafter:
    """The tokens that followed the longest recent ``min_ngram``..``max_ngram`` tokens of an
    answer in ``source``; ``follow``: the anchor moves to the end of each match (else it stays)."""

    def __init__(
        self,
        source: Sequence[int],
        anchor: int,
        follow: bool,
        min_ngram: int,
        max_ngram: int = 4,
    ) -> None:
        self._source = np.asarray(source, dtype=np.int64)
        self._anchor = anchor
        self._follow = follow
        self._min_ngram = min_ngram
        self._max_ngram = max_ngram

    def propose(self, generated: Sequence[int], count: int) -> list[int]:
        """Up to ``count`` tokens to try next."""
        if count <= 0 or len(generated) < self._min_ngram or len(self._source) < 2:
            return []
        for ngram in range(min(self._max_ngram, len(generated)), self._min_ngram - 1, -1):
            starts = self._matches(generated[-ngram:])
            if len(starts):
                follow = self._choose(starts, ngram) + ngram
                if self._follow:
                    self._anchor = follow
                return [int(token) for token in self._source[follow : follow + count]]
        return []

    def _matches(self, ngram: Sequence[int]) -> np.ndarray:
        """Where ``ngram`` starts in the source with at least one token after it."""
        size, length = len(self._source), len(ngram)
        if size <= length:
            return np.empty(0, dtype=np.int64)
        found = np.ones(size - length, dtype=bool)
        for offset, token in enumerate(ngram):
            found &= self._source[offset : size - length + offset] == token
        return np.flatnonzero(found)

    def _choose(self, starts: np.ndarray, ngram: int) -> int:
        if self._follow:  # the first match from where the previous one ended, else the first
            ahead = starts[starts >= self._anchor - ngram]
            return int(ahead[0] if len(ahead) else starts[0])
        return int(starts[np.argmin(np.abs(starts + ngram - self._anchor))])


def DraftLookup(source: Sequence[int], max_ngram: int = 4) -> NgramDrafter:
    """Drafts for a rewrite from its input."""
    return NgramDrafter(source, anchor=0, follow=True, min_ngram=1, max_ngram=max_ngram)


def PromptLookup(
    source: Sequence[int], cursor: int, min_ngram: int = 2, max_ngram: int = 4
) -> NgramDrafter:
    """Drafts for a completion from its own prompt, nearest the cursor."""
    return NgramDrafter(source, cursor, follow=False, min_ngram=min_ngram, max_ngram=max_ngram)
