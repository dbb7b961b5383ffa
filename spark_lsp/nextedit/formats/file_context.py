"""The file's text above the window, the first and most stable part of a next-edit prompt: the
user edits inside the window, so from one prediction to the next this text barely changes and
its cells are reused (the window itself, the edits and the answer are computed again).

Its first line is rounded to a multiple of ALIGN_LINES, so that a window moving a few lines
keeps the same start (a prompt is reused from its start up to its first change)."""

from __future__ import annotations

from spark_lsp.nextedit.context import EditContext

# About 500 tokens of code: a cold prediction pays for them once per document (about 2 s of
# prompt evaluation for the 0.5B on a 2-core Xeon), later ones reuse them.
ABOVE_CHARS = 2_000
ALIGN_LINES = 32


def text_above(context: EditContext, limit: int = ABOVE_CHARS) -> str:
    """Whole lines above the window, at most ``limit`` characters, from an aligned line."""
    first, _ = context.region
    start, size = first, 0
    while start > 0 and size + len(context.lines[start - 1]) <= limit:
        start -= 1
        size += len(context.lines[start])
    aligned = min(first, -(-start // ALIGN_LINES) * ALIGN_LINES)
    return "".join(context.lines[aligned:first])


def text_below(context: EditContext, limit: int = ABOVE_CHARS // 2) -> str:
    """Whole lines just below the window, at most ``limit`` characters."""
    _, last = context.region
    end, size = last, 0
    while end < len(context.lines) and size + len(context.lines[end]) <= limit:
        size += len(context.lines[end])
        end += 1
    return "".join(context.lines[last:end])
