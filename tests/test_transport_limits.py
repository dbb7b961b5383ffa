"""What a client can cost the server before it shows the token, and frames that cannot be read.

Through the real server: over TCP and WebSocket a connection without the token is held to a few
KiB and a handful of them; a frame that does not parse gets an error answer or a close, never a
traceback; over stdio an oversized Content-Length does not stop the frames after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from spark_lsp.lsp.transports import MAX_FIRST_MESSAGE_BYTES, MAX_WAITING_CONNECTIONS
from tests.raw_client import RawClient
from tests.test_security import (
    SERVE,
    TOKEN,
    closed,
    connect,
    frame,
    free_port,
    initialize,
    read_message,
)

LIMIT = f"{MAX_FIRST_MESSAGE_BYTES:,} bytes"
# Well under the authentication timeout (30 s): an answer that takes longer is the timeout's.
PROMPT_S = 10


@dataclass
class Server:
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def rss_bytes(self) -> int:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))
        return int(kib) * 1024

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def start(tmp_path: Path, transport: str) -> Server:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    token_file.chmod(0o600)
    port = free_port()
    log = tmp_path / "server.log"
    options = ["--token-file", str(token_file), "--log-file", str(log)]
    stderr = tmp_path / "stderr.txt"
    with stderr.open("wb") as stream:
        process = subprocess.Popen(
            [*SERVE, transport, f"127.0.0.1:{port}", *options], stderr=stream
        )
    deadline = time.monotonic() + 30
    while "listening on" not in stderr.read_text(errors="replace"):
        assert time.monotonic() < deadline and process.poll() is None, stderr.read_text()
        time.sleep(0.1)
    return Server(port, process, log)


@pytest.fixture
def tcp(tmp_path: Path) -> Iterator[Server]:
    server = start(tmp_path, "--tcp")
    yield server
    server.process.kill()
    server.process.wait(timeout=10)
    assert "Traceback" not in server.log_text()
    assert "Traceback" not in (tmp_path / "stderr.txt").read_text(errors="replace")


def answer_or_close(connection: socket.socket, timeout: float = PROMPT_S) -> dict | None:
    """The server's answer (None when it closed the connection instead, or reset it)."""
    try:
        return read_message(connection, timeout)
    except ConnectionResetError:
        return None


def send_until_refused(connection: socket.socket, data: bytes, total: int) -> int:
    """Send ``data`` then zeros up to ``total`` bytes; how much went before the server closed."""
    sent = 0
    connection.settimeout(PROMPT_S)
    chunk = bytes(256 * 1024)
    with contextlib.suppress(OSError):
        connection.sendall(data)
        sent = len(data)
        while sent < total:
            connection.sendall(chunk)
            sent += len(chunk)
    return sent


