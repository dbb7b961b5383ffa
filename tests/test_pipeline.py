"""The completion pipeline with the fake engine: early first line, staleness, triggers, cache."""

from __future__ import annotations

import asyncio

from spark_lsp.completion.service import CompletionService
from spark_lsp.completion.settings import CompletionSettings
from spark_lsp.documents import DocumentStore, PositionEncoding, TextChange
from spark_lsp.engine import Priority
from spark_lsp.engine.fake import FakeEngine
from spark_lsp.engine.worker import InferenceWorker

URI = "file:///m.py"
BLOCK = "for x in xs:\n        total += x\n    return total"
# On a blank line the prompt ends at the last non-blank character (the natural boundary): the
# model answers with the line break and indentation first, as the real one does.
FROM_BOUNDARY = "\n    " + BLOCK


def service(
    engine: FakeEngine, store: DocumentStore, settings: CompletionSettings | None = None
) -> tuple[CompletionService, InferenceWorker]:
    worker = InferenceWorker(engine)

    async def worker_for(automatic: bool) -> InferenceWorker:
        return worker

    def version(uri: str) -> int | None:
        return store.document(uri).version if uri in store else None

    settings = settings or CompletionSettings(debounce_ms=0)
    return CompletionService(worker_for, version, settings), worker


def test_an_automatic_block_answers_with_its_first_line_and_caches_the_rest() -> None:
    store = DocumentStore()
    store.open(URI, "python", 1, "def f(xs):\n    \n")
    engine = FakeEngine(lambda request: FROM_BOUNDARY, 0.05)
    completions, worker = service(engine, store)

    async def scenario() -> None:
        first = await completions.suggest(store.snapshot(URI), 1, 4, automatic=True)
        assert first is not None
        assert first.text == "for x in xs:"
        for _ in range(200):  # the rest keeps generating in the background
            again = await completions.suggest(store.snapshot(URI), 1, 4, automatic=True)
            if again is not None and again.from_cache and "\n" in again.text:
                assert again.text == BLOCK
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the full block never reached the cache")

    try:
        asyncio.run(scenario())
        assert completions.model_calls == 1
    finally:
        worker.stop()


def test_an_invoked_block_is_shown_whole_when_it_ends_within_the_predict_budget() -> None:
    store = DocumentStore()
    store.open(URI, "python", 1, "def f(xs):\n    \n")
    engine = FakeEngine(lambda request: FROM_BOUNDARY, 0.05)
    completions, worker = service(engine, store)

    async def scenario() -> None:
        shown = await completions.suggest(store.snapshot(URI), 1, 4, automatic=False)
        assert shown is not None and not shown.from_cache
        assert shown.text == BLOCK

    try:
        asyncio.run(scenario())
        assert completions.model_calls == 1 and completions.early_answers == 0
    finally:
        worker.stop()


def test_an_invoked_block_past_the_budget_shows_its_lines_so_far_and_caches_the_rest() -> None:
    """Pieces every 0.1 s, a 0.9 s budget: the first two lines are complete by then (the
    third from about 1.1 s), so those two are shown and the whole block reaches the cache."""
    block = "for x in xs:\n        total += x\n        count += 1\n        seen.add(x)\n"
    block += "    return total"
    store = DocumentStore()
    store.open(URI, "python", 1, "def f(xs):\n    \n")
    engine = FakeEngine(lambda request: "\n    " + block, 0.1)
    settings = CompletionSettings(debounce_ms=0, predict_time_budget_ms=900)
    completions, worker = service(engine, store, settings)

    async def scenario() -> None:
        shown = await completions.suggest(store.snapshot(URI), 1, 4, automatic=False)
        assert shown is not None and "\n" in shown.text
        assert block.startswith(shown.text) and shown.text != block
        for _ in range(100):
            await asyncio.sleep(0.05)
            again = await completions.suggest(store.snapshot(URI), 1, 4, automatic=False)
            if again is not None and again.from_cache and again.text == block:
                return
        raise AssertionError("the whole block never reached the cache")

    try:
        asyncio.run(scenario())
        assert completions.early_answers == 1
    finally:
        worker.stop()


def test_a_suggestion_for_an_outdated_version_is_not_returned() -> None:
    store = DocumentStore()
    store.open(URI, "python", 1, "x = \n")
    engine = FakeEngine(lambda request: "compute ( )", 0.05)
    completions, worker = service(engine, store)

    async def scenario() -> None:
        pending = asyncio.ensure_future(completions.suggest(store.snapshot(URI), 0, 4, False))
        await asyncio.sleep(0.02)
        store.open(URI, "python", 2, "x = 1\n")  # the user typed meanwhile
        assert await pending is None

    try:
        asyncio.run(scenario())
    finally:
        worker.stop()


