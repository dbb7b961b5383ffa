"""Recently edited places across documents, in the spirit of llama.vim's ring buffer of chunks.

Each edit marks a block of lines (aligned to ``BLOCK_LINES``) of its document; the ring keeps the
most recent ``capacity`` blocks. Texts are read from the documents when a prompt is built, so a
block shows its current text; the block the cursor is in is left out (the cursor window has it).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

BLOCK_LINES = 16


@dataclass(frozen=True, order=True)
class EditedBlock:
    uri: str
    first_line: int  # a multiple of BLOCK_LINES


class RecentEdits:
    def __init__(self, capacity: int = 8) -> None:
        self.capacity = capacity
        self._blocks: OrderedDict[EditedBlock, None] = OrderedDict()

    def record(self, uri: str, first_line: int, last_line: int) -> None:
        """An edit touched lines [first_line, last_line] (inclusive) of ``uri``."""
        start = first_line - first_line % BLOCK_LINES
        for line in range(start, max(start, last_line) + 1, BLOCK_LINES):
            block = EditedBlock(uri, line)
            self._blocks[block] = None
            self._blocks.move_to_end(block)
        while len(self._blocks) > self.capacity:
            self._blocks.popitem(last=False)

    def forget(self, uri: str) -> None:
        for block in [block for block in self._blocks if block.uri == uri]:
            del self._blocks[block]

    def blocks(self) -> list[EditedBlock]:
        """Most recent first."""
        return list(reversed(self._blocks))
