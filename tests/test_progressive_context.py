"""Progressive context: a cold document's first prompt is what the machine evaluates in about
half a second (its measured prompt rate), and the window grows while the user pauses, each step
warmed aside and adopted, until it is the whole budget. Logic with the fake engine; the real
model's side is in ``bench latency --lsp --cold``."""

from __future__ import annotations

import asyncio
import time

from spark_lsp.completion import prompt_rate
from spark_lsp.completion.prompt_rate import COLD_WINDOW_S, UNMEASURED_COLD_TOKENS, PromptRate
from spark_lsp.completion.service import CompletionService
from spark_lsp.completion.settings import CompletionSettings
from spark_lsp.context.builder import PromptBuilder
from spark_lsp.context.service import ContextService
from spark_lsp.documents import DocumentStore
from spark_lsp.engine import (
    CancelToken,
    GenerationRequest,
    GenerationResult,
    GenerationStats,
    Priority,
    StopReason,
    TextPrompt,
)
from spark_lsp.engine.base import Lane, cache_key
from spark_lsp.engine.fake import FakeEngine
from spark_lsp.engine.worker import InferenceWorker, run_job

URI = "file:///big.py"
BODY = "".join(
    f"def handler_{i}(event, context):\n    value = event['key_{i}'] * {i}\n    return value\n\n"
    for i in range(400)
)


def test_the_rate_is_measured_and_gives_half_a_second_of_prompt() -> None:
    rate = PromptRate()
    assert rate.cold_budget() is None  # nothing measured, no probe: no cap
    rate.observe(GenerationStats(tokens_evaluated=20, prompt_eval_ms=10.0))  # too few to tell
    assert rate.tokens_per_s is None
    rate.observe(GenerationStats(tokens_evaluated=450, prompt_eval_ms=2000.0))
    assert rate.cold_budget() == int(225 * COLD_WINDOW_S)


class TimedPrompts(FakeEngine):
    """Reports 130 prompt tokens in half a second; a warm-up waits until it is cancelled while
    ``hold`` is set (as a real probe is when the user's first request arrives)."""

    def __init__(self) -> None:
        super().__init__()
        self.hold = True

    def generate(
        self, request: GenerationRequest, cancel: CancelToken, on_text=None
    ) -> GenerationResult:
        self.requests.append(request)
        while request.priority is Priority.WARMUP and self.hold and not cancel.cancelled:
            time.sleep(0.01)
        if cancel.cancelled:
            return GenerationResult("", StopReason.CANCELLED)
        stats = GenerationStats(tokens_evaluated=130, prompt_eval_ms=500.0, total_ms=520.0)
        return GenerationResult("x", StopReason.LENGTH, stats)


def test_a_probe_cancelled_by_the_first_request_caps_cold_windows_and_tries_again(
    monkeypatch,
) -> None:
    """The user's first request must not wait for the probe nor, once it cancelled the probe,
    get an uncapped window (a minute of evaluation in a large file)."""
    monkeypatch.setattr(prompt_rate, "PROBE_RETRY_S", 0.05)
    engine = TimedPrompts()

    async def scenario() -> tuple[int | None, int | None, int]:
        worker = InferenceWorker(engine)
        rate = PromptRate()
        try:
            rate.start_probe(worker)
            await asyncio.sleep(0.05)
            request = GenerationRequest(TextPrompt("def f():"), max_tokens=1)
            await run_job(worker.submit(request))  # cancels the probe
            while len(engine.requests) < 3:  # the probe, the request, the probe again
                await asyncio.sleep(0.01)
            during = rate.cold_budget()
            engine.hold = False
            for _ in range(200):
                if rate.tokens_per_s is not None:
                    break
                await asyncio.sleep(0.01)
            return during, rate.cold_budget(), len(engine.requests)
        finally:
            rate.stop()
            worker.stop()

    during, after, requests = asyncio.run(scenario())
    assert during == UNMEASURED_COLD_TOKENS
    assert after == int(260 * COLD_WINDOW_S)  # 130 tokens in 0.5 s, measured by a later probe
    assert requests >= 3


