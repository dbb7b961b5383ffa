"""How fast the engine evaluates prompt tokens on this machine, measured, never assumed: a probe
when the model has loaded, then every model call that evaluated enough tokens to tell. A cold
document's first prompt gets what this rate evaluates in ``COLD_WINDOW_S`` (progressive
context: the rest of the window grows in the background while the user pauses).

The probe runs at the lowest priority, so the user's first request cancels it rather than wait
for it; until a figure exists, a cold window gets ``UNMEASURED_COLD_TOKENS`` (about half a
second on a 2-core AVX-512 CPU), and the probe tries again once the worker is idle."""

from __future__ import annotations

import asyncio
import logging

from spark_lsp.engine import GenerationRequest, GenerationStats, Priority, StopReason, TextPrompt
from spark_lsp.engine.worker import InferenceWorker, run_job

logger = logging.getLogger(__name__)

COLD_WINDOW_S = 0.5  # a cold document's first prompt costs about this much evaluation
MIN_COLD_TOKENS = 64  # below this the model sees too little to answer anything
MIN_MEASURED_TOKENS = 48  # fewer evaluated tokens say more about overheads than about the rate
NEW_WEIGHT = 0.25  # of a new measurement in the running estimate
UNMEASURED_COLD_TOKENS = 2 * MIN_COLD_TOKENS  # while no figure exists yet
PROBE_ATTEMPTS = 5  # a probe cancelled by requests tries again, this many times in all
PROBE_RETRY_S = 2.0  # after this long
PROBE_KEY = "spark-lsp:prompt-rate"
# About 130 tokens of ordinary code: the probe's prompt (nothing of the user's).
PROBE_TEXT = "".join(
    f"def step_{index}(values: list[int], factor: int = {index}) -> list[int]:\n"
    f'    """Scale the values by {index} and keep the positive ones."""\n'
    "    return [value * factor for value in values if value > 0]\n\n"
    for index in range(4)
)


def running_estimate(current: float | None, measured: float) -> float:
    """A rate's estimate after one more measurement (the first one is taken as it is)."""
    return measured if current is None else current + NEW_WEIGHT * (measured - current)


class PromptRate:
    def __init__(self) -> None:
        self.tokens_per_s: float | None = None
        self._probe: asyncio.Future[None] | None = None
        # The engine answered the probe without a prompt time: nothing can be measured.
        self._unmeasurable = False

    def observe(self, stats: GenerationStats) -> None:
        if stats.tokens_evaluated < MIN_MEASURED_TOKENS or stats.prompt_eval_ms <= 0:
            return
        measured = stats.tokens_evaluated / (stats.prompt_eval_ms / 1000)
        self.tokens_per_s = running_estimate(self.tokens_per_s, measured)

    def cold_budget(self) -> int | None:
        """The prompt tokens a cold document's first request may evaluate; None: no cap (the
        engine does not report its prompt time, so nothing can be said)."""
        if self.tokens_per_s is not None:
            return max(MIN_COLD_TOKENS, int(self.tokens_per_s * COLD_WINDOW_S))
        if self._unmeasurable or self._probe is None:
            return None
        return UNMEASURED_COLD_TOKENS

    def start_probe(self, worker: InferenceWorker) -> None:
        """Measure once the model has loaded (at the lowest priority: a request preempts it)."""
        if self._probe is None:
            self._probe = asyncio.ensure_future(self._measure(worker))

    def stop(self) -> None:
        """The session ends: a probe still under way is dropped."""
        if self._probe is not None:
            self._probe.cancel()

    async def _measure(self, worker: InferenceWorker) -> None:
        for attempt in range(PROBE_ATTEMPTS):
            if attempt:
                await asyncio.sleep(PROBE_RETRY_S)
            if self.tokens_per_s is not None:  # a request measured it meanwhile
                return
            request = GenerationRequest(
                TextPrompt(PROBE_TEXT),
                max_tokens=1,
                priority=Priority.WARMUP,
                key=f"{PROBE_KEY}#{attempt}",  # no cells of a cancelled attempt reused
                supersedes=False,
            )
            result = await run_job(worker.submit(request))
            if result.stop_reason is StopReason.FAILED:
                logger.info("prompt rate probe failed: %s", result.error)
                return
            if result.stop_reason is StopReason.CANCELLED:
                continue  # a request came first; try again after a pause
            self.observe(result.stats)
            if self.tokens_per_s is not None:
                logger.info("prompt evaluation: %.0f tokens/s", self.tokens_per_s)
                return
            if result.stats.prompt_eval_ms <= 0:
                self._unmeasurable = True  # the engine does not say how long a prompt took
                return
