"""Whether a predicted next version of a window is worth showing. Each guard has a name (the
bench measures them one by one, ``bench next-edit``), in the order they are checked:

- identical: the prediction changes nothing (no suggestion);
- reversal: the prediction undoes the user's edit (its text gone and the old text back, or at
  least half of what it changes undoing the edit: Zed's reversal ratio, reversal.py);
- anchor: the answer's first line copies a line more than a quarter into the window (it lost
  its place: cursortab's rule);
- truncation: an answer cut short wrote less than three quarters of the window (cursortab's);
- confidence: the model's mean log-probability of the changed lines is below the threshold;
- syntax: the document has more syntax errors with the prediction than without.

Parsing holds the GIL (a megabyte of Python takes a third of a second), so only a document of
up to MAX_PARSED_CHARS is parsed whole; a larger one is checked on the window and up to
CONTEXT_LINES lines either side, and a window too long even for that is not shown.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from spark_lsp import syntax
from spark_lsp.nextedit.context import EditContext, Prediction
from spark_lsp.nextedit.reversal import reverses_last_edit

MAX_PARSED_CHARS = 16_000
CONTEXT_LINES = 100
GUARDS = ("identical", "reversal", "anchor", "truncation", "confidence", "syntax")
# Below this many window lines, cursortab checks neither the anchor nor the truncation.
SHORT_WINDOW = 10
ANCHOR_RATIO = 0.25
KEPT_RATIO = 0.75


def refusal(
    context: EditContext,
    found: Prediction,
    min_confidence: float | None,
    skip: Collection[str] = (),
) -> str | None:
    """The first guard (not in ``skip``) that refuses ``found``, or None when it may be shown."""
    first, last = found.rewritten(context)
    current = list(context.lines[first:last])
    checks = {
        "identical": lambda: found.lines == current,
        "reversal": lambda: _reverses(context, found),
        "anchor": lambda: (
            len(current) > SHORT_WINDOW and found.anchor > int(len(current) * ANCHOR_RATIO)
        ),
        "truncation": lambda: (
            found.complete < 1.0 and (len(current) > SHORT_WINDOW and found.complete < KEPT_RATIO)
        ),
        "confidence": lambda: (
            min_confidence is not None
            and found.confidence is not None
            and found.confidence < min_confidence
        ),
        "syntax": lambda: not _parses(context.language, context.lines, (first, last), found.lines),
    }
    return next((name for name in GUARDS if name not in skip and checks[name]()), None)


def _reverses(context: EditContext, found: Prediction) -> bool:
    """Whether the prediction undoes the user's edit: the edit's text gone and the old text
    back, or (a window's rewrite) at least half of what it changes undoing the edit
    (reversal.py, Zed's reversal ratio)."""
    text = "".join(found.lines)
    old, new = context.before.strip(), context.after.strip()
    if old and new and new not in text and old in text:
        return True
    if found.span is not None and found.span != context.region:
        return False  # elsewhere in the file: the edit's own lines are not in it
    before = "".join(context.window_before_edit())
    return reverses_last_edit(before, "".join(context.window), text)


def _parses(
    language: str, lines: Sequence[str], region: tuple[int, int], predicted: Sequence[str]
) -> bool:
    first, last = region
    growth = len("".join(predicted)) - len("".join(lines[first:last]))
    checked = _checked_lines(lines, region, growth)
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