def test_an_older_request_gets_nothing_once_a_newer_one_for_the_document_arrived() -> None:
    """Superseding follows the order requests arrive in, not which one reaches the model first:
    here the newer request is answered from the cache while the older one is still generating."""
    store = DocumentStore()
    store.open(URI, "python", 1, "x = \ny = \n")
    engine = FakeEngine(lambda request: "compute()", 0.2)
    completions, worker = service(engine, store)

    async def scenario() -> None:
        cached = await completions.suggest(store.snapshot(URI), 0, 4, False)
        assert cached is not None and cached.text == "compute()"
        older = asyncio.ensure_future(completions.suggest(store.snapshot(URI), 1, 4, False))
        await asyncio.sleep(0.05)  # the older request is at the model
        newer = await completions.suggest(store.snapshot(URI), 0, 4, False)
        assert newer is not None and newer.from_cache
        assert await older is None
        alone = await completions.suggest(store.snapshot(URI), 1, 4, False)
        assert alone is not None and alone.text == "compute()"  # nothing newer: answered

    try:
        asyncio.run(scenario())
    finally:
        worker.stop()


def test_automatic_triggers_skip_lines_with_text_after_the_cursor() -> None:
    store = DocumentStore()
    store.open(URI, "python", 1, "x = (a_long_expression_here)\n")
    engine = FakeEngine()
    completions, worker = service(engine, store)
    try:
        result = asyncio.run(completions.suggest(store.snapshot(URI), 0, 4, automatic=True))
        assert result is None
        assert engine.calls == 0
    finally:
        worker.stop()


def test_typing_into_a_block_still_generating_waits_for_it_instead_of_restarting() -> None:
    store = DocumentStore()
    store.open(URI, "python", 1, "def f(xs):\n    \n")
    engine = FakeEngine(lambda request: FROM_BOUNDARY, 0.05)
    completions, worker = service(engine, store)

    async def scenario() -> None:
        first = await completions.suggest(store.snapshot(URI), 1, 4, automatic=True)
        assert first is not None and first.text == "for x in xs:"
        store.open(URI, "python", 2, "def f(xs):\n    f\n")  # the user types the first letter
        typed = await completions.suggest(store.snapshot(URI), 1, 5, automatic=True)
        assert typed is not None and typed.from_cache
        assert typed.text == BLOCK[1:]

    try:
        asyncio.run(scenario())
        assert engine.calls == 1  # the running generation was awaited, not superseded
    finally:
        worker.stop()


def test_after_accepting_a_line_the_next_line_is_prefetched() -> None:
    store = DocumentStore()
    store.open(URI, "python", 1, "def f(xs):\n    total = \n")
    answers = iter(["sum(xs)", "\n    return total"])
    engine = FakeEngine(lambda request: next(answers))
    completions, worker = service(engine, store)

    async def scenario() -> None:
        shown = await completions.suggest(store.snapshot(URI), 1, 12, automatic=False)
        assert shown is not None and shown.text == "sum(xs)"
        snapshot = store.snapshot(URI)
        await completions.prefetch_after_accept(snapshot, 1, 12, shown)
        for _ in range(100):
            if engine.calls == 2 and not worker._queue and worker._running is None:
                break
            await asyncio.sleep(0.01)
        # The editor inserts the suggestion, then the user presses Enter (indent kept).
        store.open(URI, "python", 2, "def f(xs):\n    total = sum(xs)\n    \n")
        following = await completions.suggest(store.snapshot(URI), 2, 4, automatic=True)
        assert following is not None and following.from_cache
        assert following.text == "return total"

    try:
        asyncio.run(scenario())
        assert engine.calls == 2
    finally:
        worker.stop()


def test_invoked_one_line_requests_bring_distinct_alternatives_automatic_ones_do_not() -> None:
    store = DocumentStore()
    store.open(URI, "python", 1, "def f(a, b):\n    return \n")
    engine = FakeEngine(lambda request: ["a + b", "a - b", "a + b  "], 0.0)
    completions, worker = service(engine, store)

    async def scenario() -> None:
        invoked = await completions.suggest(store.snapshot(URI), 1, 11, automatic=False)
        assert invoked is not None and invoked.text == "a + b"
        # "a + b  " is the same suggestion once post-processed: left out
        assert invoked.alternatives == ("a - b",)
        assert engine.requests[-1].alternatives == 2
        store.open(URI, "python", 2, "def f(a, b):\n    return  \n")
        automatic = await completions.suggest(store.snapshot(URI), 1, 12, automatic=True)
        assert automatic is not None and automatic.alternatives == ()
        assert engine.requests[-1].alternatives == 0

    try:
        asyncio.run(scenario())
    finally:
        worker.stop()


