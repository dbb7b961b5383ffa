"""Whether a next-edit prediction undoes the user's last edit: Zed's prediction reversal ratio
(``compute_reversal_overlap`` in ``crates/edit_prediction_cli/src/reversal_tracking.rs``, later
``crates/edit_prediction_metrics/src/reversal.rs`` of zed-industries/zed): of the characters the
prediction changes, the share that undoes the user's last edit. ``reverses_last_edit`` turns it
into a yes/no; the gate refuses such predictions, and ``bench next-edit`` reports their rate.

The diffs align lines, then words inside small hunks, then characters, as Zed's
``language::text_diff`` and ``char_diff`` do; Python's ``difflib`` stands in for Zed's histogram
diff (imara-diff), so a change that can be aligned several ways may be split differently, and
the ratio differ, from Zed's. Texts are whole excerpts as one ``str``, line endings included.
"""

from __future__ import annotations

from bisect import bisect_left
from difflib import SequenceMatcher
from typing import NamedTuple

REVERSAL_THRESHOLD = 0.5
_MAX_WORD_DIFF_BYTES = 512  # Zed's MAX_WORD_DIFF_LEN
_MAX_WORD_DIFF_LINES = 8  # Zed's MAX_WORD_DIFF_LINE_COUNT
_MAX_CHAR_DIFF_CHARS = 4_096
_NOT_RUST_WHITESPACE = frozenset("\x1c\x1d\x1e\x1f")


def is_whitespace(char: str) -> bool:
    return char.isspace() and char not in _NOT_RUST_WHITESPACE


class _Edit(NamedTuple):
    """Replace ``old`` at character offset ``start`` of the old text with ``new``."""

    start: int
    old: str
    new: str

    @property
    def end(self) -> int:
        return self.start + len(self.old)


def reversal_ratio(before_edit: str, after_edit: str, predicted: str) -> float:
    """Share, 0..1, of the prediction's changed characters that undo the user's last edit.

    ``before_edit`` is the text before the user's edit, ``after_edit`` the text after it (what
    the predictor saw), ``predicted`` the predictor's text. Definition (Zed's
    ``compute_reversal_overlap``):

    * Both changes (``before_edit -> after_edit``, the user's; ``after_edit -> predicted``, the
      prediction's) are diffed into edits: lines, then words within hunks of at most 8 lines and
      512 bytes a side, then each replacement whose one side keeps the other in order (typing
      "epr" into "eprintln!()") is narrowed to its inserted or deleted characters.
    * A prediction edit reverses, for each character it removes from text the user inserted,
      one character; and where it inserts text at the place the user deleted some, as many
      characters as the longest common subsequence of the deleted and the inserted text.
    * The ratio is those characters over all the characters the prediction removes and inserts;
      0 when the prediction changes nothing.

    Restoring ``before_edit`` normally gives 1; replacing the user's new text with other text
    gives about 0.5; an edit elsewhere gives 0. Cost grows with the changed lines only: lines
    common to the three texts at the start and the end are set aside first, and replacements
    over 4,096 characters a side are not narrowed to characters.
    """
    before_edit, after_edit, predicted = _trim_common_lines(before_edit, after_edit, predicted)
    history = _narrow_edits(_text_diff(before_edit, after_edit))
    prediction = _narrow_edits(_text_diff(after_edit, predicted))
    total = sum(len(edit.old) + len(edit.new) for edit in prediction)
    if total == 0:
        return 0.0
    added, deleted = _history_in_current(history)
    reversing = _removed_user_text(added, prediction) + _restored_deletions(deleted, prediction)
    return reversing / total


def reverses_last_edit(
    before_edit: str, after_edit: str, predicted: str, *, threshold: float = REVERSAL_THRESHOLD
) -> bool:
    """Whether the prediction undoes, fully or mostly, the user's last edit.

    True when ``reversal_ratio(before_edit, after_edit, predicted)`` is positive and at least
    ``threshold`` (0.5: half or more of what the prediction changes undoes the user's edit).
    Zed reports the ratio itself (averaged over examples); the threshold is this module's.
    """
    ratio = reversal_ratio(before_edit, after_edit, predicted)
    return ratio > 0.0 and ratio >= threshold


def _split_lines(text: str) -> list[str]:
    """Lines with their ``\\n`` terminators (only ``\\n`` ends a line, as in Zed's diff)."""
    lines = text.split("\n")
    last = lines.pop()
    lines = [line + "\n" for line in lines]
    if last:
        lines.append(last)
    return lines


def _trim_common_lines(*texts: str) -> list[str]:
    """Drop the leading and trailing whole lines all the texts share (offsets shift alike)."""
    split = [_split_lines(text) for text in texts]
    shortest = min(len(lines) for lines in split)
    head = 0
    while head < shortest and all(lines[head] == split[0][head] for lines in split):
        head += 1
    tail = 0
    while tail < shortest - head and all(
        lines[-1 - tail] == split[0][-1 - tail] for lines in split
    ):
        tail += 1
    return ["".join(lines[head : len(lines) - tail]) for lines in split]


