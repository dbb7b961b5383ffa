"""The remote backend against a real OpenAI-compatible server on 127.0.0.1: llama-cpp-python's
``llama_cpp.server`` (the ``server`` extra) serving the embedded model. Completions and edits go
through it, directly and through the language server; then the faults: a cancelled stream, a
hung server, refused connections and a server killed mid-stream."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from spark_lsp import models
from spark_lsp.actions import rewrite
from spark_lsp.actions.registry import ACTIONS
from spark_lsp.engine import CancelToken, ChatPrompt, GenerationRequest, InfillPrompt, StopReason
from spark_lsp.engine.fallback import FallbackEngine
from spark_lsp.engine.loader import open_engine
from spark_lsp.engine.remote import RemoteEngine, RemoteUnavailable
from spark_lsp.engine.settings import EngineSettings
from tests.raw_client import RawClient

pytestmark = pytest.mark.model

ALIAS = "qwen2.5-coder-0.5b-instruct"
DOC = 'def add(a, b):\n    """Return the sum of a and b."""\n    total = \n    return total\n'
LAZY_LOAD = "the model loads at the first suggestion"  # --no-preload's first status
URI = "file:///add.py"
ADD_PROMPT = InfillPrompt(
    'def add(a, b):\n    """Return the sum of a and b."""\n    total = ',
    "\n    return total\n",
    "add.py",
)
COUNT_TO_300 = "Count from 1 to 300, one number per line."
CIRCLE = "def circle_area(radius):\n    return 3.14159 * radius * radius\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# llama.cpp's own server is not on PyPI; set this to a built `llama-server` binary to run the
# server tests against it too (its /infill and /props paths).
LLAMA_SERVER = os.environ.get("SPARK_LSP_TEST_LLAMA_SERVER")
KINDS = ["llama-cpp-python", *(["llama.cpp"] if LLAMA_SERVER else [])]


class ServerProcess:
    """An OpenAI-compatible server with the embedded model, on a loopback port:
    ``python -m llama_cpp.server``, or llama.cpp's ``llama-server`` (2 slots of 2,048 tokens)."""

    def __init__(self, port: int | None = None, kind: str = "llama-cpp-python") -> None:
        self.port = port or free_port()
        self.kind = kind
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in stop()
            prefix="llama-server-", suffix=".log", delete=False
        )
        model = str(models.resolve(None, None, None))
        address = ("--host", "127.0.0.1", "--port", str(self.port))
        if kind == "llama.cpp":
            assert LLAMA_SERVER is not None
            command = [LLAMA_SERVER, "-m", model, "--alias", ALIAS, *address]
            command += ["-c", "4096", "-np", "2", "-t", "2"]
        else:
            command = [sys.executable, "-m", "llama_cpp.server", "--model", model, *address]
            command += ["--model_alias", ALIAS, "--n_ctx", "2048", "--n_threads", "2"]
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT)
        self._wait_ready()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited: {Path(self.log.name).read_text()}")
            try:
                if httpx.get(f"{self.url}/v1/models", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"llama_cpp.server did not start: {Path(self.log.name).read_text()}")

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()
        os.unlink(self.log.name)


@pytest.fixture(scope="module", params=KINDS)
def server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    process = ServerProcess(kind=request.param)
    yield process
    process.stop()


@contextmanager
def remote_session(url: str, *flags: str) -> Iterator[RawClient]:
    """A language server on the remote backend with the add.py document open."""
    raw = RawClient("--backend", "remote", "--endpoint", url, *flags)
    try:
        raw.initialize(
            {
                "textDocument": {
                    "inlineCompletion": {},
                    "codeAction": {"resolveSupport": {"properties": ["edit"]}},
                }
            },
            {"completion": {"predictTimeBudgetMs": 0}},
        )
        document = {"uri": URI, "languageId": "python", "version": 1, "text": DOC}
        raw.notify("textDocument/didOpen", {"textDocument": document})
        yield raw
        assert raw.request("shutdown")["result"] is None
    finally:
        raw.close()


def inline(raw: RawClient, character: int = 12) -> list[dict]:
    """Invoked inline completion in ``total = `` (line 3), at ``character``."""
    params = {
        "textDocument": {"uri": URI},
        "position": {"line": 2, "character": character},
        "context": {"triggerKind": 1},
    }
    return raw.request("textDocument/inlineCompletion", params, timeout=300)["result"]["items"]


def remote_settings(url: str, **changes: object) -> EngineSettings:
    return EngineSettings(backend="remote", endpoint=url, **changes)  # type: ignore[arg-type]