def test_a_cold_document_starts_small_and_grows_while_the_user_pauses() -> None:
    store = DocumentStore()
    store.open(URI, "python", 1, BODY)
    engine = FakeEngine(lambda request: "value", 0.0)
    worker = InferenceWorker(engine)
    context = ContextService(store.snapshots)
    context.builder = PromptBuilder(engine.token_counter(), engine.template, engine.add_bos)
    context.context_size = engine.n_ctx

    async def worker_for(automatic: bool) -> InferenceWorker:
        return worker

    def version(uri: str) -> int | None:
        return store.document(uri).version if uri in store else None

    settings = CompletionSettings(context_refresh_idle_ms=100, suffix_refresh_idle_ms=0)
    completions = CompletionService(worker_for, version, settings, context)
    completions.prompt_rate.tokens_per_s = 200.0  # as if measured: 100 tokens in half a second
    line = 600

    def prompt_length(request: object) -> int:
        prompt = request.prompt  # type: ignore[attr-defined]
        return len(prompt.prefix) + len(prompt.suffix)

    async def scenario() -> None:
        first = await completions.suggest(store.snapshot(URI), line, 4, automatic=False)
        assert first is not None
        cold = engine.requests[-1]
        assert cold.key == cache_key(URI) and prompt_length(cold) < 600  # about 100 tokens
        # The first suggestion in a file comes alone: alternatives only if it is dropped.
        assert cold.alternatives_allowance is not None
        assert cold.alternatives_allowance(GenerationResult("value", StopReason.EOS)) == 0
        await asyncio.sleep(1.5)  # a pause: the window grows step by step, warmed aside
        warm_ups = [r for r in engine.requests if r.key == cache_key(URI, Lane.WARM_UP)]
        sizes = [prompt_length(r) for r in warm_ups]
        assert len(sizes) >= 3 and sizes == sorted(sizes), sizes
        assert all(r.adopt_as == cache_key(URI) for r in warm_ups)
        assert completions._documents.get(URI).window_cap is None  # the whole budget now
        store.change(URI, 2, [], "utf-16")
        await completions.suggest(store.snapshot(URI), line, 4, automatic=False)
        assert prompt_length(engine.requests[-1]) >= sizes[-1] - 200
        await completions.suggest(store.snapshot(URI), line + 1, 4, automatic=False)
        asked = [r for r in engine.requests if r.key == cache_key(URI)]
        assert len(asked) == 2 and asked[-1].alternatives == settings.alternatives  # warm
        warm = asked[-1].alternatives_allowance
        assert warm is not None and warm(GenerationResult("value", StopReason.EOS)) >= 0
        assert warm(GenerationResult("value", StopReason.EOS, GenerationStats(total_ms=100))) > 0

    try:
        asyncio.run(scenario())
    finally:
        worker.stop()


def test_an_edit_after_the_first_answer_still_grows_the_window_once_the_user_pauses() -> None:
    """Typing on after the capped first answer (no further request) must not keep the
    document capped: the edit's pause grows it (HeadlessCompletion: the server's wiring)."""
    from spark_lsp.completion.headless import HeadlessCompletion

    engine = FakeEngine(lambda request: "value", 0.0)

    async def scenario() -> tuple[int | None, int]:
        completion = HeadlessCompletion(
            engine, CompletionSettings(context_refresh_idle_ms=100, suffix_refresh_idle_ms=0)
        )
        completion.service.prompt_rate.tokens_per_s = 200.0
        try:
            completion.open(URI, "python", BODY)
            await completion.suggest(URI, 600, 4)
            completion.replace_line(URI, 600, "    x")  # the user types on at once
            assert completion.service.capped_windows == 1
            await completion.settle(5.0)
            document = completion.service._documents.get(URI)
            return document.window_cap, completion.service.capped_windows
        finally:
            completion.stop()

    cap, capped = asyncio.run(scenario())
    assert cap is None and capped == 0
    warm_ups = [r for r in engine.requests if r.key == cache_key(URI, Lane.WARM_UP)]
    assert warm_ups and "    x" in warm_ups[-1].prompt.prefix + warm_ups[-1].prompt.suffix
