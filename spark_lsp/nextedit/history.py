"""Each open document's recent edits, for next-edit prediction.

The document as it was when the last prediction was asked (or when it opened) is the baseline;
the user's edit is what differs between it and the current text: the lines from the first to the
last that changed. It is found by comparing line tuples from both ends, whatever granularity
the client's didChange notifications had. Edits that stay on the lines of the one before (a
word deleted, then its replacement typed, with a pause between) are one edit: its ``before``
is those lines as they were before the first.

An edit longer than MAX_EDIT_CHARS (a paste, a file replaced by a formatter) is no input for a
next edit: it is reported as oversized and kept without its text, so no prompt carries it.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Sequence
from dataclasses import dataclass

from spark_lsp.nextedit.recent import RecentEdit

KEPT_EDITS = 3  # a few hundred tokens of diffs
MAX_EDIT_CHARS = 20_000  # old and new text together


@dataclass(frozen=True)
class UserEdit:
    """Lines [first, last) of the current text replaced ``before``, and now read ``after``."""

    first: int
    last: int
    before: str
    after: str

    @property
    def oversized(self) -> bool:
        return len(self.before) + len(self.after) > MAX_EDIT_CHARS


def edit_between(old: Sequence[str], new: Sequence[str]) -> UserEdit | None:
    """The one span of lines that turns ``old`` into ``new``; None when they are equal."""
    limit = min(len(old), len(new))
    head = _shared_run(old, new, limit, from_end=False)
    if head == len(old) == len(new):
        return None
    tail = _shared_run(old, new, limit - head, from_end=True)
    before = "".join(old[head : len(old) - tail])
    after = "".join(new[head : len(new) - tail])
    return UserEdit(head, len(new) - tail, before, after)


def _shared_run(old: Sequence[str], new: Sequence[str], limit: int, from_end: bool) -> int:
    """How many lines (at most ``limit``) ``old`` and ``new`` share at their start, or at their
    end. The lines are compared by C iterators, not a Python loop: a megabyte of them costs
    the event loop a millisecond or two."""
    pairs = (
        map(operator.ne, reversed(old), reversed(new)) if from_end else map(operator.ne, old, new)
    )
    first_difference = next(itertools.compress(itertools.count(), pairs), limit)
    return min(first_difference, limit)


class EditHistory:
    """Owned by the event loop (only its code calls these methods); what it returns is
    immutable, for work off the loop to read."""

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

    def is_open(self, uri: str) -> bool:
        """Whether the document was opened and not forgotten since."""
        return uri in self._baselines

    def documents(self) -> set[str]:
        """The documents it keeps anything of."""
        return self._baselines.keys() | self._origins.keys() | self._edits.keys()

    def settle(self, uri: str, path: str, lines: Sequence[str]) -> UserEdit | None:
        """The edit since the last call (None: nothing changed, or the document is not open:
        nothing is kept of it); the current text becomes the new baseline."""
        baseline = self._baselines.get(uri)
        if baseline is None:
            return None
        self._baselines[uri] = tuple(lines)
        edit = edit_between(baseline, lines)
        if edit is None:
            return None
        kept = self._edits.setdefault(uri, [])
        origin = self._origins.get(uri)
        if (
            origin is not None
            and not origin[1].oversized  # an edit inside a replaced file is an edit of its own
            and _within(edit, origin[1], len(lines) - len(baseline))
        ):
            edit = edit_between(origin[0], lines) or edit
            kept[-1:] = [_kept(path, edit)]
            self._origins[uri] = (origin[0], edit)
        else:
            kept.append(_kept(path, edit))
            self._origins[uri] = (baseline, edit)
        del kept[:-KEPT_EDITS]
        return edit

    def earlier(self, uri: str) -> tuple[RecentEdit, ...]:
        """The recent edits before the last one, oldest first (oversized ones left out)."""
        return tuple(edit for edit in self._edits.get(uri, [])[:-1] if edit.before or edit.after)


def _kept(path: str, edit: UserEdit) -> RecentEdit:
    """The edit as the history keeps it: an oversized one without its text."""
    return RecentEdit(path, "", "") if edit.oversized else RecentEdit(path, edit.before, edit.after)


def _within(edit: UserEdit, previous: UserEdit, growth: int) -> bool:
    """Whether ``edit`` changed only lines that ``previous`` left (``growth``: how many lines
    the new edit added)."""
    return previous.first <= edit.first and edit.last - growth <= max(
        previous.last, previous.first + 1
    )