def _diff_tokens(old: list[str], new: list[str]) -> list[tuple[int, int, int, int]]:
    """Changed spans between two token lists, as character ranges ``(o0, o1, n0, n1)``."""
    old_at = [0]
    for token in old:
        old_at.append(old_at[-1] + len(token))
    new_at = [0]
    for token in new:
        new_at.append(new_at[-1] + len(token))
    matcher = SequenceMatcher(None, old, new, autojunk=False)
    return [
        (old_at[i1], old_at[i2], new_at[j1], new_at[j2])
        for tag, i1, i2, j1, j2 in matcher.get_opcodes()
        if tag != "equal"
    ]


def _char_kind(char: str) -> int:
    if char.isalnum() or char == "_":
        return 0
    return 1 if is_whitespace(char) else 2


def _words(text: str) -> list[str]:
    """Zed's word tokens: runs of word characters, of whitespace, of one punctuation mark."""
    tokens: list[str] = []
    start = 0
    for index in range(1, len(text)):
        kind, prev = _char_kind(text[index]), _char_kind(text[index - 1])
        if kind != prev or (kind == 2 and text[index] != text[index - 1]):
            tokens.append(text[start:index])
            start = index
    if start < len(text):
        tokens.append(text[start:])
    return tokens


def _text_diff(old: str, new: str) -> list[_Edit]:
    """Line diff, refined to a word diff inside small hunks (Zed's ``text_diff``)."""
    old_lines, new_lines = _split_lines(old), _split_lines(new)
    edits: list[_Edit] = []
    for o0, o1, n0, n1 in _diff_tokens(old_lines, new_lines):
        old_part, new_part = old[o0:o1], new[n0:n1]
        small = (
            old_part
            and new_part
            and len(old_part.encode()) <= _MAX_WORD_DIFF_BYTES
            and len(new_part.encode()) <= _MAX_WORD_DIFF_BYTES
            and old_part.count("\n") <= _MAX_WORD_DIFF_LINES
            and new_part.count("\n") <= _MAX_WORD_DIFF_LINES
        )
        if not small:
            edits.append(_Edit(o0, old_part, new_part))
            continue
        for w0, w1, v0, v1 in _diff_tokens(_words(old_part), _words(new_part)):
            edits.append(_Edit(o0 + w0, old_part[w0:w1], new_part[v0:v1]))
    return edits


def _narrow_edits(edits: list[_Edit]) -> list[_Edit]:
    """Split a replacement into its characters when it only inserts or only deletes some."""
    narrowed: list[_Edit] = []
    for edit in edits:
        if not edit.old or not edit.new or max(len(edit.old), len(edit.new)) > _MAX_CHAR_DIFF_CHARS:
            narrowed.append(edit)
            continue
        spans = _diff_tokens(list(edit.old), list(edit.new))
        inserts = all(o0 == o1 and n0 < n1 for o0, o1, n0, n1 in spans)
        deletes = all(o0 < o1 and n0 == n1 for o0, o1, n0, n1 in spans)
        if spans and (inserts or deletes):
            narrowed.extend(
                _Edit(edit.start + o0, edit.old[o0:o1], edit.new[n0:n1]) for o0, o1, n0, n1 in spans
            )
        else:
            narrowed.append(edit)
    return narrowed


def _history_in_current(
    history: list[_Edit],
) -> tuple[list[tuple[int, int]], list[tuple[int, str]]]:
    """Where the user's inserted text lies in the current text, and where text was deleted."""
    added: list[tuple[int, int]] = []
    deleted: list[tuple[int, str]] = []
    shift = 0
    for edit in history:
        at = edit.start + shift
        if edit.new:
            added.append((at, at + len(edit.new)))
        if edit.old:
            deleted.append((at, edit.old))
        shift += len(edit.new) - len(edit.old)
    return added, deleted


def _removed_user_text(added: list[tuple[int, int]], prediction: list[_Edit]) -> int:
    """Characters of user-inserted text that the prediction's edits remove or replace."""
    ends = [end for _, end in added]
    count = 0
    for edit in prediction:
        index = bisect_left(ends, edit.start + 1)
        while index < len(added) and added[index][0] < edit.end:
            start, end = added[index]
            count += max(0, min(end, edit.end) - max(start, edit.start))
            index += 1
    return count


def _restored_deletions(deleted: list[tuple[int, str]], prediction: list[_Edit]) -> int:
    """Characters of user-deleted text the prediction inserts back at the deletion's place."""
    positions = [at for at, _ in deleted]
    count = 0
    for edit in prediction:
        if not edit.new:
            continue
        index = bisect_left(positions, edit.start)
        while index < len(deleted) and deleted[index][0] < max(edit.end, edit.start + 1):
            count += _lcs_length(deleted[index][1], edit.new)
            index += 1
    return count


def _lcs_length(a: str, b: str) -> int:
    """Longest common subsequence length, bit-parallel (Hyyrö): O(len(a) * len(b) / 64)."""
    if not a or not b:
        return 0
    masks: dict[str, int] = {}
    for index, char in enumerate(b):
        masks[char] = masks.get(char, 0) | (1 << index)
    full = (1 << len(b)) - 1
    row = full
    for char in a:
        matched = row & masks.get(char, 0)
        row = ((row + matched) | (row - matched)) & full
    return len(b) - row.bit_count()
