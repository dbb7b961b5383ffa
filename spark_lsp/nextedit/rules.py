"""The deterministic next edits, tried in order before any model: each answers only where the
edit it repeats is certain, and each is bounded (linear in the text it reads)."""

from __future__ import annotations

from collections.abc import Callable

from spark_lsp.nextedit.context import EditContext, Prediction
from spark_lsp.nextedit.substitution import repeat_substitution

Rule = Callable[[EditContext], Prediction | None]


def substitution(context: EditContext) -> Prediction | None:
    """The edit's identifier replacement repeated in the window (substitution.py)."""
    found = repeat_substitution(
        context.lines, context.region, context.edited, context.before, context.after
    )
    return Prediction(found, "substitution") if found is not None else None


RULES: dict[str, Rule] = {"substitution": substitution}


def first_certain(context: EditContext) -> Prediction | None:
    for rule in RULES.values():
        found = rule(context)
        if found is not None:
            return found
    return None
