"""Whether a predicted next version of a region is worth showing: it parses (no more syntax
errors than the document had), it changes something, and it does not undo the user's edit.

Parsing holds the GIL (a megabyte of Python takes a third of a second), so only a document of
up to MAX_PARSED_CHARS is parsed whole; a larger one is checked on the region and up to
CONTEXT_LINES lines either side, and a region too long even for that is not shown.
"""

from __future__ import annotations

from collections.abc import Sequence

from spark_lsp import syntax

MAX_PARSED_CHARS = 16_000
CONTEXT_LINES = 100


def worth_showing(
    language: str,
    lines: Sequence[str],
    region: tuple[int, int],
    predicted: Sequence[str],
    edit_before: str,
    edit_after: str,
) -> bool:
    first, last = region
    current = list(lines[first:last])
    if list(predicted) == current:
        return False
    predicted_text = "".join(predicted)
    old, new = edit_before.strip(), edit_after.strip()
    if old and new and new not in predicted_text and old in predicted_text:
        return False  # the edit's text is gone and the old text is back: an undo
    checked = _checked_lines(lines, region, len(predicted_text) - len("".join(current)))
    if checked is None:
        return False
    start, end = checked
    before_errors = syntax.error_count(language, "".join(lines[start:end]))
    after_errors = syntax.error_count(
        language, "".join([*lines[start:first], *predicted, *lines[last:end]])
    )
    return before_errors is None or after_errors is None or after_errors <= before_errors


def _checked_lines(
    lines: Sequence[str], region: tuple[int, int], growth: int
) -> tuple[int, int] | None:
    """The lines whose syntax is compared: the whole document when it is short enough to
    parse, else the region with the lines around it that fit; None when not even the region
    (once predicted: ``growth`` more characters) fits."""
    first, last = region
    budget = MAX_PARSED_CHARS - max(growth, 0)
    if _total_at_most(lines, budget):
        return 0, len(lines)
    start, end = first, last
    budget -= sum(map(len, lines[first:last]))
    if budget < 0:
        return None
    for _ in range(CONTEXT_LINES):
        widened = False
        if start > 0 and len(lines[start - 1]) <= budget:
            start -= 1
            budget -= len(lines[start])
            widened = True
        if end < len(lines) and len(lines[end]) <= budget:
            budget -= len(lines[end])
            end += 1
            widened = True
        if not widened:
            break
    return start, end


def _total_at_most(lines: Sequence[str], budget: int) -> bool:
    """Whether the lines hold at most ``budget`` characters (read only until they do not)."""
    for line in lines:
        budget -= len(line)
        if budget < 0:
            return False
    return True
