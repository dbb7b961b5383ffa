"""Prompt-lookup drafting: guess the next tokens of an answer that copies from a known text.

Rewrites (add type hints, simplify...) reproduce most of their input. After each generated token,
the last few generated tokens are looked up in the input's tokens; the tokens that followed them
there are proposed as a draft, and the engine checks the whole draft with one batched decode
(greedy verification: a draft token is kept while it is what the model would have picked).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class DraftLookup:
    def __init__(self, source: Sequence[int], max_ngram: int = 4) -> None:
        self._source = list(source)
        self._max_ngram = max_ngram
        self._cursor = 0  # where in the source the answer most likely is

    def propose(self, generated: Sequence[int], count: int) -> list[int]:
        """Up to ``count`` tokens that followed the longest recent n-gram of ``generated`` in the
        source, preferring the occurrence nearest after the previous match."""
        if count <= 0 or not generated or not self._source:
            return []
        for size in range(min(self._max_ngram, len(generated)), 0, -1):
            ngram = list(generated[-size:])
            start = self._find(ngram)
            if start is not None:
                follow = start + size
                self._cursor = follow
                return self._source[follow : follow + count]
        return []

    def _find(self, ngram: list[int]) -> int | None:
        size = len(ngram)
        last = len(self._source) - size
        best: int | None = None
        for index in range(0, last):
            if self._source[index : index + size] == ngram:
                if index >= self._cursor - size:
                    return index
                best = index if best is None else best
        return best


class PromptLookup:
    """Drafts for a completion from its own prompt: code repeats itself (identifiers, call
    shapes, the text after the cursor). The last ``min_ngram``..``max_ngram`` generated tokens
    are matched against the prompt's tokens with array comparisons (a few microseconds per step
    over thousands of tokens); of several matches, the one nearest the cursor wins."""

    def __init__(
        self, source: Sequence[int], cursor: int, min_ngram: int = 2, max_ngram: int = 4
    ) -> None:
        self._source = np.asarray(source, dtype=np.int64)
        self._cursor = cursor
        self._min_ngram = min_ngram
        self._max_ngram = max_ngram

    def propose(self, generated: Sequence[int], count: int) -> list[int]:
        size = len(self._source)
        if count <= 0 or len(generated) < self._min_ngram or size < 2:
            return []
        for ngram in range(min(self._max_ngram, len(generated)), self._min_ngram - 1, -1):
            # ends[i]: the n-gram ends at source index i + ngram - 1, and a token follows it.
            ends = np.ones(size - ngram, dtype=bool)
            for back in range(ngram):
                ends &= self._source[ngram - 1 - back : size - 1 - back] == generated[-1 - back]
            found = np.flatnonzero(ends)
            if len(found):
                follow = found[np.argmin(np.abs(found + ngram - self._cursor))] + ngram
                return [int(token) for token in self._source[follow : follow + count]]
        return []
