"""The deterministic next edits, tried in order before any model: each answers only where the
edit it repeats is certain, and each is bounded (linear in the text it reads)."""

from __future__ import annotations

from collections.abc import Callable

from spark_lsp.nextedit.call_sites import update_call_sites
from spark_lsp.nextedit.context import EditContext, Prediction
from spark_lsp.nextedit.line_repeat import repeat_line_edit
from spark_lsp.nextedit.substitution import repeat_substitution

Rule = Callable[[EditContext], Prediction | None]


def substitution(context: EditContext) -> Prediction | None:
    """The edit's identifier replacement repeated in the window (substitution.py)."""
    found = repeat_substitution(
        context.lines, context.region, context.edited, context.before, context.after
    )
    return Prediction(found, "substitution") if found is not None else None


def line_repeat(context: EditContext) -> Prediction | None:
    """The edited line's change repeated on the lines like it in the window (line_repeat.py)."""
    found = repeat_line_edit(
        context.lines, context.region, context.edited, context.before, context.after
    )
    return Prediction(found, "line repeat") if found is not None else None


def call_sites(context: EditContext) -> Prediction | None:
    """The function's calls in the file after a parameter changed (call_sites.py): a span of
    its own, wherever the calls are."""
    found = update_call_sites(context.lines, context.edited, context.before, context.after)
    if found is None:
        return None
    first, last, lines = found
    return Prediction(lines, "call sites", span=(first, last))


# In order: a rename's other uses in the window come before its call sites elsewhere.
RULES: dict[str, Rule] = {
    "substitution": substitution,
    "line repeat": line_repeat,
    "call sites": call_sites,
}


def first_certain(context: EditContext) -> Prediction | None:
    for rule in RULES.values():
        found = rule(context)
        if found is not None:
            return found
    return None
