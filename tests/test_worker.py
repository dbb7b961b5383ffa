"""The inference worker: priorities, supersession and cancellation, with the fake engine."""

from __future__ import annotations

import threading
import time

from spark_lsp.engine import GenerationRequest, Priority, StopReason, TextPrompt
from spark_lsp.engine.fake import FakeEngine
from spark_lsp.engine.worker import InferenceWorker

LONG = " ".join(["w"] * 400)


def slow_engine() -> FakeEngine:
    return FakeEngine(lambda request: LONG, delay_per_token_s=0.002)


def test_a_newer_request_supersedes_the_running_one_for_the_same_key() -> None:
    worker = InferenceWorker(slow_engine())
    try:
        first = worker.submit(GenerationRequest(TextPrompt("a"), max_tokens=400, key="doc"))
        started = threading.Event()
        second = worker.submit(
            GenerationRequest(TextPrompt("b"), max_tokens=3, key="doc"),
            on_text=lambda _piece: started.set(),
        )
        assert first.future.result(timeout=10).stop_reason is StopReason.CANCELLED
        assert first.cancel_token.reason == "superseded"
        assert second.future.result(timeout=10).stop_reason is StopReason.LENGTH
        assert started.is_set()
    finally:
        worker.stop()


def test_other_keys_are_not_superseded_and_priority_orders_the_queue() -> None:
    engine = slow_engine()
    worker = InferenceWorker(engine)
    try:
        blocker = worker.submit(GenerationRequest(TextPrompt("x"), max_tokens=50, key="a"))
        low = worker.submit(
            GenerationRequest(TextPrompt("low"), max_tokens=1, priority=Priority.WARMUP, key="b")
        )
        high = worker.submit(GenerationRequest(TextPrompt("high"), max_tokens=1, key="c"))
        for job in (blocker, low, high):
            assert job.future.result(timeout=10).stop_reason is StopReason.LENGTH
        order = [r.prompt.text for r in engine.requests]
        assert order == ["x", "high", "low"]
    finally:
        worker.stop()


def test_cancel_stops_a_running_job_and_a_queued_job_never_runs() -> None:
    engine = slow_engine()
    worker = InferenceWorker(engine)
    try:
        started = threading.Event()
        running = worker.submit(
            GenerationRequest(TextPrompt("r"), max_tokens=400, key="a"),
            on_text=lambda _piece: started.set(),
        )
        queued = worker.submit(GenerationRequest(TextPrompt("q"), max_tokens=400, key="b"))
        assert started.wait(10)
        queued.cancel()
        running.cancel()
        assert running.future.result(timeout=10).stop_reason is StopReason.CANCELLED
        assert queued.future.result(timeout=10).stop_reason is StopReason.CANCELLED
        assert [r.prompt.text for r in engine.requests] == ["r"]
    finally:
        worker.stop()


def test_engine_errors_reach_the_caller() -> None:
    def broken(_request: GenerationRequest) -> str:
        raise RuntimeError("boom")

    worker = InferenceWorker(FakeEngine(broken))
    try:
        job = worker.submit(GenerationRequest(TextPrompt("x")))
        try:
            job.future.result(timeout=10)
        except RuntimeError as error:
            assert str(error) == "boom"
        else:
            raise AssertionError("expected the engine's error")
    finally:
        worker.stop()


