"""Pure metrics for scoring next-edit predictions, after Zed's edit-prediction evaluation.

Every text is a whole document (or the same excerpt of it) as one ``str``, line endings
included; no function reads files or keeps state.

``delta_chrf`` is Zed's delta-chrF (``delta_chr_f`` in
``crates/edit_prediction_cli/src/metrics.rs``, later
``crates/edit_prediction_metrics/src/patch_metrics.rs`` of zed-industries/zed): chrF computed
over the *change* rather than the text. For each n in 1..6 the character n-gram counts of the
original are subtracted from those of the expected text and of the predicted text; n-grams whose
count rose (added) and n-grams whose count fell (deleted) are separate classes, so deleting what
should have been deleted is a hit and keeping it is a miss. Precision and recall of the predicted
deltas against the expected ones are averaged over n, then combined as F-beta (beta = 2, the
value of Zed's CLI metrics; Zed's later crate uses 0.5, hence the keyword).

``reversal_ratio`` is Zed's prediction reversal ratio (``compute_reversal_overlap`` in
``crates/edit_prediction_cli/src/reversal_tracking.rs``, later
``crates/edit_prediction_metrics/src/reversal.rs``): of the characters the prediction changes,
the share that undoes the user's last edit. ``reverses_last_edit`` turns it into a yes/no.

The diffs behind the reversal ratio align lines, then words inside small hunks, then characters,
as Zed's ``language::text_diff`` and ``char_diff`` do; Python's ``difflib`` stands in for Zed's
histogram diff (imara-diff), so a change that can be aligned several ways may be split
differently, and the ratio differ, from Zed's.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter
from difflib import SequenceMatcher
from typing import NamedTuple

CHRF_MAX_ORDER = 6
"""Longest character n-gram scored (Zed's ``CHR_F_CHAR_ORDER``)."""
CHRF_BETA = 2.0
"""Weight of recall against precision in delta-chrF (Zed's CLI ``CHR_F_BETA``)."""
MAX_REGION_CHARS = 100_000
"""Cap on each changed region delta-chrF counts n-grams in (see ``delta_chrf``)."""
REVERSAL_THRESHOLD = 0.5
"""Reversal ratio from which ``reverses_last_edit`` calls a prediction a reversal."""

_CONTEXT_CHARS = CHRF_MAX_ORDER - 1
_MAX_WORD_DIFF_BYTES = 512  # Zed's MAX_WORD_DIFF_LEN
_MAX_WORD_DIFF_LINES = 8  # Zed's MAX_WORD_DIFF_LINE_COUNT
_MAX_CHAR_DIFF_CHARS = 4_096
_CHUNK = 1_024
# Rust's char::is_whitespace is Unicode White_Space; str.isspace also accepts these four.
_NOT_RUST_WHITESPACE = frozenset("\x1c\x1d\x1e\x1f")
_NEWLINE_RUN = re.compile(r"\n+")
_BLANK_RUN = re.compile(r"[^\S\n\x1c-\x1f]+")  # whitespace but newlines and \x1c-\x1f


# --- delta-chrF -------------------------------------------------------------------------------


def delta_chrf(
    original: str,
    predicted: str,
    expected: str,
    *,
    beta: float = CHRF_BETA,
    max_region_chars: int = MAX_REGION_CHARS,
) -> float:
    """Score, 0..100, how well ``original -> predicted`` matches ``original -> expected``.

    Definition (Zed's ``delta_chr_f``):

    * If the three texts are identical the score is 100.
    * Whitespace is collapsed first: a run of whitespace other than newlines becomes one space,
      a run of newlines one newline.
    * For each n in 1..6, the n-gram count delta of each change is ``after - before``; positive
      deltas are "added" n-grams, negative ones "deleted" n-grams, kept apart. True positives are
      ``min(expected, predicted)`` per n-gram and class; the rest of the predicted counts are
      false positives, the rest of the expected ones false negatives. Precision (recall) is 0
      when its denominator is 0.
    * An order at which neither change has any n-gram at all (both texts unchanged after
      collapsing, or the changed regions shorter than n) counts precision = recall = 1.
    * Precision and recall are averaged over the six orders; the score is
      ``100 * (1 + b^2) P R / (b^2 P + R)``, or 0 when ``P + R = 0``.

    Hence: a prediction equal to the expected text scores 100 (Zed's quirk: less if, at some n,
    the expected change leaves every n-gram count as it was, as a transposition does at n = 1);
    no change when one is expected, or a change when none is, scores 0.

    Cost is linear in the texts: the common prefix and suffix of each pair are cut off (keeping
    n - 1 context characters, which leaves the deltas unchanged, as Zed does) and n-grams are
    counted only in what remains. Each remaining region is cut to its first ``max_region_chars``
    characters, an approximation that applies only to changes larger than the cap.
    """
    if original == expected == predicted:
        return 100.0
    base = _collapse_whitespace(original)
    want = _changed_regions(base, _collapse_whitespace(expected), max_region_chars)
    got = _changed_regions(base, _collapse_whitespace(predicted), max_region_chars)
    total_precision = total_recall = 0.0
    for n in range(1, CHRF_MAX_ORDER + 1):
        order_precision, order_recall = _order_scores(want, got, n)
        total_precision += order_precision
        total_recall += order_recall
    precision = total_precision / CHRF_MAX_ORDER
    recall = total_recall / CHRF_MAX_ORDER
    if precision + recall == 0.0:
        return 0.0
    weight = beta * beta
    return 100.0 * (1.0 + weight) * precision * recall / (weight * precision + recall)


def _is_whitespace(char: str) -> bool:
    return char.isspace() and char not in _NOT_RUST_WHITESPACE


def _collapse_whitespace(text: str) -> str:
    """Runs of newlines become one newline, runs of other whitespace one space (as Zed)."""
    return _BLANK_RUN.sub(" ", _NEWLINE_RUN.sub("\n", text))


def _common_prefix_length(a: str, b: str) -> int:
    """Length of the common prefix, compared a chunk at a time (linear, mostly in C)."""
    limit = min(len(a), len(b))
    start = 0
    while start < limit:
        end = min(start + _CHUNK, limit)
        if a[start:end] != b[start:end]:
            while a[start] == b[start]:
                start += 1
            return start
        start = end
    return limit


def _changed_regions(before: str, after: str, cap: int) -> tuple[str, str]:
    """The differing middle of two texts with ``n - 1`` characters of context on each side.

    Each region is cut to its first ``cap`` characters.
    """
    prefix = _common_prefix_length(before, after)
    room = min(len(before), len(after)) - prefix
    suffix = min(_common_prefix_length(before[::-1], after[::-1]), room)
    if prefix == len(before) - suffix and prefix == len(after) - suffix:
        return "", ""
    start = max(prefix - _CONTEXT_CHARS, 0)
    before_end = min(len(before) - suffix + _CONTEXT_CHARS, len(before))
    after_end = min(len(after) - suffix + _CONTEXT_CHARS, len(after))
    return before[start:before_end][:cap], after[start:after_end][:cap]


def _order_scores(want: tuple[str, str], got: tuple[str, str], n: int) -> tuple[float, float]:
    """Precision and recall of the predicted n-gram deltas against the expected ones."""
    if max(len(want[0]), len(want[1]), len(got[0]), len(got[1])) < n:
        return 1.0, 1.0  # neither change has an n-gram: Zed's "both deltas empty"
    want_added, want_deleted = _ngram_delta(*want, n)
    got_added, got_deleted = _ngram_delta(*got, n)
    hits = _overlap(want_added, got_added) + _overlap(want_deleted, got_deleted)
    got_total = got_added.total() + got_deleted.total()
    want_total = want_added.total() + want_deleted.total()
    return (hits / got_total if got_total else 0.0, hits / want_total if want_total else 0.0)


def _ngrams(text: str, n: int) -> Counter[str]:
    return Counter(text[i : i + n] for i in range(len(text) - n + 1))


def _ngram_delta(before: str, after: str, n: int) -> tuple[Counter[str], Counter[str]]:
    """The n-grams whose count rose (added) and fell (deleted) from ``before`` to ``after``."""
    old, new = _ngrams(before, n), _ngrams(after, n)
    return new - old, old - new


def _overlap(expected: Counter[str], actual: Counter[str]) -> int:
    return sum(min(count, actual[gram]) for gram, count in expected.items() if gram in actual)


# --- reversal of the last edit ----------------------------------------------------------------


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
    return 1 if _is_whitespace(char) else 2


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
