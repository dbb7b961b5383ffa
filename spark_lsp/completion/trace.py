"""Where one request's time went: each request has its own trace, so concurrent requests never
write into one record; the service publishes the newest finished one (``bench latency --lsp``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from spark_lsp.engine import GenerationResult


@dataclass
class RequestTrace:
    phases: dict[str, float] = field(default_factory=dict)  # milliseconds, in the order met

    def record(self, phase: str, start: float, end: float | None = None) -> None:
        self.phases[phase] = ms_between(start, time.perf_counter() if end is None else end)

    @contextmanager
    def timed(self, phase: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.record(phase, start)

    def record_engine(self, submitted: float, result: GenerationResult) -> None:
        """The model call's share: the engine's own phases, its alternatives (decoded after the
        main answer), and the wait for the worker (queue and thread hand-offs) as the rest."""
        stats = result.stats
        for name, spent in stats.phases().items():
            self.phases[f"engine: {name}"] = spent
        if stats.alternatives_ms:
            self.phases["engine: alternatives"] = round(stats.alternatives_ms, 3)
        waited = ms_between(submitted, time.perf_counter()) - stats.total_ms - stats.alternatives_ms
        self.phases["worker queue and hand-off"] = max(0.0, waited)


def ms_between(start: float, end: float) -> float:
    return round((end - start) * 1000, 3)
