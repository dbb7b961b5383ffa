"""The cursor window: the lines around the cursor that become the prompt's prefix and suffix.

The window's first line is anchored to a multiple of ``anchor_lines`` so that it stays put while
the user types and moves a few lines: a stable prompt start keeps the engine's KV cache valid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

LINES_ABOVE = 256
LINES_BELOW = 64
ANCHOR_LINES = 32


@dataclass(frozen=True)
class CursorWindow:
    prefix: str
    suffix: str
    first_line: int  # zero-based index of the window's first line
    last_line: int  # exclusive


def cursor_window(
    lines: Sequence[str],
    line: int,
    column: int,
    above: int = LINES_ABOVE,
    below: int = LINES_BELOW,
    anchor_lines: int = ANCHOR_LINES,
) -> CursorWindow:
    """Prefix and suffix around (line, column); ``lines`` keep their terminators, the column
    counts code points."""
    first = max(0, line - above)
    first -= first % anchor_lines
    last = min(len(lines), line + 1 + below)
    current = lines[line]
    prefix = "".join(lines[first:line]) + current[:column]
    suffix = current[column:] + "".join(lines[line + 1 : last])
    return CursorWindow(prefix, suffix, first, last)
