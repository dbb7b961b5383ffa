"""Comparing the cost of two calls in a test (never against the clock: machines are shared)."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_time(call: Callable[[], object], runs: int = 5) -> float:
    """The fastest of ``runs`` calls, in seconds: the least disturbed by other work."""
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - started)
    return best
