"""Next edits under hostile input: repetitive or huge edits are compared in linear time or not
at all, the server keeps answering while a next edit is computed (the real server over stdio),
nothing of a closed document survives its next edit, and the model's job is cancellable and
its failures are errors."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from spark_lsp.documents import DocumentSnapshot
from spark_lsp.engine import GenerationRequest, GenerationResult, StopReason
from spark_lsp.engine.base import CancelToken, EngineError, TokenCallback
from spark_lsp.engine.fake import FakeEngine
from spark_lsp.engine.worker import InferenceWorker
from spark_lsp.lsp.errors import RequestFailed
from spark_lsp.lsp.next_edit import NextEdits
from spark_lsp.nextedit import gate
from spark_lsp.nextedit.context import EditContext, Prediction, window_around
from spark_lsp.nextedit.history import MAX_EDIT_CHARS
from spark_lsp.nextedit.service import NextEditFailed, NextEditService
from spark_lsp.nextedit.substitution import repeat_substitution, substitution
from tests.raw_client import RawClient
from tests.test_load import rss_mib
from tests.timing import best_time

GENERATED = "x = y + z\n"
SHUFFLED = "y = z + x\n"


def _lines(text: str) -> tuple[str, ...]:
    return tuple(text.splitlines(keepends=True))


# -- the substitution and the gate: bounded work -------------------------------------------


def test_repetitive_text_is_compared_in_linear_time() -> None:
    # Ten times the lines took 3000 times as long with difflib (14 s for 300 lines).
    assert substitution(GENERATED * 300, SHUFFLED * 300) is None
    assert substitution("x = x + x\n" * 600, "y = y + y\n" * 600) == ("x", "y")
    short = best_time(lambda: substitution(GENERATED * 30, SHUFFLED * 30))
    long = best_time(lambda: substitution(GENERATED * 300, SHUFFLED * 300))
    assert long < 40 * short


def test_an_edit_past_the_cap_has_no_substitution() -> None:
    lines = MAX_EDIT_CHARS // 20 + 1  # lines of 10 characters, old and new
    assert substitution("a = count\n" * (lines // 2), "a = total\n" * (lines // 2)) == (
        "count",
        "total",
    )
    assert substitution("a = count\n" * lines, "a = total\n" * lines) is None


def test_a_rename_is_repeated_outside_the_prose_of_a_long_line() -> None:
    line = "f(count, 'count', count)  # count\n"
    lines = ["count = 1\n", line, line.rstrip("\n") * 2000 + "\n"]
    found = repeat_substitution(lines, (0, 3), (0, 1), "count = 1\n", "total = 1\n")
    assert found is not None
    assert found[1] == "f(total, 'count', total)  # count\n"
    # Only the first call on the long line is code: the rest follows its comment sign.
    assert found[2].startswith("f(total, 'count', total)  # countf(count, 'count', count)")
    assert found[2].count("total") == 2


def test_a_large_document_is_parsed_around_the_region_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    block = "def f(count):\n    total = count + 1\n    return total\n"
    lines = list(_lines(block * 10_000))  # 480 KB
    middle = 15_000
    lines[middle + 1] = "    total = amount + 1\n"
    parsed: list[int] = []
    error_count = gate.syntax.error_count

    def counted(language: str, text: str) -> int | None:
        parsed.append(len(text))
        return error_count(language, text)

    monkeypatch.setattr(gate.syntax, "error_count", counted)
    region = window_around(lines, (middle, middle + 3))
    first, last = region
    view = EditContext(
        "f.py", "python", tuple(lines), (middle, middle + 3), "count", "amount", region
    )
    predicted = [line.replace("count", "amount") for line in lines[first:last]]
    assert gate.refusal(view, Prediction(predicted, "test"), None) is None
    broken = [*predicted[:-1], "    return (total\n"]
    assert gate.refusal(view, Prediction(broken, "test"), None) == "syntax"
    assert parsed and max(parsed) <= gate.MAX_PARSED_CHARS


# -- the real server answers while a next edit is computed ---------------------------------

# The target is 100 ms; the bound leaves room for a machine shared with other work (measured
# here: 15 ms at most with this fix; without it 0.4 s to 0.8 s, and over a minute once every
# worker thread was busy).
ANSWER_BOUND_S = 0.25
PROBE_FOLDER = "file:///tmp/spark-next-edit-bounds/probes"


def _server() -> RawClient:
    client = RawClient()
    capabilities = {"textDocument": {"synchronization": {"dynamicRegistration": False}}}
    client.initialize(capabilities)
    return client


def _replace_text(client: RawClient, uri: str, version: int, text: str) -> None:
    client.notify(
        "textDocument/didChange",
        {"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]},
    )


def _ask_next_edit(client: RawClient, uri: str, request_id: int) -> None:
    params = {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}}
    client.send({"jsonrpc": "2.0", "id": request_id, "method": "spark/nextEdit", "params": params})


def _prompt_request(client: RawClient, name: str, opened: bool = False) -> None:
    """spark/debug/prompt for a small document: refused without a model, after the document's
    first one has looked at its path and context in worker threads."""
    uri = f"{PROBE_FOLDER}/{name}.py"
    if not opened:
        item = {"uri": uri, "languageId": "python", "version": 1, "text": "x = 1\n"}
        client.notify("textDocument/didOpen", {"textDocument": item})
    position = {"line": 0, "character": 0}
    client.request("spark/debug/prompt", {"textDocument": {"uri": uri}, "position": position})


def _slowest_probe(client: RawClient, fresh_documents: bool) -> float:
    """The longest wait, over a second and a half of requests one after the other, for one
    answered on the event loop alone (counters) or a prompt request, for a new document each
    time (``fresh_documents``: it needs worker threads) or for the one warmed already."""
    slowest = 0.0
    until = time.monotonic() + 1.5
    index = 0
    while time.monotonic() < until:
        started = time.monotonic()
        client.request("spark/debug/counters", timeout=60)
        slowest = max(slowest, time.monotonic() - started)
        name = f"fresh_{index}" if fresh_documents else "warm"
        started = time.monotonic()
        _prompt_request(client, name, opened=not fresh_documents)
        slowest = max(slowest, time.monotonic() - started)
        index += 1
        time.sleep(0.02)
    return slowest


def test_the_server_answers_while_repetitive_next_edits_are_computed() -> None:
    """300 generated lines rewritten, and a next edit asked at each of a dozen versions
    (today's difflib took 14 s each and held every worker thread)."""
    uri = "file:///tmp/spark-next-edit-bounds/generated.py"
    client = _server()
    try:
        item = {"uri": uri, "languageId": "python", "version": 1, "text": GENERATED * 300}
        client.notify("textDocument/didOpen", {"textDocument": item})
        for version in range(2, 14):
            _replace_text(client, uri, version, (SHUFFLED, GENERATED)[version % 2] * 300)
            _ask_next_edit(client, uri, 1000 + version)
        client.request("spark/debug/counters", timeout=60)
        time.sleep(0.2)
        assert _slowest_probe(client, fresh_documents=True) < ANSWER_BOUND_S
        last = client.wait_for(lambda message: message.get("id") == 1013, timeout=30)
        assert last["result"]["edits"] == []
    finally:
        client.close()


ROW = "    [1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9],\n"
TABLE = "TABLE = [\n" + ROW * 8000 + "]\n"
FUNCTION = "def scale(count):\n    total = count + 1\n    return total * count\n"


def test_the_server_answers_while_a_megabyte_document_s_next_edit_is_computed() -> None:
    """A 1 MB data table with a function in its middle: a rename there (the gate once parsed
    the whole document, twice, a second each); then the document replaced whole (once
    tokenized whole, and compared for ever). The prompt probe is warmed first: a document's
    first prompt reads every open document (0.3 s with this one), next edits or not."""
    uri = "file:///tmp/spark-next-edit-bounds/table.py"
    text = TABLE + FUNCTION + TABLE.replace("TABLE", "OTHER")
    assert len(text) > 1_000_000
    client = _server()
    try:
        item = {"uri": uri, "languageId": "python", "version": 1, "text": text}
        client.notify("textDocument/didOpen", {"textDocument": item})
        _prompt_request(client, "warm")
        middle = TABLE.count("\n")
        _replace_text(client, uri, 2, text.replace("def scale(count)", "def scale(amount)"))
        client.request("spark/debug/counters", timeout=60)
        _ask_next_edit(client, uri, 2000)
        time.sleep(0.2)
        assert _slowest_probe(client, fresh_documents=False) < ANSWER_BOUND_S
        renamed = client.wait_for(lambda message: message.get("id") == 2000, timeout=30)
        assert renamed["result"]["source"] == "substitution"
        (edit,) = renamed["result"]["edits"]
        assert (edit["range"]["start"]["line"], edit["range"]["end"]["line"]) == (
            middle + 1,
            middle + 3,
        )
        assert edit["text"] == "    total = amount + 1\n    return total * amount\n"

        _replace_text(client, uri, 3, GENERATED * 100_000)
        client.request("spark/debug/counters", timeout=60)
        _ask_next_edit(client, uri, 2001)
        time.sleep(0.2)
        assert _slowest_probe(client, fresh_documents=False) < ANSWER_BOUND_S
        whole = client.wait_for(lambda message: message.get("id") == 2001, timeout=30)
        assert whole["result"]["edits"] == []
    finally:
        client.close()


# -- nothing of a closed document survives; the model's job is cancellable -----------------

URI = "file:///tmp/spark-next-edit-bounds/stats.py"
SOURCE = "def mean(values):\n    count = len(values)\n    return sum(values) / count\n"


# Measured: 2 MiB with the fix; the bound leaves room for allocator slack.
CHURN_GROWTH_BOUND_MIB = 50


def _snapshot(version: int, text: str, uri: str = URI) -> DocumentSnapshot:
    return DocumentSnapshot(uri, "python", version, _lines(text))


def test_churned_documents_leave_nothing_behind() -> None:
    """200 documents opened, asked for a next edit and closed, the close landing at each step
    of the answer."""

    async def no_worker() -> None:
        return None

    service = NextEditService(no_worker, lambda uri: False)
    renamed = SOURCE.replace("    count = len", "    total = len")

    async def churn() -> None:
        for round_index in range(200):
            uri = f"file:///tmp/spark-next-edit-bounds/churn_{round_index}.py"
            service.opened(_snapshot(1, SOURCE, uri))
            asking = asyncio.ensure_future(service.suggest(_snapshot(2, renamed, uri)))
            for _ in range(round_index % 4):  # close before, as, or after the answer starts
                await asyncio.sleep(0)
            service.closed(uri)
            await asking
            await asyncio.sleep(0)

    asyncio.run(churn())
    assert service.tracked() == 0


def test_two_hundred_documents_churned_through_the_server_leave_its_memory_flat() -> None:
    """open, edit, spark/nextEdit, close, 200 times over 300 KB documents; without the fix the
    closed documents' next edits queued up (230 MiB)."""
    text = "".join(
        f"def f_{i}(count_{i}):\n    total = count_{i} + 1\n    return total * count_{i}\n"
        for i in range(5_000)
    )
    client = _server()

    def churn(rounds: range) -> None:
        for index in rounds:
            uri = f"file:///tmp/spark-next-edit-bounds/churn_{index}.py"
            item = {"uri": uri, "languageId": "python", "version": 1, "text": text}
            client.notify("textDocument/didOpen", {"textDocument": item})
            start, end = {"line": 3, "character": 6}, {"line": 3, "character": 13}
            change = {"range": {"start": start, "end": end}, "text": "amount"}
            client.notify(
                "textDocument/didChange",
                {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [change]},
            )
            _ask_next_edit(client, uri, 3000 + index)
            client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
        client.request("spark/debug/counters", timeout=120)

    try:
        churn(range(20))
        before = rss_mib(client.process.pid)
        churn(range(20, 200))
        time.sleep(1)
        growth = rss_mib(client.process.pid) - before
        assert growth < CHURN_GROWTH_BOUND_MIB, f"RSS grew {growth:.0f} MiB"
    finally:
        client.close()


def _service_on(engine: FakeEngine) -> tuple[NextEditService, InferenceWorker]:
    worker = InferenceWorker(engine)

    async def loaded() -> InferenceWorker:
        return worker

    return NextEditService(loaded, lambda uri: False), worker


# An edit with no substitution: the model is asked.
NO_SUBSTITUTION = SOURCE.replace("values):", "values, default=0.0):")


class RecordingEngine(FakeEngine):
    """A fake engine that keeps each result, and says when a generation starts."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.started = threading.Event()
        self.results: list[GenerationResult] = []

    def generate(
        self, request: GenerationRequest, cancel: CancelToken, on_text: TokenCallback | None = None
    ) -> GenerationResult:
        self.started.set()
        result = super().generate(request, cancel, on_text)
        self.results.append(result)
        return result


def test_closing_the_document_cancels_its_model_job() -> None:
    # About 110 words at 50 ms each: 5 s unless cancelled.
    engine = RecordingEngine(lambda request: "word " * 2000, delay_per_token_s=0.05)
    service, worker = _service_on(engine)

    async def close_while_generating() -> None:
        service.opened(_snapshot(1, SOURCE))
        asking = asyncio.ensure_future(service.suggest(_snapshot(2, NO_SUBSTITUTION)))
        while not engine.started.is_set():
            await asyncio.sleep(0.01)
        service.closed(URI)
        assert await asking is None

    try:
        asyncio.run(asyncio.wait_for(close_while_generating(), 10))
        deadline = time.monotonic() + 10
        while not engine.results and time.monotonic() < deadline:
            time.sleep(0.05)
        (result,) = engine.results
        assert result.stop_reason is StopReason.CANCELLED
        assert service.tracked() == 0
    finally:
        worker.stop()


def test_an_engine_failure_is_an_error_not_an_empty_answer() -> None:
    def failing(request: GenerationRequest) -> str:
        raise EngineError("the GPU is gone")

    engine = FakeEngine(failing)
    service, worker = _service_on(engine)
    feature = NextEdits(lambda uri: _snapshot(2, NO_SUBSTITUTION), service)
    params = {"textDocument": {"uri": URI, "version": 2}}

    async def ask() -> None:
        service.opened(_snapshot(1, SOURCE))
        with pytest.raises(NextEditFailed, match="the GPU is gone"):
            await service.suggest(_snapshot(2, NO_SUBSTITUTION))
        # Over LSP: a RequestFailed error for spark/nextEdit; an inline completion that
        # falls back to the next edit simply has none.
        with pytest.raises(RequestFailed, match="the GPU is gone"):
            await feature.next_edit(params)
        assert await feature.for_inline(_snapshot(2, NO_SUBSTITUTION), invoked=True) is None

    try:
        asyncio.run(ask())
    finally:
        worker.stop()
