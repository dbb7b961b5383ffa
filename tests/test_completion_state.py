"""The completion service keeps one record per open document, and nothing once it is closed."""

from __future__ import annotations

import asyncio

from spark_lsp.completion.settings import CompletionSettings
from spark_lsp.documents import DocumentStore
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
