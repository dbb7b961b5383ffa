"""The suggestions handed out recently, by item id: acceptance signals find them here, and an
accepted one starts the prefetch of the next line."""

from __future__ import annotations

import itertools
from collections import OrderedDict
from dataclasses import dataclass

from spark_lsp.completion.pipeline import Suggestion
from spark_lsp.documents import DocumentSnapshot

KEPT_ITEMS = 200


@dataclass(frozen=True)
class ShownItem:
    suggestion: Suggestion
    snapshot: DocumentSnapshot
    line: int
    column: int  # the cursor when the suggestion was made, code points


class ShownItems:
    def __init__(self) -> None:
        self._items: OrderedDict[int, ShownItem] = OrderedDict()
        self._ids = itertools.count(1)

    def add(self, item: ShownItem) -> int:
        item_id = next(self._ids)
        self._items[item_id] = item
        while len(self._items) > KEPT_ITEMS:
            self._items.popitem(last=False)
        return item_id

    def get(self, item_id: object) -> ShownItem | None:
        return self._items.get(item_id) if isinstance(item_id, int) else None

    def text(self, item_id: object) -> str | None:
        item = self.get(item_id)
        return item.suggestion.text if item is not None else None
