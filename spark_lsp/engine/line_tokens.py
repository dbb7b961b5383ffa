"""Tokenizing a prompt's text piece by piece, so a keystroke re-tokenizes only the lines it changed.

Byte-level BPE merges tokens only inside the pieces its pre-tokenizer cuts the text into. With
GPT-2-style patterns (Qwen2's among them) a line break followed by a line that holds more than
whitespace always ends a pre-token: the break belongs to the text before it, and nothing after a
break can join it (a whitespace-only line can: ``"\\n  \\n"`` is one pre-token). Cutting the text
there and tokenizing each piece on its own gives the same tokens as tokenizing it whole, and the
pieces' tokens can be cached by content. Whether that holds for a model is checked at load on
real code (``verified``); when it does not, the text is tokenized whole as before.

Measured with the 0.5B model: a 6,469-token file takes about 60 ms to tokenize whole; a
keystroke then tokenizes one line.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable

MAX_CACHED_PIECES = 16384


def pieces(text: str) -> list[str]:
    """``text`` cut after each line break that a line with more than whitespace follows."""
    lines = text.splitlines(keepends=True)
    found: list[str] = []
    current: list[str] = []
    for index, line in enumerate(lines):
        current.append(line)
        following = lines[index + 1] if index + 1 < len(lines) else None
        if following is not None and line.endswith("\n") and following.strip():
            found.append("".join(current))
            current = []
    if current:
        found.append("".join(current))
    return found


class PieceTokenizer:
    """``tokenize`` with a per-piece cache, once ``verified`` on sample texts.

    Owned by the thread that tokenizes prompts (the inference worker): only it reads or
    writes the cache and ``enabled``. ``verify`` may run on another thread (built aside at
    load): it only publishes its verdict, which the owner adopts at its next call, so a prompt
    is never tokenized half whole, half in pieces."""

    def __init__(self, tokenize: Callable[[str], list[int]]) -> None:
        self._tokenize = tokenize
        self._cache: OrderedDict[str, tuple[int, ...]] = OrderedDict()
        self.enabled = False
        self._verdict: bool | None = None  # set once by ``verify``, adopted by the owner

    def verify(self, samples: Iterable[str]) -> bool:
        """Whether piecewise tokenization equals whole tokenization on every sample; the
        owner enables it at its next call when it does."""
        verdict = all(
            [token for piece in pieces(text) for token in self._tokenize(piece)]
            == self._tokenize(text)
            for text in samples
        )
        self._verdict = verdict
        return verdict

    def tokenize(self, text: str) -> list[int]:
        if self._verdict is not None:
            self.enabled, self._verdict = self._verdict, None
        return self._pieced(text) if self.enabled else self._tokenize(text)

    def _pieced(self, text: str) -> list[int]:
        tokens: list[int] = []
        for piece in pieces(text):
            cached = self._cache.get(piece)
            if cached is None:
                cached = tuple(self._tokenize(piece))
                self._cache[piece] = cached
                if len(self._cache) > MAX_CACHED_PIECES:
                    self._cache.popitem(last=False)
            else:
                self._cache.move_to_end(piece)
            tokens.extend(cached)
        return tokens