def test_a_pause_prefetches_the_next_line_and_refreshes_the_cells_a_keystroke_does_not() -> None:
    store = DocumentStore()
    store.open(URI, "python", 1, "x = \n")
    engine = FakeEngine(lambda request: "1")
    engine.refreshes_cells = True  # type: ignore[attr-defined]
    settings = CompletionSettings(debounce_ms=0, suffix_refresh_idle_ms=100)
    completions, worker = service(engine, store, settings)

    def refreshes() -> list[str]:
        return [request.key for request in engine.requests if request.refresh]

    async def scenario() -> None:
        assert await completions.suggest(store.snapshot(URI), 0, 4, automatic=False)
        store.change(URI, 2, [TextChange("x = 2\n")], PositionEncoding.UTF16)  # no pause
        await asyncio.sleep(0.3)
        assert refreshes() == []
        shown = await completions.suggest(store.snapshot(URI), 0, 5, automatic=False)
        assert shown is not None and shown.text == "1"
        await asyncio.sleep(0.3)  # the pause
        assert refreshes() == [URI]
        # The next line was prefetched as if "1" were accepted: the accept finds it cached.
        prefetched = [r for r in engine.requests if r.priority is Priority.WARMUP and not r.refresh]
        assert len(prefetched) == 1 and prefetched[0].prompt.prefix.endswith("x = 21")  # type: ignore[union-attr]
        assert prefetched[0].lead == "\n"  # on the new line
        calls = engine.calls
        await completions.prefetch_after_accept(store.snapshot(URI), 0, 5, shown)
        assert engine.calls == calls

    try:
        asyncio.run(scenario())
    finally:
        worker.stop()


def test_an_early_answer_shows_the_line_so_far_and_the_rest_reaches_the_cache() -> None:
    store = DocumentStore()
    store.open(URI, "python", 1, "total = \n")
    line = "compute(first, second, third, fourth)"
    engine = FakeEngine(lambda request: line, 0.1)
    settings = CompletionSettings(debounce_ms=0, early_answer_ms=150, alternatives=0)
    completions, worker = service(engine, store, settings)

    async def scenario() -> None:
        early = await completions.suggest(store.snapshot(URI), 0, 8, automatic=True)
        assert early is not None and not early.from_cache
        assert line.startswith(early.text) and early.text != line  # open brackets allowed
        for _ in range(100):
            await asyncio.sleep(0.05)
            again = await completions.suggest(store.snapshot(URI), 0, 8, automatic=True)
            if again is not None and again.from_cache:
                assert again.text == line
                return
        raise AssertionError("the rest of the line never reached the cache")

    try:
        asyncio.run(scenario())
        assert completions.early_answers == 1 and completions.model_calls == 1
    finally:
        worker.stop()


def test_a_request_waits_for_a_background_answer_only_up_to_the_predict_budget() -> None:
    """An answer still generating after its early part was shown is waited for by the next
    request on the same text, but no longer than a predict budget: then it asks anew."""
    store = DocumentStore()
    store.open(URI, "python", 1, "total = \n")
    line = "compute(first, second, third, fourth, fifth, sixth, seventh)"
    engine = FakeEngine(lambda request: line, 0.2)
    settings = CompletionSettings(
        debounce_ms=0, early_answer_ms=100, predict_time_budget_ms=300, alternatives=0
    )
    completions, worker = service(engine, store, settings)

    async def scenario() -> None:
        early = await completions.suggest(store.snapshot(URI), 0, 8, automatic=True)
        assert early is not None and early.text != line
        await completions.suggest(store.snapshot(URI), 0, 8, automatic=True)
        assert completions.model_calls == 2  # it did not wait for the whole line

    try:
        asyncio.run(scenario())
    finally:
        worker.stop()


class TimedDecode(FakeEngine):
    """Reports its generation time as decode time (the fake reports none), so that the
    pipeline can measure how fast it writes."""

    def generate(self, request, cancel, on_text=None):  # type: ignore[no-untyped-def]
        result = super().generate(request, cancel, on_text)
        result.stats.decode_ms = result.stats.total_ms
        return result


def test_the_predict_budget_stretches_for_a_model_that_writes_a_line_slowly() -> None:
    """Ten words at 0.1 s each against a 300 ms budget: unmeasured, the first answer shows its
    line so far; once its rate is known (10 a second), the budget covers a typical line and
    the next answer comes whole."""
    store = DocumentStore()
    store.open(URI, "python", 1, "total = \ncount = \n")
    line = "compute(first, second, third, fourth, fifth, sixth, seventh, eighth, ninth)"
    engine = TimedDecode(lambda request: line, 0.1)
    settings = CompletionSettings(debounce_ms=0, predict_time_budget_ms=300, alternatives=0)
    completions, worker = service(engine, store, settings)

    async def scenario() -> None:
        early = await completions.suggest(store.snapshot(URI), 0, 8, automatic=True)
        assert early is not None and early.text != line
        for _ in range(100):  # the rest of the answer finishes in the background, measured
            if completions.decode_rate.tokens_per_s is not None:
                break
            await asyncio.sleep(0.05)
        assert completions.decode_rate.predict_budget_ms(300) > 2400
        whole = await completions.suggest(store.snapshot(URI), 1, 8, automatic=True)
        assert whole is not None and whole.text == line

    try:
        asyncio.run(scenario())
    finally:
        worker.stop()
