"""What a next-edit predictor reads (EditContext: the document after the user's edit, the edit,
the window around it) and what it answers (Prediction: the window's next version). Both are
immutable: taken on the event loop, read by the threads that predict."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from spark_lsp.nextedit.recent import RecentEdit

# Sweep chose a fixed 21-line window (10 lines either side of the cursor) over syntax-tree
# regions (DESIGN.md, "Measured in round 3").
WINDOW_LINES = 21


@dataclass(frozen=True)
class EditContext:
    path: str
    language: str
    lines: tuple[str, ...]
    edited: tuple[int, int]  # the lines the edit left, [first, last) (at least one line)
    before: str  # the edit's old text
    after: str  # and its new text
    region: tuple[int, int]  # the window a prediction rewrites
    history: tuple[RecentEdit, ...] = ()  # earlier edits, oldest first

    @property
    def window(self) -> list[str]:
        first, last = self.region
        return list(self.lines[first:last])

    def window_with_cursor(self, marker: str) -> str:
        """The window's text with ``marker`` where the cursor is: after the edited lines."""
        first, _ = self.region
        text = "".join(self.window)
        cursor = len("".join(self.lines[first : max(first, self.edited[1])]))
        return text[:cursor] + marker + text[cursor:]

    def window_before_edit(self) -> list[str]:
        """The window as it was before the user's last edit (Sweep's ``original``)."""
        first, last = self.region
        start = self.edited[0]
        after_lines = len(self.after.splitlines(keepends=True))
        if not first <= start <= last:
            return self.window
        end = min(start + after_lines, len(self.lines))
        restored = [*self.lines[first:start], *self.before.splitlines(keepends=True)]
        return [*restored, *self.lines[end : max(end, last)]]

    def recent_edits(self) -> tuple[RecentEdit, ...]:
        """The history with the last edit, oldest first."""
        return (*self.history, RecentEdit(self.path, self.before, self.after))


@dataclass(frozen=True)
class Prediction:
    lines: list[str]  # the window's next version (or ``span``'s, when set)
    source: str  # the rule or format that predicted it: "substitution", "model:sweep" ...
    tokens: int = 0
    confidence: float | None = None  # the model's, see confidence.py
    # The window line the answer's first line copies (0: it starts where the window does);
    # cursortab rejects answers that start more than a quarter into the window.
    anchor: int = 0
    # The share of the window's lines the answer wrote before it was cut short (a length or
    # time limit): the rest are the window's own.
    complete: float = 1.0
    # The document lines this rewrites, when not the window (call sites far from the edit).
    span: tuple[int, int] | None = None

    def rewritten(self, context: EditContext) -> tuple[int, int]:
        return self.span if self.span is not None else context.region


def window_around(
    lines: Sequence[str], edited: tuple[int, int], size: int = WINDOW_LINES
) -> tuple[int, int]:
    """``size`` lines centred on the edit's last line (the cursor's), clamped at the document's
    ends (not shifted: Sweep's window is clamped)."""
    cursor = max(edited[0], edited[1] - 1)
    return max(0, cursor - size // 2), min(len(lines), cursor + size - size // 2)
