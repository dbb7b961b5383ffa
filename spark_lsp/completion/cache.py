"""Suggestions already computed, reused when the user types into them (type-through).

Entries are keyed by the cursor window they were made for. A lookup hits when the suffix is the
same and the new prefix is an entry's prefix plus characters the entry's suggestion starts with:
the remainder is served with no model call, as in llama.vim's cache.

Bounded in bytes, not only in entries: an entry keeps digests of its prefix and suffix (and the
prefix's length), never the window's text, so 250 entries of a document cost a few tens of
kilobytes whatever the window size.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass


def digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


@dataclass(frozen=True)
class CachedSuggestion:
    prefix_length: int
    text: str


class SuggestionCache:
    def __init__(self, capacity: int = 250) -> None:
        # (prefix digest, suffix digest) -> the suggestion, least recently stored first
        self._entries: OrderedDict[tuple[bytes, bytes], CachedSuggestion] = OrderedDict()
        self._capacity = capacity
        self.hits = 0

    def __len__(self) -> int:
        return len(self._entries)

    def store(self, prefix: str, suffix: str, text: str) -> None:
        key = (digest(prefix), digest(suffix))
        self._entries[key] = CachedSuggestion(len(prefix), text)
        self._entries.move_to_end(key)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def lookup(self, prefix: str, suffix: str) -> str | None:
        """The rest of a cached suggestion the user is typing through, if any."""
        suffix_digest = digest(suffix)
        exact = self._entries.get((digest(prefix), suffix_digest))
        if exact is not None:
            self.hits += 1
            return exact.text
        checked: dict[int, bytes] = {}
        for (prefix_digest, entry_suffix), entry in reversed(self._entries.items()):
            start = entry.prefix_length
            if entry_suffix != suffix_digest or start >= len(prefix):
                continue
            typed = prefix[start:]
            if not entry.text.startswith(typed) or len(entry.text) <= len(typed):
                continue
            if start not in checked:
                checked[start] = digest(prefix[:start])
            if checked[start] == prefix_digest:
                self.hits += 1
                return entry.text[len(typed) :]
        return None

    def clear(self) -> None:
        self._entries.clear()