def test_a_connection_without_the_token_is_held_to_a_few_kib(tcp: Server) -> None:
    """The issue's measurement: four connections that each send 40 MiB of a 67,000,000-byte frame
    grew the server by 160 MiB. Each is now refused at its header: the server reads no body."""
    header = b"Content-Length: 67000000\r\n\r\n"
    before = tcp.rss_bytes()
    connections = [connect(tcp.port) for _ in range(MAX_WAITING_CONNECTIONS)]
    sent = [0] * len(connections)

    def push(index: int) -> None:
        sent[index] = send_until_refused(connections[index], header, 40 * 1024 * 1024)

    threads = [threading.Thread(target=push, args=(i,)) for i in range(len(connections))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    grown = tcp.rss_bytes() - before
    print(f"server grew by {grown / 2**20:.1f} MiB; sent {[n >> 20 for n in sent]} MiB")
    for connection in connections:
        answer = answer_or_close(connection)
        assert answer is None or LIMIT in answer["error"]["message"]
        connection.close()
    assert grown < 24 * 1024 * 1024, (grown, sent)
    with connect(tcp.port) as client:  # the editor still gets in
        client.sendall(frame(initialize(TOKEN)))
        answer = read_message(client)
        assert answer is not None and answer["result"]["serverInfo"]["name"] == "spark-lsp"


def test_a_first_message_over_the_limit_is_answered_before_its_body(tcp: Server) -> None:
    with connect(tcp.port) as connection:
        connection.sendall(b"Content-Length: 67000000\r\n\r\n{")  # the body never comes
        answer = answer_or_close(connection)
        assert answer is not None and answer["error"]["code"] == -32600
        assert LIMIT in answer["error"]["message"]
        assert closed(connection)
    with connect(tcp.port) as connection:  # header lines count too
        lines = MAX_FIRST_MESSAGE_BYTES // 4000 + 1
        connection.sendall(b"".join(b"X-%d: %s\r\n" % (n, b"y" * 4000) for n in range(lines)))
        answer = answer_or_close(connection)
        assert answer is not None and LIMIT in answer["error"]["message"]


def test_only_a_handful_of_connections_wait_for_the_token(tcp: Server) -> None:
    waiting = [connect(tcp.port) for _ in range(MAX_WAITING_CONNECTIONS)]
    for connection in waiting:
        connection.sendall(b"Content-Length: 10\r\n")  # started, never finished
    time.sleep(0.5)
    for _ in range(3):
        with connect(tcp.port) as late:  # refused at once, not after the 30 s timeout
            answer = answer_or_close(late)
            assert answer is not None and "waiting for the token" in answer["error"]["message"]
            assert closed(late)
    assert tcp.log_text().count("refusing new connections") == 1  # a flood is one warning
    for connection in waiting:
        connection.close()
    deadline = time.monotonic() + PROMPT_S
    while True:  # the room empties as the server sees those connections end
        with connect(tcp.port) as client:
            client.sendall(frame(initialize(TOKEN)))
            answer = answer_or_close(client)
        if answer is not None and "result" in answer:
            break
        assert time.monotonic() < deadline, answer
        time.sleep(0.2)


def deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def raw_frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


@pytest.mark.parametrize(
    "body",
    [
        deep(4000),  # RecursionError in json.loads
        b'{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": '
        b'{"initializationOptions": {"x": ' + deep(990) + b"}}}",  # deep, yet it decodes
        b"\xff\xfe not UTF-8",
        b"[1, 2]",
        b'"initialize"',
        b"",
    ],
)
def test_a_first_message_that_does_not_parse_gets_an_error_answer(tcp: Server, body: bytes) -> None:
    with connect(tcp.port) as connection:
        connection.sendall(raw_frame(body))
        answer = answer_or_close(connection)
        assert answer is not None and answer["error"]["code"] == -32600
        assert closed(connection)


def test_a_deep_initialize_with_the_token_gets_an_answer(tcp: Server) -> None:
    message = initialize(TOKEN)
    body = json.dumps(message).encode().replace(b'"token"', b'"x": ' + deep(900) + b', "token"')
    with connect(tcp.port) as connection:
        connection.sendall(raw_frame(body))
        answer = answer_or_close(connection)
        assert answer is not None and ("result" in answer or "error" in answer)


def test_a_message_that_does_not_parse_after_the_token_gets_an_error_answer(
    tcp: Server,
) -> None:
    with connect(tcp.port) as connection:
        connection.sendall(frame(initialize(TOKEN)))
        assert read_message(connection)["result"]  # type: ignore[index]
        for body, code in (
            (deep(5000), -32700),
            (b"\xff\xfe not UTF-8", -32700),
            (b"[1, 2]", -32600),
        ):
            connection.sendall(raw_frame(body))
            answer = read_message(connection)
            assert answer is not None and answer["error"]["code"] == code, body[:20]
        connection.sendall(frame({"jsonrpc": "2.0", "id": 2, "method": "spark/debug/counters"}))
        answer = read_message(connection)
        assert answer is not None and answer["id"] == 2 and "result" in answer


def test_websocket_connections_without_the_token_are_held_to_a_few_kib(tmp_path: Path) -> None:
    from websockets.asyncio.client import connect as ws_connect
    from websockets.exceptions import ConnectionClosed

    server = start(tmp_path, "--ws")
    url = f"ws://127.0.0.1:{server.port}"

    async def scenario() -> None:
        async with ws_connect(url, max_size=None) as ws:
            await ws.send(b"x" * (MAX_FIRST_MESSAGE_BYTES + 1))
            with pytest.raises(ConnectionClosed) as ended:
                await asyncio.wait_for(ws.recv(), PROMPT_S)
            assert ended.value.rcvd is not None and ended.value.rcvd.code == 1009
        waiting = [await ws_connect(url) for _ in range(MAX_WAITING_CONNECTIONS)]
        await asyncio.sleep(0.5)
        async with ws_connect(url) as late:
            with pytest.raises(ConnectionClosed) as ended:
                await asyncio.wait_for(late.recv(), PROMPT_S)
            assert ended.value.rcvd is not None and ended.value.rcvd.code == 1013
            assert "waiting for the token" in ended.value.rcvd.reason
        for ws in waiting:
            await ws.close()
        await asyncio.sleep(0.5)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with ws_connect(url, additional_headers=headers) as ws:  # big messages after it
            await ws.send(json.dumps(initialize(None)))
            assert json.loads(await asyncio.wait_for(ws.recv(), PROMPT_S))["result"]
            padding = "x" * (MAX_FIRST_MESSAGE_BYTES * 4)
            await ws.send(json.dumps({"jsonrpc": "2.0", "id": 2, "method": padding}))
            reply = json.loads(await asyncio.wait_for(ws.recv(), PROMPT_S))
            assert reply["id"] == 2  # answered, not closed for its size

    try:
        asyncio.run(scenario())
    finally:
        server.process.kill()
        server.process.wait(timeout=10)
    assert "Traceback" not in server.log_text()


# -- stdio ----------------------------------------------------------------------------------------


def test_a_huge_content_length_on_stdio_does_not_silence_the_server(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    client = RawClient("--log-file", str(log))
    try:
        assert client.process.stdin is not None
        client.process.stdin.write(b"Content-Length: 999999999999999999\r\n\r\n")
        client.process.stdin.flush()
        assert client.initialize()["result"]["serverInfo"]["name"] == "spark-lsp"
        # The same header with a body that was really sent: passed over, the next frame read.
        client.process.stdin.write(b"Content-Length: 67108865\r\n\r\n" + b"x" * 70_000)
        answer = client.request("spark/debug/counters")
        assert "result" in answer
    finally:
        client.close()
    warnings = [line for line in log.read_text().splitlines() if "over the limit" in line]
    assert len(warnings) == 2, warnings
