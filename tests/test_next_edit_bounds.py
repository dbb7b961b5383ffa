"""Next edits under hostile input: repetitive or huge edits are compared in linear time or not
at all, and a large document is parsed around the region only."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from spark_lsp.nextedit import gate
from spark_lsp.nextedit.history import MAX_EDIT_CHARS
from spark_lsp.nextedit.predictor import region_around
from spark_lsp.nextedit.substitution import repeat_substitution, substitution

GENERATED = "x = y + z\n"
SHUFFLED = "y = z + x\n"


def _lines(text: str) -> tuple[str, ...]:
    return tuple(text.splitlines(keepends=True))


# -- the substitution and the gate: bounded work -------------------------------------------


def _best_time(call: Callable[[], object], runs: int = 5) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - started)
    return best


def test_repetitive_text_is_compared_in_linear_time() -> None:
    # Ten times the lines took 3000 times as long with difflib (14 s for 300 lines).
    assert substitution(GENERATED * 300, SHUFFLED * 300) is None
    assert substitution("x = x + x\n" * 600, "y = y + y\n" * 600) == ("x", "y")
    short = _best_time(lambda: substitution(GENERATED * 30, SHUFFLED * 30))
    long = _best_time(lambda: substitution(GENERATED * 300, SHUFFLED * 300))
    assert long < 40 * short


def test_an_edit_past_the_cap_has_no_substitution() -> None:
    lines = MAX_EDIT_CHARS // 20 + 1  # lines of 10 characters, old and new
    assert substitution("a = count\n" * (lines // 2), "a = total\n" * (lines // 2)) == (
        "count",
        "total",
    )
    assert substitution("a = count\n" * lines, "a = total\n" * lines) is None


def test_a_rename_is_repeated_outside_the_prose_of_a_long_line() -> None:
    line = "f(count, 'count', count)  # count\n"
    lines = ["count = 1\n", line, line.rstrip("\n") * 2000 + "\n"]
    found = repeat_substitution(lines, (0, 3), (0, 1), "count = 1\n", "total = 1\n")
    assert found is not None
    assert found[1] == "f(total, 'count', total)  # count\n"
    # Only the first call on the long line is code: the rest follows its comment sign.
    assert found[2].startswith("f(total, 'count', total)  # countf(count, 'count', count)")
    assert found[2].count("total") == 2


def test_a_large_document_is_parsed_around_the_region_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    block = "def f(count):\n    total = count + 1\n    return total\n"
    lines = list(_lines(block * 10_000))  # 480 KB
    middle = 15_000
    lines[middle + 1] = "    total = amount + 1\n"
    parsed: list[int] = []
    error_count = gate.syntax.error_count

    def counted(language: str, text: str) -> int | None:
        parsed.append(len(text))
        return error_count(language, text)

    monkeypatch.setattr(gate.syntax, "error_count", counted)
    region = region_around(lines, (middle, middle + 3), 30)
    first, last = region
    predicted = [line.replace("count", "amount") for line in lines[first:last]]
    assert gate.worth_showing("python", lines, region, predicted, "count", "amount")
    broken = [*predicted[:-1], "    return (total\n"]
    assert not gate.worth_showing("python", lines, region, broken, "count", "amount")
    assert parsed and max(parsed) <= gate.MAX_PARSED_CHARS
