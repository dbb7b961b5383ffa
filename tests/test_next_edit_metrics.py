"""The next-edit metrics (bench/next_edit_metrics.py): delta-chrF over the change, and whether
a prediction undoes the user's last edit (Zed's reversal ratio)."""

from __future__ import annotations

import random

import pytest

from spark_lsp.bench.next_edit_metrics import (
    delta_chrf,
    reversal_ratio,
    reverses_last_edit,
)
from spark_lsp.nextedit.reversal import _lcs_length

ORIGINAL = "total = price * count\nprint(total)\n"
EXPECTED = "total = price * count * rate\nprint(total)\n"


# --- delta-chrF -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        (ORIGINAL, EXPECTED),  # an insertion
        (EXPECTED, ORIGINAL),  # a deletion
        ("def f(a):\n    return a\n", "def f(value):\n    return value\n"),  # replacements
        ("", "import os\n"),  # from nothing
        ("x = 1\ny = 2\n", ""),  # to nothing
    ],
)
def test_a_prediction_equal_to_the_expected_text_scores_100(original: str, expected: str) -> None:
    assert delta_chrf(original, expected, expected) == pytest.approx(100.0)


def test_no_change_when_one_is_expected_scores_0() -> None:
    assert delta_chrf(ORIGINAL, ORIGINAL, EXPECTED) == 0.0


def test_a_change_when_none_is_expected_scores_0() -> None:
    assert delta_chrf(ORIGINAL, EXPECTED, ORIGINAL) == 0.0


def test_no_change_expected_and_none_predicted_scores_100() -> None:
    assert delta_chrf(ORIGINAL, ORIGINAL, ORIGINAL) == 100.0
    # Whitespace runs are collapsed first, so these are all "no change".
    assert delta_chrf("a  b\n", "a   b\n", "a \tb\n") == 100.0


def test_a_partial_prediction_scores_strictly_between() -> None:
    half_right = "total = price * count * 2\nprint(total)\n"
    score = delta_chrf(ORIGINAL, half_right, EXPECTED)
    assert 0.0 < score < 100.0


def test_a_closer_prediction_scores_higher() -> None:
    wrong_factor = "total = price * count * 2\nprint(total)\n"
    right_plus_extra = "total = price * count * rate\nprint(total, rate)\n"
    assert delta_chrf(ORIGINAL, wrong_factor, EXPECTED) < delta_chrf(
        ORIGINAL, right_plus_extra, EXPECTED
    )
    assert delta_chrf(ORIGINAL, right_plus_extra, EXPECTED) < 100.0


def test_adding_what_should_be_deleted_earns_nothing() -> None:
    # Added and deleted n-grams are separate classes: a duplicated word is no deletion.
    original = "alpha beta gamma delta"
    assert delta_chrf(original, "alpha beta beta gamma delta", "alpha gamma delta") == 0.0


def test_beta_weighs_recall_against_precision() -> None:
    incomplete = "total = price * count * r\nprint(total)\n"  # precise, low recall
    overreaching = "total = price * count * rate\nprint(total, rate)\n"  # full recall
    assert delta_chrf(ORIGINAL, incomplete, EXPECTED, beta=0.5) > delta_chrf(
        ORIGINAL, incomplete, EXPECTED
    )
    assert delta_chrf(ORIGINAL, overreaching, EXPECTED, beta=0.5) < delta_chrf(
        ORIGINAL, overreaching, EXPECTED
    )


def test_an_exact_transposition_keeps_zeds_quirk() -> None:
    # A swap leaves every 1-gram count unchanged: that order scores P = R = 0, as in Zed.
    text = "xxxxxabyyyyy"
    swapped = "xxxxxbayyyyy"
    assert delta_chrf(text, swapped, swapped) == pytest.approx(100.0 * 5 / 6)


def test_text_far_from_the_change_does_not_move_the_score() -> None:
    padding = "".join(f"line_{i} = {i}\n" for i in range(50_000))
    partial = "total = price * count * 2\nprint(total)\n"
    small = delta_chrf(ORIGINAL, partial, EXPECTED)
    large = delta_chrf(
        padding + ORIGINAL + padding, padding + partial + padding, padding + EXPECTED + padding
    )
    assert large == pytest.approx(small)


def test_a_capped_region_still_scores_an_exact_prediction_100() -> None:
    huge = "".join(f"value_{i}\n" for i in range(20_000))
    assert delta_chrf("", huge, huge, max_region_chars=1_000) == pytest.approx(100.0)
    assert delta_chrf("", "", huge, max_region_chars=1_000) == 0.0


# --- reversal of the last edit ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("before_edit", "after_edit"),
    [
        ("a = 1\n", "a = 1\nb = 2\n"),  # the user added a line
        ("a = 1\nb = 2\nc = 3\n", "a = 1\nc = 3\n"),  # the user deleted one
        ("hello beautiful world", "hello world"),  # deleted a word
        ("keep\ndelete_me\nkeep2", "keep\nadded\nkeep2"),  # replaced a line
        ("from x import y\n", "ifrom x import y\n"),  # typed one stray character
    ],
)
def test_restoring_the_pre_edit_text_is_a_reversal(before_edit: str, after_edit: str) -> None:
    assert reversal_ratio(before_edit, after_edit, before_edit) == pytest.approx(1.0)
    assert reverses_last_edit(before_edit, after_edit, before_edit)