def test_a_running_warm_up_gives_way_to_any_more_urgent_request() -> None:
    worker = InferenceWorker(slow_engine())
    try:
        started = threading.Event()
        warm_up = worker.submit(
            GenerationRequest(
                TextPrompt("w"), max_tokens=400, key="doc#warm-up", priority=Priority.WARMUP
            ),
            on_text=lambda _piece: started.set(),
        )
        assert started.wait(10)
        prefetch = worker.submit(
            GenerationRequest(
                TextPrompt("p"), max_tokens=3, key="doc", priority=Priority.SPECULATIVE
            )
        )
        assert warm_up.future.result(timeout=10).stop_reason is StopReason.CANCELLED
        assert warm_up.cancel_token.reason == "preempted"
        assert prefetch.future.result(timeout=10).stop_reason is StopReason.LENGTH
        # A speculative request is not preempted by another speculative one of another key.
        running = worker.submit(
            GenerationRequest(
                TextPrompt("s"), max_tokens=30, key="a", priority=Priority.SPECULATIVE
            )
        )
        other = worker.submit(
            GenerationRequest(TextPrompt("t"), max_tokens=3, key="b", priority=Priority.INTERACTIVE)
        )
        assert running.future.result(timeout=10).stop_reason is StopReason.LENGTH
        assert other.future.result(timeout=10).stop_reason is StopReason.LENGTH
    finally:
        worker.stop()


def test_a_caller_that_cancels_its_future_never_stops_the_worker() -> None:
    """asyncio.wrap_future cancels the concurrent future when the awaiting task is cancelled:
    a queued job is then skipped, a running one finishes, and the worker keeps serving."""
    worker = InferenceWorker(slow_engine())
    try:
        started = threading.Event()
        running = worker.submit(
            GenerationRequest(TextPrompt("r"), max_tokens=40, key="a"),
            on_text=lambda _piece: started.set(),
        )
        queued = worker.submit(GenerationRequest(TextPrompt("q"), max_tokens=40, key="b"))
        assert started.wait(timeout=10)
        assert not running.future.cancel()  # running: its result will land
        assert queued.future.cancel()
        assert queued.cancel_token.cancelled
        assert running.future.result(timeout=10).stop_reason is StopReason.LENGTH
        after = worker.submit(GenerationRequest(TextPrompt("z"), max_tokens=2, key="c"))
        assert after.future.result(timeout=10).stop_reason is StopReason.LENGTH
    finally:
        worker.stop()


def test_an_interactive_request_preempts_an_action_which_resumes_where_it_stopped() -> None:
    words = " ".join(f"w{i}" for i in range(120))
    engine = FakeEngine(lambda request: words, delay_per_token_s=0.002, resumable=True)
    worker = InferenceWorker(engine)
    try:
        started = threading.Event()
        action = worker.submit(
            GenerationRequest(
                TextPrompt("act"), max_tokens=400, priority=Priority.ACTION, key="doc#action"
            ),
            on_text=lambda _piece: started.set(),
        )
        assert started.wait(10)
        urgent = worker.submit(GenerationRequest(TextPrompt("key"), max_tokens=2, key="doc"))
        assert urgent.future.result(timeout=10).stop_reason is StopReason.LENGTH
        result = action.future.result(timeout=10)
        assert result.stop_reason is StopReason.EOS
        assert result.text == words  # nothing lost or repeated across the preemption
        assert action.preemptions == 1
        assert result.stats.tokens_generated == 120
        prompts = [r.prompt.text for r in engine.requests]
        assert prompts == ["act", "key", "act"]  # preempted, then continued
    finally:
        worker.stop()


def test_an_answer_finishing_in_the_background_yields_to_the_next_request() -> None:
    """After an early answer the rest of its generation only fills a cache: demoted, it is
    preempted by the next document's request (which used to queue behind it) and resumes."""
    words = " ".join(f"w{i}" for i in range(120))
    engine = FakeEngine(lambda request: words, delay_per_token_s=0.002, resumable=True)
    worker = InferenceWorker(engine)
    try:
        started = threading.Event()
        early = worker.submit(
            GenerationRequest(TextPrompt("first"), max_tokens=400, key="a.py"),
            on_text=lambda _piece: started.set(),
        )
        assert started.wait(10)
        worker.demote(early, Priority.SPECULATIVE)
        urgent = worker.submit(GenerationRequest(TextPrompt("second"), max_tokens=2, key="b.py"))
        assert urgent.future.result(timeout=10).stop_reason is StopReason.LENGTH
        result = early.future.result(timeout=10)
        assert result.text == words and early.preemptions == 1
        assert [r.prompt.text for r in engine.requests] == ["first", "second", "first"]
    finally:
        worker.stop()


