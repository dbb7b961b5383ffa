"""Whether a predicted next version of a region is worth showing: it parses (no more syntax
errors than the document had), it changes something, and it does not undo the user's edit."""

from __future__ import annotations

from collections.abc import Sequence

from spark_lsp import syntax


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
    before_errors = syntax.error_count(language, "".join(lines))
    after_errors = syntax.error_count(
        language, "".join([*lines[:first], *predicted, *lines[last:]])
    )
    return before_errors is None or after_errors is None or after_errors <= before_errors