def test_completions_and_edits_stream_through_the_server(server: ServerProcess) -> None:
    engine = RemoteEngine.for_settings(remote_settings(server.url))
    try:
        info = engine.connect()
        assert ALIAS in info.models
        assert engine.template.family == "qwen2.5-coder"  # guessed from the model's name
        assert engine.n_ctx == 2048
        if server.kind == "llama.cpp":  # /props reports 2,048 tokens per slot, and 2 slots
            assert info.kind == "llama.cpp" and info.slots == 2 and info.n_ctx == 2048
            assert engine.uses_infill and info.tokenize_path == "/tokenize"
        else:  # no /infill, no context reported: our template, the default context
            assert info.kind == "openai" and info.n_ctx is None and not engine.uses_infill
            assert info.tokenize_path == "/extras/tokenize"
        scale = engine.token_counter().scale  # calibrated against the server's tokenizer
        assert 1.0 <= scale < 1.2

        pieces: list[str] = []
        request = GenerationRequest(ADD_PROMPT, max_tokens=24, stop=("\n",), key=URI)
        result = engine.generate(request, CancelToken(), pieces.append)
        assert result.text.strip() == "a + b"
        assert "".join(pieces) == result.text
        assert result.stop_reason in (StopReason.STOP, StopReason.EOS)
        assert 0 < result.stats.time_to_first_token_ms <= result.stats.total_ms

        messages = rewrite.chat_messages(ACTIONS["docstring"].instruction, CIRCLE, "python", "c.py")
        answer = engine.generate(
            GenerationRequest(ChatPrompt.of(messages), max_tokens=200), CancelToken()
        )
        code = rewrite.extract_code(answer.text)
        assert code is not None and "def circle_area(radius)" in code and '"""' in code
    finally:
        engine.close()


def test_the_language_server_completes_and_edits_over_the_server(server: ServerProcess) -> None:
    with remote_session(server.url) as raw:
        assert inline(raw)[0]["insertText"] == "a + b"
        ready = raw.wait_for(
            lambda m: (
                m.get("method") == "spark/status"
                and m["params"]["state"] == "ready"
                and m["params"]["message"] != LAZY_LOAD
            )
        )
        assert ready["params"]["message"] == ALIAS  # the server's model, not the local file
        actions = raw.request(
            "textDocument/codeAction",
            {
                "textDocument": {"uri": URI},
                "range": {"start": {"line": 2, "character": 0}, "end": {"line": 2, "character": 0}},
                "context": {"diagnostics": []},
            },
        )["result"]
        hints = next(a for a in actions if a["title"] == "spark-lsp: Add type hints")
        resolved = raw.request("codeAction/resolve", hints, timeout=300)["result"]
        (change,) = resolved["edit"]["documentChanges"]
        assert change["textDocument"]["version"] == 1
        assert any(
            "int" in edit["newText"] or "float" in edit["newText"] for edit in change["edits"]
        )
        counters = raw.request("spark/debug/counters")["result"]
        assert counters["engineRequests"] >= 2 and counters["localFallbacks"] == 0


def test_the_user_chooses_the_remote_backend_and_a_workspace_cannot(
    server: ServerProcess,
) -> None:
    """The backend and the endpoint are the user's (flags: the editor clients pass their
    user-level settings that way); the same choice in the options, which a workspace can write,
    is ignored with a message (see test_security)."""
    raw = RawClient("--backend", "remote", "--endpoint", server.url)
    try:
        # No predict budget: on a loaded machine a slow first answer would show its line so far.
        raw.initialize(
            {"textDocument": {"inlineCompletion": {}}}, {"completion": {"predictTimeBudgetMs": 0}}
        )
        document = {"uri": URI, "languageId": "python", "version": 1, "text": DOC}
        raw.notify("textDocument/didOpen", {"textDocument": document})
        assert inline(raw)[0]["insertText"] == "a + b"
        ready = raw.wait_for(
            lambda m: (
                m.get("method") == "spark/status"
                and m["params"]["state"] == "ready"
                and m["params"]["message"] != LAZY_LOAD
            )
        )
        assert ready["params"]["message"] == ALIAS
    finally:
        raw.close()
    raw = RawClient("--endpoint", server.url, "--no-preload")
    try:
        raw.initialize(
            {"textDocument": {"inlineCompletion": {}}}, {"engine": {"backend": "remote"}}
        )
        shown = raw.wait_for(lambda m: m.get("method") == "window/showMessage")
        assert "engine.backend is ignored" in shown["params"]["message"]
        assert raw.request("spark/debug/options")["result"]["engine"]["backend"] == "local"
    finally:
        raw.close()