def test_superseded_jobs_leave_the_queue_at_once_and_the_queue_is_bounded() -> None:
    from spark_lsp.engine.worker import MAX_QUEUED

    worker = InferenceWorker(slow_engine())
    try:
        running = threading.Event()
        blocker = worker.submit(
            GenerationRequest(TextPrompt("x"), max_tokens=400, key="busy"),
            on_text=lambda _piece: running.set(),
        )
        assert running.wait(10)
        queued = [
            worker.submit(GenerationRequest(TextPrompt(str(i)), max_tokens=1, key="doc"))
            for i in range(10)
        ]
        assert worker.queued == 1  # each newer one removed the older one from the queue
        assert all(job.future.done() for job in queued[:-1])
        many = [
            worker.submit(
                GenerationRequest(
                    TextPrompt(str(i)), max_tokens=1, key=f"k{i}", priority=Priority.SPECULATIVE
                )
            )
            for i in range(MAX_QUEUED + 10)
        ]
        assert worker.queued == MAX_QUEUED
        dropped = [job for job in many if job.future.done()]
        assert len(dropped) == 11 and all(
            j.cancel_token.reason == "the queue is full" for j in dropped
        )
        blocker.cancel()
    finally:
        worker.stop()


def test_two_actions_on_one_document_both_complete() -> None:
    worker = InferenceWorker(slow_engine())
    try:
        first, second = (
            worker.submit(
                GenerationRequest(
                    TextPrompt(name),
                    max_tokens=5,
                    priority=Priority.ACTION,
                    key="doc#action",
                    supersedes=False,
                )
            )
            for name in ("one", "two")
        )
        assert first.future.result(timeout=10).stop_reason is StopReason.LENGTH
        assert second.future.result(timeout=10).stop_reason is StopReason.LENGTH
    finally:
        worker.stop()


def test_a_second_models_worker_gives_way_to_the_first_ones_interactive_work() -> None:
    """Two models on one CPU: the next-edit model's job stops when a suggestion is asked of the
    completion model, waits while that one computes it, then resumes where it stopped."""
    words = " ".join(f"w{i}" for i in range(120))
    completion_engine = FakeEngine(lambda request: "a b", delay_per_token_s=0.05)
    completion = InferenceWorker(completion_engine)
    next_edit_engine = FakeEngine(lambda request: words, delay_per_token_s=0.002, resumable=True)
    next_edits = InferenceWorker(next_edit_engine, yields_to=completion.has_interactive_work)
    completion.on_interactive(next_edits.yield_running)
    try:
        started = threading.Event()
        pieces: list[float] = []

        def on_text(_piece: str) -> None:
            pieces.append(time.perf_counter())
            started.set()

        background = next_edits.submit(
            GenerationRequest(TextPrompt("edit"), max_tokens=400, priority=Priority.SPECULATIVE),
            on_text=on_text,
        )
        assert started.wait(10)
        asked = time.perf_counter()
        urgent = completion.submit(GenerationRequest(TextPrompt("key"), max_tokens=2))
        assert urgent.future.result(timeout=10).stop_reason is StopReason.LENGTH
        done = time.perf_counter()
        result = background.future.result(timeout=10)
        assert result.text == words and background.preemptions == 1
        # Stopped at its next token, and silent until the suggestion was done (it writes a
        # piece every 2 ms when it runs; the suggestion takes 100 ms).
        assert not [at for at in pieces if asked + 0.03 < at < done]
        assert [r.prompt.text for r in next_edit_engine.requests] == ["edit", "edit"]
        assert next_edit_engine.requests[-1].resume  # continued from its tokens so far
        assert not completion.has_interactive_work()
    finally:
        next_edits.stop()
        completion.stop()
