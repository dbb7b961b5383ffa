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

The reversal ratio is the server's own guard, spark_lsp/nextedit/reversal.py (re-exported
here for the bench).
"""

from __future__ import annotations

import re
from collections import Counter

from spark_lsp.nextedit.reversal import (
    REVERSAL_THRESHOLD,
    reversal_ratio,
    reverses_last_edit,
)

__all__ = ["REVERSAL_THRESHOLD", "delta_chrf", "reversal_ratio", "reverses_last_edit"]

CHRF_MAX_ORDER = 6
"""Longest character n-gram scored (Zed's ``CHR_F_CHAR_ORDER``)."""
CHRF_BETA = 2.0
"""Weight of recall against precision in delta-chrF (Zed's CLI ``CHR_F_BETA``)."""
MAX_REGION_CHARS = 100_000
"""Cap on each changed region delta-chrF counts n-grams in (see ``delta_chrf``)."""
"""Reversal ratio from which ``reverses_last_edit`` calls a prediction a reversal."""

_CONTEXT_CHARS = CHRF_MAX_ORDER - 1
_CHUNK = 1_024
# Rust's char::is_whitespace is Unicode White_Space; str.isspace also accepts these four.
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
