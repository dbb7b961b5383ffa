"""The spark-lsp command line: flags, one-line errors, socket transports, the sync benchmark."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spark_lsp import __version__

COMMAND = [sys.executable, "-m", "spark_lsp"]
SERVE = [*COMMAND, "serve", "--no-preload"]


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def frame(payload: dict) -> bytes:
    body = json.dumps(payload).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}}
TOKEN = "a-test-token-of-enough-length"


def initialize_with_token(token: str = TOKEN) -> dict:
    params = {"capabilities": {}, "initializationOptions": {"token": token}}
    return {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params}


def token_file(directory: Path) -> Path:
    path = directory / "token"
    path.write_text(TOKEN + "\n")
    path.chmod(0o600)
    return path


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"spark-lsp {__version__}"


@pytest.mark.parametrize(
    "args",
    [
        ("--no-such-flag",),
        ("serve", "--tcp", "nowhere"),
        ("bench", "sync", "--sizes", "x"),
        ("serve", "--backend", "remote"),  # no endpoint
        ("complete", "--demo", "--backend", "remote", "--endpoint", "ftp://host"),
    ],
)
def test_a_bad_flag_prints_one_line_and_fails(args: tuple[str, ...]) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("spark-lsp")
    assert "error:" in lines[0]


def test_an_unwritable_log_file_is_one_clear_line(tmp_path: Path) -> None:
    result = run("--log-file", str(tmp_path / "missing" / "log.txt"))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"spark-lsp: error: cannot open log file {tmp_path / 'missing' / 'log.txt'}: "
        "No such file or directory"
    ]


def test_log_file_receives_the_logs(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    process = subprocess.run(
        [*SERVE, "--log-file", str(log), "--log-level", "debug"],
        input=frame(INITIALIZE) + frame({"jsonrpc": "2.0", "method": "exit"}),
        capture_output=True,
        timeout=60,
    )
    assert process.returncode == 1  # exit without shutdown
    assert process.stderr == b""
    assert process.stdout.startswith(b"Content-Length: ")
    assert "Server capabilities" in log.read_text()


def connect_when_listening(port: int, timeout: float = 20) -> socket.socket:
    """Connect once the server listens (pygls' TCP server ends after its first connection)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=20)
        except ConnectionRefusedError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}")


def test_tcp_transport_serves_lsp_and_a_busy_port_is_one_line(tmp_path: Path) -> None:
    port = free_port()
    server = subprocess.Popen(
        [*SERVE, "--tcp", f"127.0.0.1:{port}", "--token-file", str(token_file(tmp_path))],
        stderr=subprocess.PIPE,
    )
    try:
        with connect_when_listening(port) as connection:
            connection.sendall(frame(initialize_with_token()))
            reply = b""
            while b'"serverInfo"' not in reply:
                chunk = connection.recv(65536)
                assert chunk, "connection closed before the initialize result"
                reply += chunk
            busy = run("serve", "--no-preload", "--tcp", f"127.0.0.1:{port}", timeout=60)
            assert busy.returncode == 1
            assert len(busy.stderr.strip().splitlines()) == 1
            assert "cannot start the server" in busy.stderr
    finally:
        server.kill()
        server.wait(timeout=10)
        server.stderr.close()


def test_websocket_transport_serves_lsp(tmp_path: Path) -> None:
    from websockets.asyncio.client import connect

    port = free_port()
    server = subprocess.Popen(
        [*SERVE, "--ws", f"127.0.0.1:{port}", "--token-file", str(token_file(tmp_path))],
        stderr=subprocess.DEVNULL,
    )

    async def talk() -> dict:
        for _ in range(200):
            try:
                websocket = await connect(f"ws://127.0.0.1:{port}")
                break
            except OSError:
                await asyncio.sleep(0.1)
        async with websocket:
            await websocket.send(json.dumps(initialize_with_token()))
            return json.loads(await asyncio.wait_for(websocket.recv(), 20))

    try:
        reply = asyncio.run(talk())
        assert reply["result"]["serverInfo"]["name"] == "spark-lsp"
    finally:
        server.kill()
        server.wait(timeout=10)


def test_bench_sync_prints_a_table_and_writes_json(tmp_path: Path) -> None:
    output = tmp_path / "sync.json"
    result = run(
        "bench",
        "sync",
        "--sizes",
        "200,2000",
        "--edits",
        "300",
        "--baseline-edits",
        "50",
        "--json",
        str(output),
    )
    assert result.returncode == 0, result.stderr
    assert "store p50 us" in result.stdout
    figures = json.loads(output.read_text())
    assert figures["benchmark"] == "sync"
    assert [r["lines"] for r in figures["results"]] == [200, 2000]
    for row in figures["results"]:
        assert row["store"]["edits"] == 300
        assert row["naive"]["edits"] == 50
        assert row["store"]["median_us"] > 0
