"""How fast the engine evaluates prompt tokens on this machine, measured, never assumed: a probe
when the model has loaded, then every model call that evaluated enough tokens to tell. A cold
document's first prompt gets what this rate evaluates in ``COLD_WINDOW_S`` (progressive
context: the rest of the window grows in the background while the user pauses)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from spark_lsp.engine import GenerationRequest, GenerationStats, Priority, StopReason, TextPrompt
from spark_lsp.engine.worker import InferenceWorker, run_job

logger = logging.getLogger(__name__)

COLD_WINDOW_S = 0.5  # a cold document's first prompt costs about this much evaluation
MIN_COLD_TOKENS = 64  # below this the model sees too little to answer anything
MIN_MEASURED_TOKENS = 48  # fewer evaluated tokens say more about overheads than about the rate
NEW_WEIGHT = 0.25  # of a new measurement in the running estimate
PROBE_WAIT_S = 2.0  # the longest a first request waits for the probe's figure
UNMEASURED_COLD_TOKENS = 4 * MIN_COLD_TOKENS  # while the probe has said nothing yet
PROBE_KEY = "spark-lsp:prompt-rate"
# About 130 tokens of ordinary code: the probe's prompt (nothing of the user's).
PROBE_TEXT = "".join(
    f"def step_{index}(values: list[int], factor: int = {index}) -> list[int]:\n"
    f'    """Scale the values by {index} and keep the positive ones."""\n'
    "    return [value * factor for value in values if value > 0]\n\n"
    for index in range(4)
)


class PromptRate:
    def __init__(self) -> None:
        self.tokens_per_s: float | None = None
        self._probe: asyncio.Future[None] | None = None

    def observe(self, stats: GenerationStats) -> None:
        if stats.tokens_evaluated < MIN_MEASURED_TOKENS or stats.prompt_eval_ms <= 0:
            return
        measured = stats.tokens_evaluated / (stats.prompt_eval_ms / 1000)
        if self.tokens_per_s is None:
            self.tokens_per_s = measured
        else:
            self.tokens_per_s += NEW_WEIGHT * (measured - self.tokens_per_s)

    def cold_budget(self) -> int | None:
        """The prompt tokens a cold document's first request may evaluate; None: no cap (the
        engine does not report its prompt time, so nothing can be said)."""
        if self.tokens_per_s is not None:
            return max(MIN_COLD_TOKENS, int(self.tokens_per_s * COLD_WINDOW_S))
        if self._probe is not None and not self._probe.done():
            return UNMEASURED_COLD_TOKENS  # the probe is still at work (a slow machine)
        return None

    def start_probe(self, worker: InferenceWorker) -> None:
        """Measure once the model has loaded (at the lowest priority: a request preempts it)."""
        if self._probe is None:
            self._probe = asyncio.ensure_future(self._measure(worker))

    def stop(self) -> None:
        """The session ends: a probe still under way is dropped."""
        if self._probe is not None:
            self._probe.cancel()

    async def measured(self) -> None:
        """Wait (briefly) for the probe's figure, when one is under way."""
        if self._probe is not None and not self._probe.done():
            with contextlib.suppress(asyncio.TimeoutError, Exception):
                await asyncio.wait_for(asyncio.shield(self._probe), PROBE_WAIT_S)

    async def _measure(self, worker: InferenceWorker) -> None:
        request = GenerationRequest(
            TextPrompt(PROBE_TEXT),
            max_tokens=1,
            priority=Priority.WARMUP,
            key=PROBE_KEY,
            supersedes=False,
        )
        result = await run_job(worker.submit(request))
        if result.stop_reason is StopReason.FAILED:
            logger.info("prompt rate probe failed: %s", result.error)
            return
        self.observe(result.stats)
        if self.tokens_per_s is not None:
            logger.info("prompt evaluation: %.0f tokens/s", self.tokens_per_s)
