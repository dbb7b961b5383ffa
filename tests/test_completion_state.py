"""The completion service keeps one record per open document, and nothing once it is closed."""

from __future__ import annotations

import asyncio

from spark_lsp.completion.alternatives import shown_alternatives
from spark_lsp.completion.cursor import cursor_state
from spark_lsp.completion.settings import CompletionSettings
from spark_lsp.documents import DocumentStore, split_lines
from spark_lsp.engine import GenerationResult, StopReason
from spark_lsp.engine.fake import FakeEngine
from tests.test_pipeline import FROM_BOUNDARY, URI, service


def test_forget_drops_everything_kept_for_a_document_and_a_late_request_keeps_nothing() -> None:
    store = DocumentStore()
    store.open(URI, "python", 1, "def f(xs):\n    \n")
    engine = FakeEngine(lambda request: FROM_BOUNDARY, 0.01)
    settings = CompletionSettings(debounce_ms=0, suffix_refresh_idle_ms=50)
    completions, worker = service(engine, store, settings)

    async def scenario() -> None:
        snapshot = store.snapshot(URI)
        shown = await completions.suggest(snapshot, 1, 4, automatic=False)
        assert shown is not None
        record = completions._documents.get(URI)
        assert record is not None  # its cache, work and background answer are in it
        store.close(URI)
        completions.forget(URI)
        assert URI not in completions._documents
        # A request that arrives (or finishes) after the close keeps nothing for it.
        assert await completions.suggest(snapshot, 1, 4, automatic=False) is None
        await asyncio.sleep(0.2)  # past the pause that would start idle work
        assert URI not in completions._documents

    try:
        asyncio.run(scenario())
    finally:
        worker.stop()


def test_unfinished_alternatives_and_ones_equal_after_post_processing_are_not_shown() -> None:
    lines = split_lines("def f(a, b):\n    return \n")
    state = cursor_state(lines, 1, 11, language_id="python")
    result = GenerationResult(
        "a + b",
        StopReason.EOS,
        alternatives=("a - b", "a * b", "a + b  ", "a -"),
        alternative_stops=(StopReason.STOP, StopReason.EOS, StopReason.EOS, StopReason.TIME_BUDGET),
    )
    # "a + b  " is the main answer once its trailing spaces go; "a -" ran out of time.
    assert shown_alternatives(result, state, "a + b") == ("a - b", "a * b")


def test_each_request_has_its_own_trace_and_the_newest_finished_one_is_published() -> None:
    store = DocumentStore()
    for uri in ("file:///a.py", "file:///b.py"):
        store.open(uri, "python", 1, "def f(a, b):\n    return \n")
    engine = FakeEngine(lambda request: "a + b", 0.02)
    completions, worker = service(engine, store, CompletionSettings(debounce_ms=0))

    async def scenario() -> list[dict[str, float]]:
        published: list[dict[str, float]] = []
        for _ in range(2):
            await asyncio.gather(
                *(
                    completions.suggest(store.snapshot(uri), 1, 11, automatic=False)
                    for uri in ("file:///a.py", "file:///b.py")
                )
            )
            published.append(completions.last_phases)
            completions.forget("file:///a.py")
            completions.forget("file:///b.py")
        return published

    try:
        published = asyncio.run(scenario())
    finally:
        worker.stop()
    for phases in published:
        assert {"debounce", "prompt build", "post-processing"} <= set(phases)
        assert "worker queue and hand-off" in phases and "engine: decode" in phases
