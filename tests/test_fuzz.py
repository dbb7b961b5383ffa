"""The JSON-RPC fuzzer's short run, and hypothesis over each method's params and over frames.

The full run is ``spark-lsp bench fuzz`` (100,000 messages); these keep the same guarantees on
every test run: no crash, every request answered, documents untouched by junk.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from spark_lsp.bench.fuzz import INTERNAL_ERROR, METHODS, Harness, fuzz

URI = "file:///fuzz/kept.py"
TEXT = "def f(x):\r\n    return '😀\U0001d518'\n\nclass A:\r    pass\n"
KEYS = ["uri", "textDocument", "position", "line", "character", "range", "start", "end"]
KEYS += ["context", "triggerKind", "text", "version", "data", "command", "arguments", "items"]
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(exclude_categories=()), max_size=8)  # lone surrogates included
    | st.sampled_from([URI, "file:///missing.py", "", "untitled:x"])
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=4), children, max_size=5)
    ),
    max_leaves=25,
)
# didChange, didOpen and didClose junk changes documents on purpose: the fuzzer's reference
# model checks those; here every other method must leave the document alone.
REQUEST_METHODS = [m for m in METHODS if not m.startswith("textDocument/did")]
REQUEST_METHODS += ["textDocument/didSave", "textDocument/didShowCompletion"]


class Session:
    """One server (fake engine) on one event loop, kept across hypothesis examples."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.harness: Harness = self.loop.run_until_complete(self._start())
        self._next_id = 100

    async def _start(self) -> Harness:
        harness = Harness()
        harness.send(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {"processId": None, "rootUri": None, "capabilities": {}},
            }
        )
        harness.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        item = {"uri": URI, "languageId": "python", "version": 1, "text": TEXT}
        harness.send(
            {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": item}}
        )
        return harness

    def request(self, method: str, params: Any, raw: bytes | None = None) -> dict[str, Any]:
        """Send a request (or raw bytes, then a request) and return its answer."""
        self._next_id += 1
        message_id = self._next_id
        if raw is not None:
            self.harness.send_bytes(raw)
        message = {"jsonrpc": "2.0", "id": message_id, "method": method, "params": params}
        self.harness.send(message)
        return self.loop.run_until_complete(self._answer(message_id))

    async def _answer(self, message_id: int) -> dict[str, Any]:
        for _ in range(2000):
            await asyncio.sleep(0.005)
            for message in list(self.harness.output.messages):
                if "method" in message and "id" in message:  # answer the server's requests
                    self.harness.send({"jsonrpc": "2.0", "id": message["id"], "result": None})
                elif message.get("id") == message_id:
                    self.harness.output.messages.clear()
                    return message
            self.harness.output.messages.clear()
        raise AssertionError(f"request {message_id} was never answered")

    def document(self) -> tuple[str, int, bool]:
        document = self.harness.server.store.get(URI)
        assert document is not None
        return document.text, document.version, document.out_of_sync_reason is None

    def close(self) -> None:
        self.harness.close()
        self.loop.run_until_complete(asyncio.sleep(0.05))
        self.loop.close()


@pytest.fixture(scope="module")
def session() -> Iterator[Session]:
    session = Session()
    yield session
    session.close()


def assert_not_internal(answer: dict[str, Any]) -> None:
    error = answer.get("error")
    assert not (isinstance(error, dict) and error.get("code") == INTERNAL_ERROR), answer


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(method=st.sampled_from(REQUEST_METHODS), params=json_values)
def test_junk_params_are_answered_and_leave_documents_alone(
    session: Session, method: str, params: Any
) -> None:
    assert_not_internal(session.request(method, params))
    assert session.document() == (TEXT, 1, True)


positions = st.fixed_dictionaries(
    {"line": st.integers(-3, 2**40), "character": st.integers(-3, 2**40)}
) | st.fixed_dictionaries({"line": st.integers(0, 6), "character": st.integers(0, 40)})


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    method=st.sampled_from(
        [
            "textDocument/inlineCompletion",
            "textDocument/completion",
            "spark/debug/prompt",
            "textDocument/codeAction",
        ]
    ),
    start=positions,
    end=positions,
    trigger=st.sampled_from([1, 2, 0, 3, "1", None]),
)
def test_near_valid_positions_are_answered(
    session: Session, method: str, start: Any, end: Any, trigger: Any
) -> None:
    """Well-formed requests with out-of-range, negative, huge and mid-surrogate positions."""
    params: dict[str, Any] = {
        "textDocument": {"uri": URI},
        "position": start,
        "context": {"triggerKind": trigger, "diagnostics": []},
    }
    if method == "textDocument/codeAction":
        params["range"] = {"start": start, "end": end}
    assert_not_internal(session.request(method, params))
    assert session.document() == (TEXT, 1, True)


header_lines = st.lists(
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40), max_size=3
)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    body=st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()),
    headers=header_lines,
)
@example(body=b"\x00", headers=["Content-Length"])  # once left its body to eat the next frame
@example(body=b"{}", headers=["Content-Length: 7"])  # two lengths: the true one is not known
def test_junk_frames_do_not_stop_the_server(
    session: Session, body: bytes, headers: list[str]
) -> None:
    """Any body (bytes or JSON of any shape) with any extra header lines; the next request is
    answered, even when the broken frame's body is left in the stream. A frame with one
    Content-Length that lies cannot be recovered from in a byte stream, so the length here is
    true."""
    extra = b"".join(line.encode() + b"\r\n" for line in headers if ":" not in line[:1])
    frame = extra + b"Content-Length: %d\r\n\r\n" % len(body) + body
    answer = session.request("spark/debug/counters", None, raw=frame)
    assert "result" in answer, answer
    assert session.document() == (TEXT, 1, True)


@pytest.mark.parametrize("seed", [11, 12])
def test_fuzzer_short_run(seed: int) -> None:
    report = fuzz(seed, 3000)
    assert report.messages >= 3000
    assert report.ok, (
        report.internal_errors[:3],
        report.logged_errors[:3],
        report.mismatches[:3],
        report.unanswered_methods,
    )
    assert report.answered == report.requests > 500
    assert report.documents_checked > 20
