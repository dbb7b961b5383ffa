"""One request's own state while the engine serves it: what it asked for, its cancel token, its
clock and deadlines, its figures. Nothing of a request lives on the engine between requests."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from spark_lsp.engine.base import CancelToken, GenerationRequest, GenerationStats, StopReason

NO_DEADLINE = float("inf")


class Aborted(Exception):
    """A decode stopped for ``reason`` after ``evaluated`` of its tokens were computed."""

    def __init__(self, reason: StopReason, evaluated: int) -> None:
        self.reason = reason
        self.evaluated = evaluated


class NoSlot(Exception):
    """The KV cache has no room for the batch; ``evaluated`` tokens were computed before."""

    def __init__(self, evaluated: int) -> None:
        self.evaluated = evaluated


@dataclass
class Run:
    """A request being served (or a cell refresh): the one place that says whether it must stop."""

    request: GenerationRequest
    cancel: CancelToken
    key: str
    started: float = field(default_factory=time.perf_counter)
    stats: GenerationStats = field(default_factory=GenerationStats)
    # The deadline decodes check: the prompt's while it is evaluated, none afterwards (the
    # token loop checks the prediction's own deadline between tokens).
    deadline: float = NO_DEADLINE

    def stop_reason(self, deadline: float | None = None) -> StopReason | None:
        """Why the run must stop now (cancelled, preempted, past ``deadline`` or the run's
        own), or None: the one check behind every stop of the engine."""
        if self.cancel.cancelled:
            return StopReason.CANCELLED
        if self.cancel.preempted:
            return StopReason.PREEMPTED
        if time.perf_counter() > (self.deadline if deadline is None else deadline):
            return StopReason.TIME_BUDGET
        return None

    def since_start_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000


def deadline_after(start: float, budget_ms: float | None) -> float:
    """``budget_ms`` after ``start``; no deadline for a budget of 0."""
    return start + budget_ms / 1000 if budget_ms else NO_DEADLINE