def test_an_unrelated_change_is_not_a_reversal() -> None:
    before, after = "x = 1\ny = 2\nz = 3\n", "x = 10\ny = 2\nz = 3\n"
    predicted = "x = 10\ny = 2\nz = 30\n"
    assert reversal_ratio(before, after, predicted) == 0.0
    assert not reverses_last_edit(before, after, predicted)


def test_continuing_the_users_typing_is_not_a_reversal() -> None:
    assert reversal_ratio("", "epr", "eprintln!()") == 0.0
    assert not reverses_last_edit("", "vec.pu", "vec.push(item)")


def test_predicting_no_change_is_not_a_reversal() -> None:
    assert reversal_ratio("a\n", "a\nb\n", "a\nb\n") == 0.0
    assert not reverses_last_edit("a\n", "a\nb\n", "a\nb\n")


def test_a_restore_lost_in_a_larger_change_is_not_mostly_a_reversal() -> None:
    before, after = "hello beautiful world\n", "hello world\n"
    predicted = "hello beautiful world\n" + "".join(f"extra_{i} = {i}\n" for i in range(5))
    ratio = reversal_ratio(before, after, predicted)
    assert 0.0 < ratio < 0.5
    assert not reverses_last_edit(before, after, predicted)
    assert reverses_last_edit(before, after, predicted, threshold=ratio)


def test_discarding_the_users_new_word_for_another_is_half_a_reversal() -> None:
    before, after, predicted = "the quick brown fox", "the slow brown fox", "the fast brown fox"
    assert reversal_ratio(before, after, predicted) == pytest.approx(0.5)
    assert reverses_last_edit(before, after, predicted)


# Cases from Zed's reversal tests (crates/edit_prediction_cli/src/reversal_tracking.rs):
# (before edit, after edit, prediction, characters undoing the edit, characters changed).
ZED_CASES = [
    ("a\nb\nc", "a\nnew line\nb\nc", "a\nb\nc", 9, 9),
    ("a\ndeleted\nb", "a\nb", "a\ndeleted\nb", 8, 8),
    ("foo", "", "bar", 0, 3),
    ("line1\nline2\nline3", "LINE1\nline2\nline3", "LINE1\nline2\nLINE3", 0, 10),
    ("same", "same", "different", 0, 13),
    ("", "my_function()", "test_my_function()", 0, 5),
    ("", "test_my_function", "a_test_for_my_special_function_plz", 0, 18),
    ("", "a_b_c", "_a__b__c__", 0, 5),
    ("", "abc", "xyz", 3, 6),
    ("", "abc", "cba", 3, 6),
    ("", "abcd", "axbx", 4, 8),
    ("", "use std::col", "use std::collections::HashMap", 0, 17),
    ("", "name: St", "name: String", 0, 4),
    ("", "hello", "world", 5, 10),
    ("", "mistake", "", 7, 7),
    ("", "<dv", "<div>", 0, 2),
    ("from m import F\n", "ifrom m import F\n", "import\nfrom m import F\n", 0, 6),
    ("from", "ifrom", "from", 1, 1),
    ('print("Hi")', 'sys.("Hi")', 'sys.stdout.write("Hi\\n")', 0, 14),
]


@pytest.mark.parametrize(("before", "after", "predicted", "reversing", "changed"), ZED_CASES)
def test_the_ratio_matches_zeds_cases(
    before: str, after: str, predicted: str, reversing: int, changed: int
) -> None:
    assert reversal_ratio(before, after, predicted) == pytest.approx(reversing / changed)


def test_non_ascii_text_counts_characters() -> None:
    assert reversal_ratio("naïve café", "naïve", "naïve café") == pytest.approx(1.0)
    assert reverses_last_edit("données = 1\n", "données = 1\nclé = 2\n", "données = 1\n")


def test_a_large_document_with_a_small_edit() -> None:
    document = "".join(f"line {i} = value_{i}\n" for i in range(100_000))
    edited = document.replace("line 500 =", "line 500 == extra", 1)
    assert reverses_last_edit(document, edited, document)
    assert not reverses_last_edit(document, edited, edited.replace("line 9000 =", "row 9000 =", 1))


def test_the_bit_parallel_lcs_matches_dynamic_programming() -> None:
    def table(a: str, b: str) -> int:
        previous = [0] * (len(b) + 1)
        for x in a:
            current = [0]
            for j, y in enumerate(b):
                current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
            previous = current
        return previous[-1]

    rng = random.Random(7)
    for _ in range(500):
        a = "".join(rng.choices("abcé", k=rng.randint(0, 40)))
        b = "".join(rng.choices("abcé", k=rng.randint(0, 40)))
        assert _lcs_length(a, b) == table(a, b)
