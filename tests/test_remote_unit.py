"""The remote backend's logic against a small fake HTTP/1.1 server: request bodies and stream
chunks per dialect, streaming with stop strings and budgets, connection reuse, the API key,
retries, refused and hung servers, broken streams, cancellation, health reports, the local
fallback and what servers tell about themselves. No model, no real inference server."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from spark_lsp import templates
from spark_lsp.engine.base import (
    CancelToken,
    ChatPrompt,
    EngineError,
    GenerationRequest,
    InfillPrompt,
    StopReason,
    TextPrompt,
)
from spark_lsp.engine.fake import FakeEngine
from spark_lsp.engine.fallback import FallbackEngine
from spark_lsp.engine.remote import dialects
from spark_lsp.engine.remote.engine import DEFAULT_CONTEXT, RemoteEngine, api_key
from spark_lsp.engine.remote.errors import (
    RemoteMalformed,
    RemoteRejected,
    RemoteUnavailable,
)
from spark_lsp.engine.remote.server_info import LLAMA_CPP, OPENAI, ServerInfo, probe
from spark_lsp.engine.remote.transport import Transport
from spark_lsp.engine.settings import EngineSettings

# -- the fake server ------------------------------------------------------------------------------

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[bool]]
REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: Any


class FakeServer:
    """A raw HTTP/1.1 server on its own event loop in a thread. Each path answers with a script
    of handlers, taken one per request, the last one repeated; a handler returns whether the
    connection stays open. It records every request and counts the connections it accepted."""

    def __init__(self) -> None:
        self.routes: dict[str, list[Handler]] = {"/v1/models": [self.reply(MODELS)]}
        self.requests: list[Request] = []
        self.connections = 0
        self.client_left = threading.Event()  # a client closed while we held a response open
        self._tasks: set[asyncio.Task[None]] = set()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self._server = self._run(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    def _run(self, coroutine: Awaitable[Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(10)  # type: ignore[arg-type]

    def route(self, path: str, *handlers: Handler) -> None:
        self.routes[path] = list(handlers)

    def to(self, path: str) -> list[Request]:
        return [request for request in self.requests if request.path == path]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._tasks.add(asyncio.current_task())  # type: ignore[arg-type]
        try:
            while line := await reader.readline():
                method, path, _ = line.decode().split(" ", 2)
                headers = {}
                while (header := await reader.readline()).strip():
                    name, _, value = header.decode().partition(":")
                    headers[name.strip().lower()] = value.strip()
                raw = await reader.readexactly(int(headers.get("content-length", 0)))
                self.requests.append(Request(method, path, headers, json.loads(raw or "null")))
                script = self.routes.get(path) or [self.reply({"error": "no such path"}, 404)]
                handler = script.pop(0) if len(script) > 1 else script[0]
                if not await handler(reader, writer):
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    @staticmethod
    def reply(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Handler:
        """A JSON answer with a Content-Length; the connection is kept alive."""
        data = json.dumps(body).encode()
        extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        head = f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}\r\n{extra}"
        head += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
            writer.write(head.encode() + data)
            await writer.drain()
            return True

        return handler

    def stream(
        self, *events: Any, delay: float = 0.0, chunked: bool = True, end: str = "finish"
    ) -> Handler:
        """Server-sent events (dicts as JSON, strings as they are), chunked or until the
        connection closes. ``end``: finish (a clean end), abort (the socket dies without the
        terminating chunk) or hold (keep the response open until the client leaves, 10 s)."""
        framing = "Transfer-Encoding: chunked" if chunked else "Connection: close"
        head = f"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n{framing}\r\n\r\n"

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
            writer.write(head.encode())
            for event in events:
                if isinstance(event, str) and event.startswith(("error:", ":")):
                    data = f"{event}\n\n"  # a field other than data, or a comment
                else:
                    data = f"data: {event if isinstance(event, str) else json.dumps(event)}\n\n"
                payload = data.encode()
                writer.write(b"%x\r\n%s\r\n" % (len(payload), payload) if chunked else payload)
                await writer.drain()
                await asyncio.sleep(delay)
            if end == "abort":
                writer.transport.abort()
                return False
            if end == "hold":
                await self._until_client_leaves(reader)
                return False
            if chunked:
                writer.write(b"0\r\n\r\n")
                await writer.drain()
            return chunked

        return handler

    @staticmethod
    def drop() -> Handler:
        """Close the connection without answering (a kept-alive connection the server ends)."""

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
            return False

        return handler

    def hang(self) -> Handler:
        """Read the request, never answer."""

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
            await self._until_client_leaves(reader)
            return False

        return handler

    async def _until_client_leaves(self, reader: asyncio.StreamReader) -> None:
        try:
            if await asyncio.wait_for(reader.read(1), 10) == b"":
                self.client_left.set()
        except ConnectionError:
            self.client_left.set()
        except TimeoutError:
            pass

    def close(self) -> None:
        async def stop() -> None:
            self._server.close()
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

        self._run(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()


MODELS = {"object": "list", "data": [{"id": "test-model", "object": "model"}]}


def text_chunk(text: str, finish: str | None = None) -> dict[str, Any]:
    return {
        "object": "text_completion",
        "choices": [{"index": 0, "text": text, "finish_reason": finish}],
    }


def free_port() -> int:
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        return probe_socket.getsockname()[1]


@pytest.fixture
def server() -> Iterator[FakeServer]:
    fake = FakeServer()
    yield fake
    fake.close()


@pytest.fixture
def engines() -> Iterator[Callable[..., RemoteEngine]]:
    """Makes remote engines for a URL and closes them all when the test ends."""
    made: list[RemoteEngine] = []

    def make(
        url: str,
        *,
        retries: int = 0,
        timeout_s: float = 5.0,
        key: str | None = None,
        reuse: bool = True,
        info: ServerInfo | None = None,
        on_health: Callable[[str | None], None] | None = None,
        **settings: Any,
    ) -> RemoteEngine:
        transport = Transport(url, key, timeout_s, retries, reuse_connections=reuse)
        engine_settings = EngineSettings(backend="remote", endpoint=url, **settings)
        made.append(RemoteEngine(engine_settings, transport, info, on_health))
        return made[-1]

    yield make
    for engine in made:
        engine.close()


def completion(*stop: str, **fields: Any) -> GenerationRequest:
    return GenerationRequest(TextPrompt("def f():"), max_tokens=32, stop=stop, **fields)


def run(engine: RemoteEngine, request: GenerationRequest, cancel: CancelToken | None = None):
    pieces: list[str] = []
    result = engine.generate(request, cancel or CancelToken(), pieces.append)
    return result, pieces


# -- 1. dialects --------------------------------------------------------------------------------


def test_infill_body_for_llama_cpp() -> None:
    prompt = InfillPrompt(
        "def add(a, b):\n    ", "\n\nprint(add(1, 2))\n", "main.py", (("util.py", "X = 1\n"),)
    )
    request = GenerationRequest(prompt, max_tokens=48, stop=("\n\n",))
    options = dialects.Options(
        "m", templates.QWEN25_CODER, use_infill=True, llama_cpp=True, slot=3, server_stops=("\n\n",)
    )
    call = dialects.build(request, options)
    assert call.path == "/infill"
    assert call.body == {
        "stream": True,
        "temperature": 0.0,
        "stop": ["\n\n"],
        "cache_prompt": True,
        "id_slot": 3,
        "input_prefix": "def add(a, b):\n    ",
        "input_suffix": "\n\nprint(add(1, 2))\n",
        "input_extra": [{"filename": "util.py", "text": "X = 1\n"}],
        "prompt": "",
        "n_predict": 48,
        "samplers": ["top_k"],
        "top_k": 1,
    }
    # Not llama.cpp's server (or no slot known): no cache fields, no slot.
    plain = dialects.build(request, dialects.Options("m", templates.QWEN25_CODER, True, False))
    assert "cache_prompt" not in plain.body and "id_slot" not in plain.body
    assert "stop" not in plain.body


def test_infill_without_infill_renders_the_fim_template() -> None:
    request = GenerationRequest(InfillPrompt("def f(", "):\n", "a.py", (("b.py", "B = 2\n"),)), 16)
    call = dialects.build(request, dialects.Options("qwen", templates.QWEN25_CODER, False, False))
    assert call.path == "/v1/completions"
    assert call.body["prompt"] == (
        "<|repo_name|>\n<|file_sep|>b.py\nB = 2\n<|file_sep|>a.py\n"
        "<|fim_prefix|>def f(<|fim_suffix|>):\n<|fim_middle|>"
    )
    assert call.body["model"] == "qwen"
    assert call.body["max_tokens"] == 16
    assert call.body["stream"] is True and call.body["temperature"] == 0.0
    assert call.body["stream_options"] == {"include_usage": True}
    bare = GenerationRequest(InfillPrompt("x = ", "\n"))
    unnamed = dialects.build(bare, dialects.Options("", templates.QWEN25_CODER, False, False))
    assert unnamed.body["prompt"] == "<|fim_prefix|>x = <|fim_suffix|>\n<|fim_middle|>"
    assert "model" not in unnamed.body  # the server's only model
    prefix_only = dialects.build(bare, dialects.Options("", templates.PREFIX_ONLY, False, False))
    assert prefix_only.body["prompt"] == "x = "


def test_text_and_chat_bodies() -> None:
    options = dialects.Options("m", templates.PREFIX_ONLY, use_infill=True, llama_cpp=True)
    text = dialects.build(GenerationRequest(TextPrompt("Once"), max_tokens=5), options)
    assert text.path == "/v1/completions"
    assert text.body["prompt"] == "Once" and text.body["max_tokens"] == 5
    assert text.body["cache_prompt"] is True and "id_slot" not in text.body
    messages = (("system", "Be brief."), ("user", "Fix this."))
    chat = dialects.build(GenerationRequest(ChatPrompt(messages), max_tokens=7), options)
    assert chat.path == "/v1/chat/completions"
    assert chat.body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Fix this."},
    ]
    assert chat.body["max_tokens"] == 7 and chat.body["model"] == "m"
    assert "prompt" not in chat.body


def test_parse_llama_cpp_infill_chunks() -> None:
    piece = dialects.parse(json.dumps({"content": "ret", "stop": False}), "/infill")
    assert (piece.text, piece.finish, piece.done) == ("ret", None, False)
    for stop_type, reason in (
        ("eos", StopReason.EOS),
        ("limit", StopReason.LENGTH),
        ("word", StopReason.STOP),
    ):
        last = {
            "content": "",
            "stop": True,
            "stop_type": stop_type,
            "tokens_evaluated": 120,
            "timings": {"prompt_n": 7, "predicted_n": 3},
        }
        chunk = dialects.parse(json.dumps(last), "/infill")
        assert (chunk.finish, chunk.done) == (reason, True)
        assert (chunk.prompt_tokens, chunk.evaluated_tokens) == (120, 7)


def test_parse_openai_completion_and_chat_chunks() -> None:
    piece = dialects.parse(json.dumps(text_chunk("abc")), "/v1/completions")
    assert (piece.text, piece.finish, piece.done) == ("abc", None, False)
    last = dialects.parse(json.dumps(text_chunk("", "length")), "/v1/completions")
    assert last.finish is StopReason.LENGTH and not last.done
    assert (
        dialects.parse(json.dumps(text_chunk("", "stop")), "/v1/completions").finish
        is StopReason.STOP
    )
    role = {"choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]}
    assert dialects.parse(json.dumps(role), "/v1/chat/completions").text == ""
    delta = {"choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}]}
    assert dialects.parse(json.dumps(delta), "/v1/chat/completions").text == "Hi"
    usage = {
        "choices": [],
        "usage": {
            "prompt_tokens": 100,
            "completion_tokens": 3,
            "prompt_tokens_details": {"cached_tokens": 64},
        },
    }
    counted = dialects.parse(json.dumps(usage), "/v1/completions")
    assert (counted.text, counted.prompt_tokens, counted.evaluated_tokens) == ("", 100, 36)
    no_details = dialects.parse(
        json.dumps({"choices": [], "usage": {"prompt_tokens": 9}}), "/v1/completions"
    )
    assert (no_details.prompt_tokens, no_details.evaluated_tokens) == (9, None)
    assert dialects.parse("[DONE]", "/v1/completions").done
    assert dialects.parse(" [DONE] ", "/v1/chat/completions").done


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ("not json", "/v1/completions"),
        ("{'single': 'quotes'}", "/infill"),
        ("[1, 2]", "/v1/completions"),
        ('"text"', "/infill"),
        ("{}", "/infill"),  # no content
        ('{"content": 5}', "/infill"),
        ('{"content": null, "stop": true}', "/infill"),
        ('{"choices": [{"text": 5}]}', "/v1/completions"),
        ('{"choices": 5}', "/v1/completions"),
        ('{"choices": [null]}', "/v1/completions"),
        ('{"choices": [{"delta": "Hi"}]}', "/v1/chat/completions"),
        ('{"choices": [{"delta": {"content": ["Hi"]}}]}', "/v1/chat/completions"),
    ],
)
def test_parse_malformed_chunks(data: str, path: str) -> None:
    with pytest.raises(RemoteMalformed, match=path):
        dialects.parse(data, path)


def test_parse_error_chunk_is_rejected_with_its_message() -> None:
    body = {"error": {"code": 400, "message": "the prompt exceeds the context", "type": "invalid"}}
    with pytest.raises(RemoteRejected, match="the prompt exceeds the context"):
        dialects.parse(json.dumps(body), "/v1/completions")
    with pytest.raises(RemoteRejected, match="out of memory"):
        dialects.parse('{"error": "out of memory"}', "/infill")


# -- 2. streaming through the engine ----------------------------------------------------------


def test_streamed_completion_reaches_on_text_in_order(server: FakeServer, engines) -> None:
    pieces = ["def ", "f(x)", ":\n", "    return x"]
    usage = {
        "choices": [],
        "usage": {"prompt_tokens": 12, "prompt_tokens_details": {"cached_tokens": 10}},
    }
    server.route(
        "/v1/completions",
        server.stream(*(text_chunk(p) for p in pieces), text_chunk("", "stop"), usage, "[DONE]"),
    )
    engine = engines(server.url)
    result, received = run(engine, completion())
    assert received == pieces
    assert "".join(received) == result.text == "def f(x):\n    return x"
    assert result.stop_reason is StopReason.STOP
    assert (result.stats.prompt_tokens, result.stats.tokens_evaluated) == (12, 2)
    assert result.stats.tokens_generated == 4
    # It asked the server about itself first, then sent the request with the listed model.
    assert [r.path for r in server.requests][:2] == ["/props", "/v1/models"]
    assert engine.info is not None and engine.info.kind == OPENAI
    (sent,) = server.to("/v1/completions")
    assert sent.method == "POST"
    assert sent.body["model"] == "test-model" and sent.body["prompt"] == "def f():"
    assert sent.body["stream"] is True


def test_stop_string_split_across_chunks_is_cut(server: FakeServer, engines) -> None:
    server.route(
        "/v1/completions",
        server.stream(
            text_chunk("abc\nE"), text_chunk("ND more"), text_chunk(" and more"), "[DONE]"
        ),
    )
    engine = engines(server.url)
    result, received = run(engine, completion("\nEND"))
    assert (result.text, result.stop_reason) == ("abc", StopReason.STOP)
    assert "".join(received) == "abc"
    assert not any("E" in piece or "more" in piece for piece in received)
    assert server.to("/v1/completions")[0].body["stop"] == ["\nEND"]  # the server applies it too


def test_stop_after_text_skips_a_leading_newline(server: FakeServer, engines) -> None:
    server.route(
        "/v1/completions",
        server.stream(*(text_chunk(p) for p in ("\n", "    return x", "\n", "print(1)")), "[DONE]"),
    )
    engine = engines(server.url)
    result, received = run(engine, completion("\n", stop_after_text=True))
    assert (result.text, result.stop_reason) == ("\n    return x", StopReason.STOP)
    assert "".join(received) == result.text
    # Only the engine knows "after text": the server must not stop at the first newline.
    assert "stop" not in server.to("/v1/completions")[0].body


def test_connection_close_framing_and_llama_cpp_infill(server: FakeServer, engines) -> None:
    info = ServerInfo(LLAMA_CPP, ("qwen2.5-coder-1.5b",), 4096, 4, "/tokenize")
    last = {"content": "", "stop": True, "stop_type": "limit", "timings": {"prompt_n": 5}}
    server.route(
        "/infill",
        server.stream({"content": "a + b", "stop": False}, last, chunked=False),
    )
    engine = engines(server.url, info=info)
    request = GenerationRequest(InfillPrompt("return ", "\n"), max_tokens=2, key="main.py")
    result, received = run(engine, request)
    assert (result.text, result.stop_reason, received) == ("a + b", StopReason.LENGTH, ["a + b"])
    assert result.stats.tokens_evaluated == 5
    (sent,) = server.to("/infill")
    assert sent.body["cache_prompt"] is True and sent.body["id_slot"] in range(4)
    assert sent.body["input_prefix"] == "return " and sent.body["n_predict"] == 2
    assert server.to("/props") == []  # the given info was used, no probe


# -- 3. connection reuse ------------------------------------------------------------------------


def finished_stream(server: FakeServer) -> Handler:
    return server.stream(text_chunk("x"), text_chunk("", "stop"), "[DONE]")


def test_json_requests_share_one_connection(server: FakeServer, engines) -> None:
    server.route("/tokenize", server.reply({"tokens": [1]}))
    transport = engines(server.url).transport
    for _ in range(3):
        assert transport.get_json("/v1/models") == MODELS
        assert transport.post_json("/tokenize", {"content": "x"}) == {"tokens": [1]}
    assert (len(server.requests), server.connections) == (6, 1)


def test_streamed_requests_share_one_connection(server: FakeServer, engines) -> None:
    server.route("/v1/completions", finished_stream(server))
    engine = engines(server.url)
    for _ in range(3):
        assert run(engine, completion())[0].text == "x"
    assert len(server.to("/v1/completions")) == 3
    assert len(server.requests) >= 5  # with the probe's requests
    assert server.connections == 1


def test_a_kept_alive_connection_the_server_closed_is_replaced_at_once(
    server: FakeServer, engines
) -> None:
    """llama.cpp's server ends a kept-alive connection after a few requests; a request sent on
    it just then is answered by no one, and goes out again on a new connection (even with no
    retries configured: the server never saw it)."""
    done = finished_stream(server)
    server.route("/v1/completions", done, server.drop(), done)
    engine = engines(server.url, retries=0)
    assert run(engine, completion())[0].text == "x"
    started = time.perf_counter()
    assert run(engine, completion())[0].text == "x"
    assert time.perf_counter() - started < 1.0  # no backoff
    assert len(server.to("/v1/completions")) == 3
    assert server.connections == 2


def test_without_reuse_each_request_opens_a_connection(server: FakeServer, engines) -> None:
    server.route("/v1/completions", finished_stream(server))
    engine = engines(server.url, reuse=False)
    for _ in range(3):
        assert run(engine, completion())[0].text == "x"
    assert server.connections == len(server.requests) >= 5


# -- 4. the API key -----------------------------------------------------------------------------

SECRET = "sk-test-0123456789abcdef"


def test_api_key_goes_into_the_authorization_header(
    server: FakeServer, engines, monkeypatch
) -> None:
    server.route("/v1/completions", finished_stream(server))
    monkeypatch.setenv("SPARK_TEST_KEY", SECRET)
    settings = EngineSettings(backend="remote", endpoint=server.url, api_key_env="SPARK_TEST_KEY")
    assert api_key(settings) == SECRET
    keyed = engines(server.url, key=api_key(settings))
    run(keyed, completion())
    assert {r.headers.get("authorization") for r in server.requests} == {f"Bearer {SECRET}"}
    monkeypatch.delenv("SPARK_TEST_KEY")
    assert api_key(settings) is None
    monkeypatch.setenv("SPARK_TEST_KEY", "")
    assert api_key(settings) is None  # an empty variable is no key
    server.requests.clear()
    run(engines(server.url, key=api_key(settings)), completion())
    assert server.requests and all("authorization" not in r.headers for r in server.requests)


def test_a_refused_key_is_reported_without_its_value(server: FakeServer, engines) -> None:
    refused = {"error": {"message": "Invalid API Key", "type": "authentication_error"}}
    server.route("/v1/models", server.reply(refused, 401))
    server.route("/v1/completions", server.reply(refused, 401))
    engine = engines(server.url, key=SECRET, retries=2)
    with pytest.raises(RemoteRejected) as probing:
        run(engine, completion())
    engine.info = ServerInfo(OPENAI, ("test-model",), None, 0, None)
    with pytest.raises(RemoteRejected) as streaming:
        run(engine, completion())
    for error in (probing.value, streaming.value):
        assert "refused the API key" in str(error) and "Invalid API Key" in str(error)
        assert SECRET not in str(error) and SECRET not in repr(error)
    assert len(server.to("/v1/completions")) == 1  # a 401 is not retried


# -- 5. retries ---------------------------------------------------------------------------------

KNOWN = ServerInfo(OPENAI, ("test-model",), None, 0, None)  # skips the probe


def test_503_then_success_is_retried(server: FakeServer, engines) -> None:
    busy = server.reply({"error": {"message": "busy"}}, 503)
    server.route("/v1/completions", busy, busy, finished_stream(server))
    engine = engines(server.url, retries=2, info=KNOWN)
    assert run(engine, completion())[0].text == "x"
    assert len(server.to("/v1/completions")) == 3


def test_503_without_retries_is_unavailable(server: FakeServer, engines) -> None:
    server.route(
        "/v1/completions",
        server.reply({"error": {"message": "busy"}}, 503),
        finished_stream(server),
    )
    engine = engines(server.url, retries=0, info=KNOWN)
    with pytest.raises(RemoteUnavailable, match=r"503 \(busy\)"):
        run(engine, completion())
    assert len(server.to("/v1/completions")) == 1


def test_400_is_not_retried(server: FakeServer, engines) -> None:
    too_long = server.reply({"error": {"message": "prompt too long"}}, 400)
    server.route("/v1/completions", too_long, finished_stream(server))
    engine = engines(server.url, retries=2, info=KNOWN)
    with pytest.raises(RemoteRejected, match="400 \\(prompt too long\\)"):
        run(engine, completion())
    assert len(server.to("/v1/completions")) == 1


def test_429_with_retry_after_is_retried(server: FakeServer, engines) -> None:
    limited = server.reply({"error": {"message": "slow down"}}, 429, {"Retry-After": "0"})
    server.route("/v1/completions", limited, finished_stream(server))
    engine = engines(server.url, retries=1, info=KNOWN)
    started = time.perf_counter()
    assert run(engine, completion())[0].text == "x"
    assert len(server.to("/v1/completions")) == 2
    assert time.perf_counter() - started < 1.0  # Retry-After 0: no backoff


# -- 6. refused, 7. hung, 8. broken ---------------------------------------------------------


def test_refused_connection_is_unavailable_after_retries(engines) -> None:
    engine = engines(f"http://127.0.0.1:{free_port()}", retries=2)
    started = time.perf_counter()
    with pytest.raises(RemoteUnavailable, match=r"127\.0\.0\.1") as caught:
        run(engine, completion())
    elapsed = time.perf_counter() - started
    assert 0.2 < elapsed < 3.0  # backoff 0.1 s and 0.2 s (with jitter), then give up
    assert "connection refused" in str(caught.value)
    assert "/props" in str(caught.value)  # the probe was the first request


def test_hung_server_times_out(server: FakeServer, engines) -> None:
    server.route("/v1/completions", server.hang())
    engine = engines(server.url, timeout_s=0.5, retries=2, info=KNOWN)
    started = time.perf_counter()
    with pytest.raises(RemoteUnavailable, match="timed out"):
        run(engine, completion())
    assert time.perf_counter() - started < 2.0
    assert len(server.to("/v1/completions")) == 1  # a read timeout is not retried


def test_hung_probe_times_out(server: FakeServer, engines) -> None:
    server.route("/props", server.hang())
    engine = engines(server.url, timeout_s=0.5)
    started = time.perf_counter()
    with pytest.raises(RemoteUnavailable, match=r"/props: .*timed out"):
        run(engine, completion())
    assert time.perf_counter() - started < 2.0


def test_killed_mid_stream_is_unavailable(server: FakeServer, engines) -> None:
    server.route(
        "/v1/completions", server.stream(text_chunk("one "), text_chunk("two"), end="abort")
    )
    engine = engines(server.url, info=KNOWN)
    started = time.perf_counter()
    pieces: list[str] = []
    with pytest.raises(RemoteUnavailable, match="connection broke") as caught:
        engine.generate(completion(), CancelToken(), pieces.append)
    assert time.perf_counter() - started < 2.0
    assert "".join(pieces) == "one two"  # what arrived was shown, nothing was made up
    assert "/v1/completions" in str(caught.value)


def test_killed_mid_stream_without_chunked_framing(server: FakeServer, engines) -> None:
    """A body framed by the connection's end cannot tell a kill from the end by itself: without
    a finish or the end marker the answer is incomplete, and reported so."""
    stream = server.stream(text_chunk("one "), text_chunk("two"), end="abort", chunked=False)
    server.route("/v1/completions", stream)
    engine = engines(server.url, info=KNOWN)
    started = time.perf_counter()
    with pytest.raises(RemoteUnavailable, match="ended early"):
        run(engine, completion())
    assert time.perf_counter() - started < 2.0


def test_killed_after_the_finish_does_not_hang(server: FakeServer, engines) -> None:
    """The server sent its finish but died before [DONE]: the answer is complete and returned."""
    server.route(
        "/v1/completions",
        server.stream(text_chunk("done"), text_chunk("", "length"), end="abort"),
    )
    engine = engines(server.url, info=KNOWN)
    started = time.perf_counter()
    result, received = run(engine, completion())
    assert (result.text, result.stop_reason, received) == ("done", StopReason.LENGTH, ["done"])
    assert time.perf_counter() - started < 2.0


def test_a_non_event_stream_answer_is_malformed(server: FakeServer, engines) -> None:
    server.route("/v1/completions", server.reply({"choices": [{"text": "whole"}]}))
    engine = engines(server.url, info=KNOWN)
    with pytest.raises(RemoteMalformed, match="event stream"):
        run(engine, completion())


def test_an_error_chunk_mid_stream_is_rejected(server: FakeServer, engines) -> None:
    server.route(
        "/v1/completions",
        server.stream(text_chunk("x"), {"error": {"message": "KV cache full"}}, "[DONE]"),
    )
    engine = engines(server.url, info=KNOWN)
    with pytest.raises(RemoteRejected, match="KV cache full"):
        run(engine, completion())


# -- 9. cancellation, 10. time budget ---------------------------------------------------------


def test_cancellation_closes_the_stream_at_once(server: FakeServer, engines) -> None:
    server.route("/v1/completions", server.stream(text_chunk("first"), end="hold"))
    engine = engines(server.url, info=KNOWN)
    token = CancelToken()
    timer = threading.Timer(0.3, token.cancel, ("superseded",))
    timer.start()
    started = time.perf_counter()
    result, received = run(engine, completion(), token)
    elapsed = time.perf_counter() - started
    timer.join()
    assert 0.25 < elapsed < 2.0
    assert (result.text, result.stop_reason) == ("first", StopReason.CANCELLED)
    assert "".join(received) == "first"
    assert server.client_left.wait(2.0), "the server never saw the connection close"


def test_a_cancelled_token_stops_before_any_text(server: FakeServer, engines) -> None:
    server.route("/v1/completions", server.stream(text_chunk("never"), end="hold"))
    engine = engines(server.url, info=KNOWN)
    token = CancelToken()
    token.cancel()
    started = time.perf_counter()
    result, received = run(engine, completion(), token)
    assert (result.text, result.stop_reason, received) == ("", StopReason.CANCELLED, [])
    assert time.perf_counter() - started < 1.0


def test_predict_time_budget_ends_a_slow_stream(server: FakeServer, engines) -> None:
    server.route(
        "/v1/completions",
        server.stream(*(text_chunk(f"w{i} ") for i in range(30)), "[DONE]", delay=0.1),
    )
    engine = engines(server.url, info=KNOWN)
    started = time.perf_counter()
    result, received = run(engine, completion(predict_time_budget_ms=200))
    assert time.perf_counter() - started < 1.5
    assert result.stop_reason is StopReason.TIME_BUDGET
    assert result.text.startswith("w0 ") and 1 <= len(result.text.split()) <= 5
    assert "".join(received) == result.text


def test_prompt_time_budget_ends_a_wait_for_the_first_text(server: FakeServer, engines) -> None:
    server.route("/v1/completions", server.hang())
    engine = engines(server.url, info=KNOWN)
    started = time.perf_counter()
    result, _ = run(engine, completion(prompt_time_budget_ms=200))
    assert time.perf_counter() - started < 1.5
    assert (result.text, result.stop_reason) == ("", StopReason.TIME_BUDGET)


# -- 11. health ---------------------------------------------------------------------------------


def test_health_is_reported_on_changes_only(server: FakeServer, engines) -> None:
    broken = server.reply({"error": {"message": "model not loaded"}}, 500)
    server.route("/v1/completions", broken, broken, finished_stream(server))
    reports: list[str | None] = []
    engine = engines(server.url, info=KNOWN, on_health=reports.append)
    for _ in range(2):
        with pytest.raises(RemoteUnavailable):
            run(engine, completion())
    assert len(reports) == 1 and reports[0] is not None and "model not loaded" in reports[0]
    assert run(engine, completion())[0].text == "x"
    assert run(engine, completion())[0].text == "x"
    assert reports[1:] == [None]


def test_a_rejected_request_is_not_a_failing_server(server: FakeServer, engines) -> None:
    """A 400 (a prompt over the context, say) fails that request only: no health report."""
    too_long = server.reply({"error": {"message": "exceeds the context size"}}, 400)
    server.route("/v1/completions", too_long, finished_stream(server))
    reports: list[str | None] = []
    engine = engines(server.url, info=KNOWN, on_health=reports.append)
    with pytest.raises(RemoteRejected, match="exceeds the context size"):
        run(engine, completion())
    assert run(engine, completion())[0].text == "x"
    assert reports == []


def test_an_error_line_in_the_stream_is_reported(server: FakeServer, engines) -> None:
    """Older llama.cpp servers end a failing stream with an ``error:`` field."""
    error = 'error: {"code": 400, "message": "the request exceeds the available context"}'
    server.route("/v1/completions", server.stream(text_chunk("a"), error, "[DONE]"))
    engine = engines(server.url, info=KNOWN)
    with pytest.raises(RemoteRejected, match="exceeds the available context"):
        run(engine, completion())


def test_an_empty_stream_without_a_finish_is_malformed(server: FakeServer, engines) -> None:
    server.route("/v1/completions", server.stream("[DONE]"))
    engine = engines(server.url, info=KNOWN)
    with pytest.raises(RemoteMalformed, match="empty"):
        run(engine, completion())


# -- 12. the local fallback ---------------------------------------------------------------------


class LocalEngine(FakeEngine):
    closed = False

    def close(self) -> None:
        self.closed = True


def test_fallback_serves_locally_while_the_remote_is_down() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    settings = EngineSettings(backend="remote", endpoint=url)
    remote = RemoteEngine(settings, Transport(url, None, 5.0, 0))
    local = LocalEngine(lambda request: "local answer")
    loads: list[int] = []
    fallback = FallbackEngine(remote, lambda: loads.append(1) or local, retry_after_s=0.2)
    request = completion()
    for expected_remote_tries in (1, 1, 1):
        result = fallback.generate(request, CancelToken())
        assert result.text == "local answer"
        assert remote.requests == expected_remote_tries  # not contacted again for 0.2 s
    assert (fallback.fallbacks, local.calls, len(loads)) == (3, 3, 1)
    time.sleep(0.25)
    assert fallback.generate(request, CancelToken()).text == "local answer"
    assert remote.requests == 2 and fallback.fallbacks == 4
    fallback.close()  # closes both
    assert local.closed
    assert not remote.transport.io.loop.is_running()


def test_closing_twice_returns() -> None:
    transport = Transport(f"http://127.0.0.1:{free_port()}")
    transport.close()
    second = threading.Thread(target=transport.close, daemon=True)
    second.start()
    second.join(2.0)
    assert not second.is_alive()


def test_fallback_returns_to_a_recovered_remote(server: FakeServer, engines) -> None:
    server.route(
        "/v1/completions",
        server.reply({"error": {"message": "restarting"}}, 503),
        finished_stream(server),
    )
    remote = engines(server.url, info=KNOWN)
    local = LocalEngine(lambda request: "local answer")
    fallback = FallbackEngine(remote, lambda: local, retry_after_s=0.2)
    assert fallback.generate(completion(), CancelToken()).text == "local answer"
    assert fallback.generate(completion(), CancelToken()).text == "local answer"
    assert len(server.to("/v1/completions")) == 1
    time.sleep(0.25)
    assert fallback.generate(completion(), CancelToken()).text == "x"
    assert (fallback.fallbacks, len(server.to("/v1/completions"))) == (2, 2)


def test_no_fallback_once_part_of_the_answer_was_shown(server: FakeServer, engines) -> None:
    """Text from the server already reached the caller: the local model's answer would be
    glued to it, so the failure is reported instead (and later requests go local)."""
    server.route(
        "/v1/completions",
        server.stream(text_chunk("    retu"), end="abort"),
        finished_stream(server),
    )
    remote = engines(server.url, info=KNOWN)
    local = LocalEngine(lambda request: "local answer")
    fallback = FallbackEngine(remote, lambda: local, retry_after_s=10)
    shown: list[str] = []
    with pytest.raises(RemoteUnavailable):
        fallback.generate(completion(), CancelToken(), shown.append)
    assert shown == ["    retu"] and local.calls == 0
    assert fallback.generate(completion(), CancelToken()).text == "local answer"


def test_a_local_model_that_cannot_load_is_not_loaded_again() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    remote = RemoteEngine(
        EngineSettings(backend="remote", endpoint=url), Transport(url, None, 5, 0)
    )
    attempts: list[int] = []

    def load() -> FakeEngine:
        attempts.append(1)
        raise RuntimeError("no model here")

    fallback = FallbackEngine(remote, load, retry_after_s=10)
    for _ in range(3):
        with pytest.raises(EngineError, match="local fallback is unavailable: no model here"):
            fallback.generate(completion(), CancelToken())
    assert len(attempts) == 1
    fallback.close()


def test_a_request_rejected_by_the_server_does_not_fall_back(server: FakeServer, engines) -> None:
    server.route("/v1/completions", server.reply({"error": {"message": "bad request"}}, 400))
    local = LocalEngine(lambda request: "local answer")
    fallback = FallbackEngine(engines(server.url, info=KNOWN), lambda: local)
    with pytest.raises(RemoteRejected, match="bad request"):
        fallback.generate(completion(), CancelToken())
    assert local.calls == 0


def test_credentials_in_the_endpoint_never_reach_messages() -> None:
    port = free_port()
    url = f"http://someone:s3cret-token@127.0.0.1:{port}"
    transport = Transport(url, None, 5, 0)
    try:
        with pytest.raises(RemoteUnavailable) as caught:
            transport.get_json("/v1/models")
        assert "s3cret" not in str(caught.value) and f"127.0.0.1:{port}" in str(caught.value)
    finally:
        transport.close()
    from spark_lsp.engine.loader import open_engine
    from spark_lsp.engine.settings import EngineSettings

    shown: list[str] = []
    for endpoint in (f"HTTPS://u:s3cret@127.0.0.1:{port}/", f"http://127.0.0.1:{port}/?key=s3cret"):
        with pytest.raises(Exception) as caught:
            open_engine(
                EngineSettings(backend="remote", endpoint=endpoint, remote_retries=0),
                lambda fraction, message: shown.append(message),
            )
        shown.append(str(caught.value))
    assert shown and not [message for message in shown if "s3cret" in message]


def test_only_a_possible_stop_prefix_is_held_back(server: FakeServer, engines) -> None:
    """A piece reaches the caller at once unless its end could begin a stop string."""
    server.route(
        "/v1/completions",
        server.stream(text_chunk("x = 1"), text_chunk(" <|end"), text_chunk("oftext|> tail")),
    )
    engine = engines(server.url, info=KNOWN, remote_template="qwen2.5-coder")
    pieces: list[str] = []
    prompt = InfillPrompt("x = ", "\n", "a.py")
    result = engine.generate(GenerationRequest(prompt, max_tokens=16), CancelToken(), pieces.append)
    assert pieces == ["x = 1", " "] and result.text == "x = 1 "


def test_the_context_is_the_smaller_of_server_and_configuration(engines) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    reported = ServerInfo("openai", ("m",), 32768, 0, None)
    assert engines(url, info=reported).n_ctx == 32768
    assert engines(url, info=reported, remote_context=8192).n_ctx == 8192
    assert engines(url, info=reported, remote_context=65536).n_ctx == 32768
    assert engines(url, remote_context=4096).n_ctx == 4096


# -- 13. what the server tells about itself ---------------------------------------------------


def test_probe_llama_cpp(server: FakeServer, engines) -> None:
    server.route(
        "/props", server.reply({"default_generation_settings": {"n_ctx": 2048}, "total_slots": 4})
    )
    server.route(
        "/v1/models", server.reply({"data": [{"id": "qwen2.5-coder-1.5b-instruct-q8_0.gguf"}]})
    )
    server.route("/tokenize", server.reply({"tokens": [1, 2, 3]}))
    engine = engines(server.url)
    info = engine.connect()
    assert (info.kind, info.n_ctx, info.slots, info.tokenize_path) == (
        LLAMA_CPP,
        2048,
        4,
        "/tokenize",
    )
    assert info.models == ("qwen2.5-coder-1.5b-instruct-q8_0.gguf",)
    assert engine.n_ctx == 2048 and engine.uses_infill
    assert engine.template is templates.QWEN25_CODER
    (tokenize,) = server.to("/tokenize")
    assert tokenize.body["content"] and tokenize.body["add_special"] is False
    assert tokenize.body["model"] == info.models[0]


def test_probe_vllm(server: FakeServer, engines) -> None:
    listing = {"data": [{"id": "Qwen/Qwen2.5-Coder-7B", "max_model_len": 32768}]}
    server.route("/v1/models", server.reply(listing))
    server.route(
        "/tokenize", server.reply({"count": 3, "tokens": [1, 2, 3], "max_model_len": 32768})
    )
    info = probe(engines(server.url).transport)
    assert (info.kind, info.n_ctx, info.slots, info.tokenize_path) == (
        OPENAI,
        32768,
        0,
        "/tokenize",
    )
    assert [r.path for r in server.requests] == [
        "/props",
        "/v1/models",
        "/extras/tokenize",
        "/tokenize",
    ]


def test_probe_llama_cpp_python_and_the_context_fallbacks(server: FakeServer, engines) -> None:
    server.route("/v1/models", server.reply({"data": [{"id": "model", "owned_by": "me"}]}))
    server.route("/extras/tokenize", server.reply({"tokens": [1, 2]}))
    engine = engines(server.url)
    info = engine.connect()
    assert (info.kind, info.n_ctx, info.tokenize_path) == (OPENAI, None, "/extras/tokenize")
    assert not engine.uses_infill
    assert engine.n_ctx == DEFAULT_CONTEXT
    configured = engines(server.url, info=info, remote_context=16384)
    assert configured.n_ctx == 16384
    reported = ServerInfo(LLAMA_CPP, ("m",), 2048, 1, None)
    assert engines(server.url, info=reported).n_ctx == 2048
    assert (
        engines(server.url, info=reported, remote_context=1024).n_ctx == 1024
    )  # the user's word wins


def test_probe_needs_a_model_listing(server: FakeServer, engines) -> None:
    server.route("/v1/models", server.reply({"error": "not found"}, 404))
    with pytest.raises(RemoteRejected, match="/v1/models: 404"):
        probe(engines(server.url).transport)


# -- 14. templates by name, settings ------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("Qwen/Qwen2.5-Coder-7B-Instruct", "qwen2.5-coder"),
        ("qwen2.5-coder-1.5b-instruct-q8_0.gguf", "qwen2.5-coder"),
        ("bigcode/starcoder2-15b", "starcoder2"),
        ("bigcode/starcoderbase-1b", "starcoder"),
        ("deepseek-ai/deepseek-coder-6.7b-base", "deepseek-coder"),
        ("codellama/CodeLlama-7b-hf", "codellama"),
        ("google/codegemma-2b", "codegemma"),
        ("mistralai/Codestral-22B-v0.1", "codestral"),
        ("gpt-4o", "prefix-only"),
        ("", "prefix-only"),
    ],
)
def test_template_guessed_from_the_model_name(name: str, family: str) -> None:
    assert templates.guess_from_name(name).family == family


def test_remote_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="endpoint"):
        EngineSettings(backend="remote")
    with pytest.raises(ValueError, match="http"):
        EngineSettings(backend="remote", endpoint="localhost:8080")
    with pytest.raises(ValueError, match="http"):
        EngineSettings(endpoint="ftp://host/")
    with pytest.raises(ValueError, match="remote_template"):
        EngineSettings(backend="remote", endpoint="http://h:1", remote_template="gpt")
    with pytest.raises(ValueError, match="remote_api"):
        EngineSettings(backend="remote", endpoint="http://h:1", remote_api="chat")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="remote_timeout_ms"):
        EngineSettings(backend="remote", endpoint="http://h:1", remote_timeout_ms=10)
    ok = EngineSettings(backend="remote", endpoint="https://h:1/v1", remote_template="starcoder2")
    assert ok.endpoint == "https://h:1/v1" and ok.remote_retries == 2
