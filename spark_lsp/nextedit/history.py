"""Each open document's recent edits, for next-edit prediction.

The document as it was when the last prediction was asked (or when it opened) is the baseline;
the user's edit is what differs between it and the current text: the lines from the first to the
last that changed. It is found by comparing line tuples from both ends, whatever granularity
the client's didChange notifications had. Edits that stay on the lines of the one before (a
word deleted, then its replacement typed, with a pause between) are one edit: its ``before``
is those lines as they were before the first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from spark_lsp.nextedit.prompt import RecentEdit

KEPT_EDITS = 3  # a few hundred tokens of diffs


@dataclass(frozen=True)
class UserEdit:
    """Lines [first, last) of the current text replaced ``before``, and now read ``after``."""

    first: int
    last: int
    before: str
    after: str


def edit_between(old: Sequence[str], new: Sequence[str]) -> UserEdit | None:
    """The one span of lines that turns ``old`` into ``new``; None when they are equal."""
    limit = min(len(old), len(new))
    head = 0
    while head < limit and old[head] == new[head]:
        head += 1
    if head == len(old) == len(new):
        return None
    tail = 0
    while tail < limit - head and old[len(old) - 1 - tail] == new[len(new) - 1 - tail]:
        tail += 1
    before = "".join(old[head : len(old) - tail])
    after = "".join(new[head : len(new) - tail])
    return UserEdit(head, len(new) - tail, before, after)


class EditHistory:
    def __init__(self) -> None:
        self._baselines: dict[str, tuple[str, ...]] = {}
        # The text before the last edit, and that edit: the next one may extend it.
        self._origins: dict[str, tuple[tuple[str, ...], UserEdit]] = {}
        self._edits: dict[str, list[RecentEdit]] = {}

    def opened(self, uri: str, lines: Sequence[str]) -> None:
        self.forget(uri)
        self._baselines[uri] = tuple(lines)
        self._edits[uri] = []

    def forget(self, uri: str) -> None:
        self._baselines.pop(uri, None)
        self._origins.pop(uri, None)
        self._edits.pop(uri, None)

    def settle(self, uri: str, path: str, lines: Sequence[str]) -> UserEdit | None:
        """The edit since the last call (None: nothing changed, or the document is unknown,
        which starts its history); the current text becomes the new baseline."""
        baseline = self._baselines.get(uri)
        self._baselines[uri] = tuple(lines)
        if baseline is None:
            self._edits[uri] = []
            return None
        edit = edit_between(baseline, lines)
        if edit is None:
            return None
        kept = self._edits.setdefault(uri, [])
        origin = self._origins.get(uri)
        if origin is not None and _within(edit, origin[1], len(lines) - len(baseline)):
            edit = edit_between(origin[0], lines) or edit
            kept[-1:] = [RecentEdit(path, edit.before, edit.after)]
            self._origins[uri] = (origin[0], edit)
        else:
            kept.append(RecentEdit(path, edit.before, edit.after))
            self._origins[uri] = (baseline, edit)
        del kept[:-KEPT_EDITS]
        return edit

    def earlier(self, uri: str) -> tuple[RecentEdit, ...]:
        """The recent edits before the last one, oldest first."""
        return tuple(self._edits.get(uri, [])[:-1])


def _within(edit: UserEdit, previous: UserEdit, growth: int) -> bool:
    """Whether ``edit`` changed only lines that ``previous`` left (``growth``: how many lines
    the new edit added)."""
    return previous.first <= edit.first and edit.last - growth <= max(
        previous.last, previous.first + 1
    )