def test_cancelling_closes_the_stream_and_the_server_keeps_serving(
    server: ServerProcess,
) -> None:
    engine = RemoteEngine.for_settings(remote_settings(server.url))
    cancel = CancelToken()
    pieces: list[str] = []

    def take(piece: str) -> None:
        pieces.append(piece)
        if len(pieces) == 3:
            cancel.cancel("the user typed on")

    try:
        long_answer = ChatPrompt.of([{"role": "user", "content": COUNT_TO_300}])
        result = engine.generate(GenerationRequest(long_answer, max_tokens=600), cancel, take)
        assert result.stop_reason is StopReason.CANCELLED
        assert len(pieces) == 3 and result.text == "".join(pieces)
        # The server noticed the closed stream and serves the next request.
        request = GenerationRequest(ADD_PROMPT, max_tokens=24, stop=("\n",), key=URI)
        assert engine.generate(request, CancelToken()).text.strip() == "a + b"
    finally:
        engine.close()


def test_a_hung_server_times_out_and_is_used_again_when_it_answers(
    server: ServerProcess,
) -> None:
    engine = RemoteEngine.for_settings(
        remote_settings(server.url, remote_timeout_ms=1500, remote_retries=0)
    )
    request = GenerationRequest(ADD_PROMPT, max_tokens=24, stop=("\n",), key=URI)
    try:
        engine.connect()
        server.process.send_signal(signal.SIGSTOP)  # alive, accepting, never answering
        try:
            started = time.monotonic()
            with pytest.raises(RemoteUnavailable, match="timed out"):
                engine.generate(request, CancelToken())
            assert time.monotonic() - started < 15
        finally:
            server.process.send_signal(signal.SIGCONT)
        assert engine.generate(request, CancelToken()).text.strip() == "a + b"
    finally:
        engine.close()


def test_refused_connections_are_an_error_or_the_local_fallback() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(models.ModelError, match="connection refused"):
        open_engine(remote_settings(url, remote_retries=1))
    engine = open_engine(remote_settings(url, remote_retries=0, fallback="local"))
    try:
        assert isinstance(engine, FallbackEngine)
        request = GenerationRequest(ADD_PROMPT, max_tokens=24, stop=("\n",), key=URI)
        assert engine.generate(request, CancelToken()).text.strip() == "a + b"
        assert engine.fallbacks == 1
    finally:
        engine.close()


def test_a_server_killed_mid_stream_is_one_message_and_the_server_keeps_serving() -> None:
    server = ServerProcess()
    try:
        engine = RemoteEngine.for_settings(remote_settings(server.url, remote_retries=0))
        killed = threading.Event()

        def kill_on_first_piece(_piece: str) -> None:
            if not killed.is_set():
                killed.set()
                server.kill()

        long_answer = ChatPrompt.of([{"role": "user", "content": COUNT_TO_300}])
        with pytest.raises(RemoteUnavailable):
            engine.generate(
                GenerationRequest(long_answer, max_tokens=600), CancelToken(), kill_on_first_piece
            )
        assert killed.is_set()
        engine.close()

        # The language server: the server is gone; requests answer empty, one message says why.
        server = ServerProcess()
        port = server.port
        with remote_session(server.url, "--remote-retries", "0") as raw:
            assert inline(raw)[0]["insertText"] == "a + b"
            server.kill()
            assert inline(raw, 11) == []
            assert inline(raw, 10) == []
            messages = []
            while not raw.messages.empty():
                message = raw.messages.get()
                if message.get("method") == "window/showMessage":
                    messages.append(message["params"])
            assert len(messages) == 1, messages
            assert messages[0]["type"] == 1 and server.url in messages[0]["message"]
            server = ServerProcess(port)  # back on the same address: served again
            assert inline(raw)[0]["insertText"] == "a + b"
    finally:
        server.stop()


def test_the_local_fallback_serves_while_the_server_is_unreachable() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with remote_session(url, "--fallback", "local") as raw:
        assert inline(raw)[0]["insertText"] == "a + b"
        warning = raw.wait_for(lambda m: m.get("method") == "window/showMessage")["params"]
        assert warning["type"] == 2 and "connection refused" in warning["message"]
        assert "local model" in warning["message"]
        assert raw.request("spark/debug/counters")["result"]["localFallbacks"] >= 1
