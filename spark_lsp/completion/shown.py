"""The suggestions handed out recently, by item id: acceptance signals find them here, and an
accepted one starts the prefetch of the next line.

Bounded: KEPT_ITEMS items (a suggestion and its position each), and the document snapshot only
of each document's latest item (what an accept's prefetch needs); a snapshot shares its lines
with the document store, so it costs a pointer per line.

Threads: event loop only.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from dataclasses import dataclass

from spark_lsp.completion.service import Suggestion
from spark_lsp.documents import DocumentSnapshot

KEPT_ITEMS = 200


@dataclass(frozen=True)
class ShownItem:
    suggestion: Suggestion
    snapshot: DocumentSnapshot | None  # None once a newer item of its document was shown
    line: int
    column: int  # the cursor when the suggestion was made, code points


class ShownItems:
    def __init__(self) -> None:
        self._items: OrderedDict[int, tuple[Suggestion, str, int, int]] = OrderedDict()
        # uri -> (the first id of its latest group of items, their snapshot)
        self._latest: dict[str, tuple[int, DocumentSnapshot]] = {}
        self._ids = itertools.count(1)

    def add(self, item: ShownItem, alongside: bool = False) -> int:
        """Keep an item; ``alongside``: it joins the previous item's group (the alternatives of
        one answer), whose items all keep the snapshot."""
        assert item.snapshot is not None
        item_id = next(self._ids)
        uri = item.snapshot.uri
        self._items[item_id] = (item.suggestion, uri, item.line, item.column)
        group = self._latest.get(uri)
        first = group[0] if alongside and group is not None else item_id
        self._latest[uri] = (first, item.snapshot)
        while len(self._items) > KEPT_ITEMS:
            self._items.popitem(last=False)
        return item_id

    def get(self, item_id: object) -> ShownItem | None:
        if not isinstance(item_id, int) or isinstance(item_id, bool):
            return None
        found = self._items.get(item_id)
        if found is None:
            return None
        suggestion, uri, line, column = found
        latest = self._latest.get(uri)
        snapshot = latest[1] if latest is not None and item_id >= latest[0] else None
        return ShownItem(suggestion, snapshot, line, column)

    def text(self, item_id: object) -> str | None:
        item = self.get(item_id)
        return item.suggestion.text if item is not None else None

    def forget(self, uri: str) -> None:
        self._latest.pop(uri, None)
