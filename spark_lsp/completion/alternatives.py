"""Completion's rules for alternatives (other suggestions beside the best one, for an Invoked
request): how long the engine may spend on them, and which of its raw continuations are shown.
The engine only decodes them (engine/llama/alternatives.py) within the allowance given here."""

from __future__ import annotations

import math
from collections.abc import Callable

from spark_lsp.completion.cursor import CursorState, finish
from spark_lsp.engine.base import GenerationResult, GenerationStats, StopReason

# Alternatives add at most this share of a request's own time (see alternatives_allowance_ms).
ALTERNATIVES_SHARE = 0.1
# An alternative that ended for one of these is unfinished: a half line is never shown.
UNFINISHED = frozenset({StopReason.TIME_BUDGET, StopReason.CANCELLED, StopReason.PREEMPTED})


def alternatives_allowance_ms(stats: GenerationStats) -> float:
    """How long alternatives may take after the main answer: a tenth of its time, so that a
    cold request (a prompt to evaluate) costs at most 1.1 times one without; or, when the
    answer's decode outlasted its prompt's evaluation (a warm request: the cache held the
    prompt), the difference: about the answer's own time again."""
    decode_ms = stats.total_ms - stats.prompt_eval_ms
    return max(ALTERNATIVES_SHARE * stats.total_ms, decode_ms - stats.prompt_eval_ms)


def allowance_for(state: CursorState, cold: bool = False) -> Callable[[GenerationResult], float]:
    """The allowance of a request at ``state``: ``alternatives_allowance_ms`` (none at all for
    a ``cold`` document's request: the first suggestion in a file is the one a user waits for
    most), or when the main answer will not be shown (post-processing drops it: a copy of the
    line below, say) no limit but the predict budget, since an alternative is then the only
    answer there is (and which one is shown must not depend on how fast the machine was)."""

    def allowance(main: GenerationResult) -> float:
        if finish(main.text, state) is None:
            return math.inf
        return 0.0 if cold else alternatives_allowance_ms(main.stats)

    return allowance


def shown_alternatives(
    result: GenerationResult, state: CursorState, main: str | None
) -> tuple[str, ...]:
    """The texts to show beside ``main``: each finished alternative post-processed like the
    main answer, those that become empty or repeat another dropped."""
    shown: list[str] = []
    for raw, stop in zip(result.alternatives, result.alternative_stops, strict=True):
        if stop in UNFINISHED:
            continue
        text = finish(raw, state)
        if text is not None and text != main and text not in shown:
            shown.append(text)
    return tuple(shown)
