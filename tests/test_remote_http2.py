"""HTTP/2 where the server offers it: an ASGI server speaking HTTP/2 over TLS (hypercorn, with a
test certificate authority from trustme) answers the remote engine's probe and a streamed
completion; the connection negotiates HTTP/2 and every request shares it."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from hypercorn.asyncio import serve
from hypercorn.config import Config

from spark_lsp.engine import CancelToken, GenerationRequest, TextPrompt
from spark_lsp.engine.remote import RemoteEngine
from spark_lsp.engine.settings import EngineSettings
from tests.test_remote_server_e2e import free_port

Scope = dict[str, Any]


class App:
    """A minimal OpenAI-compatible server: one model, a two-piece streamed completion."""

    def __init__(self) -> None:
        self.versions: list[str] = []
        self.clients: set[tuple[str, int]] = set()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self.versions.append(scope["http_version"])
        self.clients.add(tuple(scope["client"]))
        while (await receive()).get("more_body"):
            pass
        if scope["path"] == "/v1/models":
            body = json.dumps({"data": [{"id": "qwen2.5-coder-7b", "max_model_len": 32768}]})
            await self._send(send, 200, "application/json", [body.encode()])
        elif scope["path"] == "/v1/completions":
            pieces = [
                {"choices": [{"text": text, "finish_reason": None}]} for text in ("a +", " b")
            ]
            pieces.append({"choices": [{"text": "", "finish_reason": "stop"}]})
            events = [f"data: {json.dumps(piece)}\n\n".encode() for piece in pieces]
            await self._send(send, 200, "text/event-stream", [*events, b"data: [DONE]\n\n"])
        else:
            await self._send(send, 404, "application/json", [b'{"error": "not found"}'])

    @staticmethod
    async def _send(send: Any, status: int, kind: str, parts: list[bytes]) -> None:
        headers = [(b"content-type", kind.encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        for part in parts:
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b""})


@pytest.fixture
def https_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, App]]:
    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1")
    key_file, cert_file, ca_file = (tmp_path / name for name in ("key.pem", "cert.pem", "ca.pem"))
    certificate.private_key_pem.write_to_path(str(key_file))
    certificate.cert_chain_pems[0].write_to_path(str(cert_file))
    authority.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))  # how users trust an internal CA, too

    port = free_port()
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.certfile, config.keyfile = str(cert_file), str(key_file)
    config.alpn_protocols = ["h2", "http/1.1"]
    app = App()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    started = threading.Event()

    async def run() -> None:
        started.set()
        await serve(app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]

    thread = threading.Thread(target=loop.run_until_complete, args=(run(),), daemon=True)
    thread.start()
    started.wait(5)
    yield f"https://127.0.0.1:{port}", app
    loop.call_soon_threadsafe(stop.set)
    thread.join(10)


def test_http2_is_negotiated_and_one_connection_carries_every_request(
    https_server: tuple[str, App],
) -> None:
    url, app = https_server
    engine = RemoteEngine.for_settings(
        EngineSettings(backend="remote", endpoint=url, remote_retries=5)
    )
    try:
        info = engine.connect()
        assert info.http_version == "HTTP/2" and info.n_ctx == 32768
        assert "HTTP/2" in info.describe()
        pieces: list[str] = []
        request = GenerationRequest(TextPrompt("def add(a, b):\n    return "), max_tokens=8)
        for _ in range(3):
            pieces.clear()
            result = engine.generate(request, CancelToken(), pieces.append)
            assert result.text == "a + b" and pieces == ["a +", " b"]
        assert set(app.versions) == {"2"}
        assert len(app.clients) == 1  # the probe and three streams over one connection
    finally:
        engine.close()
