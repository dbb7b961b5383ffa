"""Suggestions already computed, reused when the user types into them (type-through).

Entries are keyed by the full prompt window. A lookup hits when the suffix is the same and the new
prefix is an entry's prefix plus characters the entry's suggestion starts with: the remainder is
served with no model call, as in llama.vim's cache.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True)
class CachedSuggestion:
    prefix: str
    suffix: str
    text: str


class SuggestionCache:
    def __init__(self, capacity: int = 250) -> None:
        self._entries: OrderedDict[tuple[str, str], CachedSuggestion] = OrderedDict()
        self._capacity = capacity
        self.hits = 0

    def store(self, prefix: str, suffix: str, text: str) -> None:
        key = (prefix, suffix)
        self._entries[key] = CachedSuggestion(prefix, suffix, text)
        self._entries.move_to_end(key)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def lookup(self, prefix: str, suffix: str) -> str | None:
        """The rest of a cached suggestion the user is typing through, if any."""
        exact = self._entries.get((prefix, suffix))
        if exact is not None:
            self.hits += 1
            return exact.text
        for entry in reversed(self._entries.values()):
            if entry.suffix != suffix or not prefix.startswith(entry.prefix):
                continue
            typed = prefix[len(entry.prefix) :]
            if typed and entry.text.startswith(typed) and len(entry.text) > len(typed):
                self.hits += 1
                return entry.text[len(typed) :]
        return None

    def clear(self) -> None:
        self._entries.clear()
