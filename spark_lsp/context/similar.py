"""Snippets from other open documents that look like the code at the cursor ("neighbouring tabs").

Documents are cut into overlapping windows of lines; a window's score is the Jaccard similarity of
its identifier set with the identifiers around the cursor. Identifier sets are cached per document
version, so a keystroke only rescans the cursor's own lines.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{2,}")
WINDOW_LINES = 24
STRIDE_LINES = 12


@dataclass(frozen=True)
class Snippet:
    uri: str
    first_line: int
    last_line: int  # exclusive
    text: str
    score: float


def identifiers(text: str) -> frozenset[str]:
    return frozenset(IDENTIFIER.findall(text))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    shared = len(a & b)
    return shared / (len(a) + len(b) - shared)


class SimilarSnippets:
    def __init__(
        self, cached_documents: int = 32, is_open: Callable[[str], bool] = lambda uri: True
    ) -> None:
        """``is_open``: whether a document is still open (checked from the candidates thread,
        a membership test): the windows of one closed meanwhile are not kept."""
        self._is_open = is_open
        # (uri, version) -> windows as (first line, identifiers)
        self._windows: OrderedDict[tuple[str, int], list[tuple[int, frozenset[str]]]] = (
            OrderedDict()
        )
        self._cached_documents = cached_documents
        # The candidates thread fills the cache, the event loop drops closed documents from it.
        self._lock = threading.Lock()

    def forget(self, uri: str) -> None:
        with self._lock:
            for key in [key for key in self._windows if key[0] == uri]:
                del self._windows[key]

    def _document_windows(
        self, uri: str, version: int, lines: Sequence[str]
    ) -> list[tuple[int, frozenset[str]]]:
        key = (uri, version)
        with self._lock:
            windows = self._windows.get(key)
        if windows is None:
            windows = [
                (start, identifiers("".join(lines[start : start + WINDOW_LINES])))
                for start in range(0, max(1, len(lines) - STRIDE_LINES), STRIDE_LINES)
            ]
        if not self._is_open(uri):
            return windows
        with self._lock:
            self._windows[key] = windows
            self._windows.move_to_end(key)
            while len(self._windows) > self._cached_documents:
                self._windows.popitem(last=False)
        return windows

    def best(
        self,
        query: str,
        documents: Iterable[tuple[str, int, Sequence[str]]],
        count: int = 3,
        minimum: float = 0.1,
    ) -> list[Snippet]:
        """The ``count`` best windows over ``documents`` (uri, version, lines), best first; at
        most one per document, ties broken by uri and line so the choice is deterministic."""
        wanted = identifiers(query)
        found: list[Snippet] = []
        for uri, version, lines in documents:
            scored = [
                (jaccard(wanted, words), -start, start)
                for start, words in self._document_windows(uri, version, lines)
            ]
            if not scored:
                continue
            score, _, start = max(scored)
            if score >= minimum:
                end = min(len(lines), start + WINDOW_LINES)
                found.append(Snippet(uri, start, end, "".join(lines[start:end]), score))
        found.sort(key=lambda snippet: (-snippet.score, snippet.uri, snippet.first_line))
        return found[:count]
