"""The trust boundaries: what a client, a workspace or a repository may make the server do.

Each test here failed on the code before the boundary was closed (see SECURITY.md)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from spark_lsp import syntax
from tests.raw_client import RawClient

C_COMPILER = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
EVIL_LIBRARY = """
#include <stdio.h>
#include <stdlib.h>
__attribute__((constructor)) static void ran(void) {
    FILE *marker = fopen(getenv("SPARK_TEST_MARKER"), "w");
    if (marker) { fputs("the library ran inside the server", marker); fclose(marker); }
}
"""


def test_only_bundled_grammar_names_reach_the_grammar_pack() -> None:
    assert syntax.grammar_name("python") == "python"
    assert syntax.grammar_name("typescriptreact") == "tsx"
    for hostile in ("/tmp/evil", "../../evil", "python/../../x", "Python", "", "a" * 200, None, 3):
        assert syntax.grammar_name(hostile) is None
        assert syntax.parse(hostile, "x = 1\n") is None  # type: ignore[arg-type]


@pytest.fixture
def library(tmp_path: Path) -> Iterator[Path]:
    if C_COMPILER is None:
        pytest.skip("no C compiler on this machine to build the shared library the attack loads")
    source = tmp_path / "evil.c"
    source.write_text(EVIL_LIBRARY)
    built = tmp_path / "evil.so"
    subprocess.run([C_COMPILER, "-shared", "-fPIC", "-o", str(built), str(source)], check=True)
    yield built


def test_a_language_id_naming_a_library_never_loads_it(library: Path, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    client = RawClient(env={"SPARK_TEST_MARKER": str(marker)})
    try:
        client.initialize()
        for language_id in (
            str(library.with_suffix("")),
            f"../../../../../{library.with_suffix('')}",
        ):
            uri = f"file:///evil-{len(language_id)}.txt"
            document = {"uri": uri, "languageId": language_id, "version": 1, "text": "x = 1\n"}
            client.notify("textDocument/didOpen", {"textDocument": document})
            position = {"line": 0, "character": 0}
            answer = client.request(
                "textDocument/codeAction",
                {
                    "textDocument": {"uri": uri},
                    "range": {"start": position, "end": position},
                    "context": {"diagnostics": []},
                },
            )
            assert "result" in answer
        assert not marker.exists(), marker.read_text()
    finally:
        client.close()


# -- TCP and WebSocket ----------------------------------------------------------------------------

SERVE = [sys.executable, "-m", "spark_lsp", "serve", "--no-preload"]
TOKEN = "a-test-token-of-enough-length"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def frame(payload: dict) -> bytes:
    body = json.dumps(payload).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def initialize(token: str | None) -> dict:
    options = {"token": token} if token is not None else {}
    params = {"capabilities": {}, "processId": None, "initializationOptions": options}
    return {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params}


def read_message(connection: socket.socket, timeout: float = 20) -> dict | None:
    """The next framed message, or None when the server closed the connection."""
    connection.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"Content-Length: (\d+)", head).group(1))  # type: ignore[union-attr]
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            return None
        body += chunk
    return json.loads(body[:length])


def closed(connection: socket.socket) -> bool:
    connection.settimeout(20)
    try:
        return connection.recv(65536) == b""
    except ConnectionResetError:
        return True


@pytest.fixture
def tcp_server(tmp_path: Path) -> Iterator[int]:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    token_file.chmod(0o600)
    port = free_port()
    process = subprocess.Popen(
        [*SERVE, "--tcp", f"127.0.0.1:{port}", "--token-file", str(token_file)],
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
            break
        time.sleep(0.1)
    # That probe was a client too: give the server a moment to see it leave.
    time.sleep(0.3)
    yield port
    process.kill()
    process.wait(timeout=10)


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=20)


def test_a_tcp_client_without_the_token_is_refused(tcp_server: int) -> None:
    for token in (None, "wrong-token-of-enough-length", TOKEN[:-1]):
        with connect(tcp_server) as connection:
            connection.sendall(frame(initialize(token)))
            answer = read_message(connection)
            assert answer is not None and answer["error"]["code"] == -32600
            assert "token" in answer["error"]["message"]
            assert closed(connection)
    with connect(tcp_server) as connection:  # the server still serves a client with the token
        connection.sendall(frame(initialize(TOKEN)))
        answer = read_message(connection)
        assert answer is not None and answer["result"]["serverInfo"]["name"] == "spark-lsp"


def test_a_second_client_is_refused_and_the_first_keeps_working(tcp_server: int) -> None:
    with connect(tcp_server) as first:
        first.sendall(frame(initialize(TOKEN)))
        assert read_message(first)["result"]  # type: ignore[index]
        with connect(tcp_server) as second:
            second.sendall(frame(initialize(TOKEN)))
            answer = read_message(second)
            assert answer is not None and "one client at a time" in answer["error"]["message"]
            assert closed(second)
        first.sendall(frame({"jsonrpc": "2.0", "id": 2, "method": "spark/debug/counters"}))
        answer = read_message(first)
        assert answer is not None and answer["id"] == 2 and "result" in answer


def test_a_connection_without_the_token_never_locks_the_client_out(tcp_server: int) -> None:
    with connect(tcp_server) as idle, connect(tcp_server) as client:
        idle.sendall(b"Content-Length: 10\r\n")  # started, never finished, never authenticated
        client.sendall(frame(initialize(TOKEN)))
        answer = read_message(client)
        assert answer is not None and answer["result"]["serverInfo"]["name"] == "spark-lsp"


def test_an_oversized_or_broken_frame_ends_that_connection_only(tcp_server: int) -> None:
    with connect(tcp_server) as connection:
        connection.sendall(frame(initialize(TOKEN)))
        assert read_message(connection) is not None
        connection.sendall(b"Content-Length: 999999999999\r\n\r\n")
        assert closed(connection)
    with connect(tcp_server) as connection:
        connection.sendall(b"X" * 20000 + b"\r\n")  # a header line far over the limit
        answer = read_message(connection)  # refused with the reason, then closed
        assert answer is not None and "8,192 bytes" in answer["error"]["message"]
        assert closed(connection)
    with connect(tcp_server) as connection:  # a new session: initialize works again
        connection.sendall(frame(initialize(TOKEN)))
        answer = read_message(connection)
        assert answer is not None and answer["result"]["serverInfo"]["name"] == "spark-lsp"


def test_listening_beyond_loopback_needs_a_flag() -> None:
    result = subprocess.run(
        [*SERVE, "--tcp", f"0.0.0.0:{free_port()}"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "--allow-remote-clients" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_new_token_is_private_printed_and_removed_at_exit(tmp_path: Path) -> None:
    port = free_port()
    state = tmp_path / "state"
    process = subprocess.Popen(
        [*SERVE, "--tcp", f"127.0.0.1:{port}"],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "SPARK_LSP_STATE_DIR": str(state)},
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        token = re.search(r"the token (\S+) \(also in (\S+)\)", line)
        assert token is not None, line
        path = Path(token.group(2))
        assert path.read_text().strip() == token.group(1)
        assert path.stat().st_mode & 0o777 == 0o600
        with connect(port) as connection:
            connection.sendall(frame(initialize(token.group(1))))
            assert read_message(connection)["result"]  # type: ignore[index]
            connection.sendall(frame({"jsonrpc": "2.0", "id": 2, "method": "shutdown"}))
            assert read_message(connection)["id"] == 2  # type: ignore[index]
            connection.sendall(frame({"jsonrpc": "2.0", "method": "exit"}))
            assert process.wait(timeout=20) == 0
        assert not path.exists()
    finally:
        process.kill()
        process.wait(timeout=10)


def test_websocket_clients_need_the_token_and_no_browser_origin(tmp_path: Path) -> None:
    from websockets.asyncio.client import connect as ws_connect
    from websockets.exceptions import InvalidStatus

    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    token_file.chmod(0o600)
    port = free_port()
    process = subprocess.Popen(
        [*SERVE, "--ws", f"127.0.0.1:{port}", "--token-file", str(token_file)],
        stderr=subprocess.DEVNULL,
    )
    url = f"ws://127.0.0.1:{port}"

    async def scenario() -> None:
        for _ in range(300):
            try:
                async with ws_connect(
                    url, additional_headers={"Authorization": f"Bearer {TOKEN}"}
                ) as ws:
                    await ws.send(json.dumps(initialize(None)))
                    reply = json.loads(await asyncio.wait_for(ws.recv(), 20))
                    assert reply["result"]["serverInfo"]["name"] == "spark-lsp"
                break
            except OSError:
                await asyncio.sleep(0.1)
        with pytest.raises(InvalidStatus):  # a web page's script: refused at the handshake
            await ws_connect(url, origin="https://evil.example")  # type: ignore[arg-type]
        async with ws_connect(url) as ws:
            await ws.send(json.dumps(initialize("wrong-token-of-enough-length")))
            reply = json.loads(await asyncio.wait_for(ws.recv(), 20))
            assert reply["error"]["code"] == -32600
        async with ws_connect(url) as ws:  # the token in initialize also works
            await ws.send(json.dumps(initialize(TOKEN)))
            reply = json.loads(await asyncio.wait_for(ws.recv(), 20))
            assert reply["result"]["serverInfo"]["name"] == "spark-lsp"

    try:
        asyncio.run(scenario())
    finally:
        process.kill()
        process.wait(timeout=10)


# -- the repository's files -----------------------------------------------------------------------


def test_gitignore_symlinks_fifos_and_devices_are_not_read(tmp_path: Path) -> None:
    from spark_lsp.context.workspace import Workspace

    for name, make in (
        ("zero", lambda target: target.symlink_to("/dev/zero")),
        ("fifo", lambda target: os.mkfifo(target)),
        ("outside", lambda target: target.symlink_to(Path(__file__))),
        ("huge", lambda target: target.write_text("*.tmp\n" * 100_000)),
    ):
        root = tmp_path / name
        (root / "pkg").mkdir(parents=True)
        (root / "pkg" / "code.py").write_text("x = 1\n")
        make(root / ".gitignore")
        started = time.monotonic()
        workspace = Workspace([root])
        # An unreadable .gitignore: nothing in its folder is used as context, and no hang.
        assert workspace.private(root / "pkg" / "code.py"), name
        assert workspace.read_text(root / "pkg" / "code.py") is None, name
        assert time.monotonic() - started < 5, name


def test_nested_gitignores_and_symlinked_files(tmp_path: Path) -> None:
    from spark_lsp.context.workspace import Workspace

    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / ".gitignore").write_text("*.log\n")
    (tmp_path / "a" / ".gitignore").write_text("local.py\n!keep.log\n")
    for name in ("a/local.py", "a/keep.log", "a/x.log", "a/b/local.py", "a/b/code.py", "code.py"):
        (tmp_path / name).write_text("x = 1\n")
    (tmp_path / "a" / "link.py").symlink_to("/etc/hostname")
    workspace = Workspace([tmp_path])
    assert workspace.private(tmp_path / "a" / "local.py")
    assert workspace.private(tmp_path / "a" / "b" / "local.py")  # patterns apply below too
    assert workspace.private(tmp_path / "a" / "x.log")
    assert not workspace.private(tmp_path / "a" / "keep.log")  # re-included by the nested file
    assert not workspace.private(tmp_path / "a" / "b" / "code.py")
    assert workspace.read_text(tmp_path / "a" / "b" / "code.py") == "x = 1\n"
    assert workspace.read_text(tmp_path / "a" / "link.py") is None  # a symlink out of the root


def test_a_file_is_private_under_its_own_name_and_its_targets(tmp_path: Path) -> None:
    from spark_lsp.context.settings import ContextSettings
    from spark_lsp.context.workspace import Workspace

    root, outside = tmp_path / "root", tmp_path / "elsewhere"
    (root / "src").mkdir(parents=True)
    (outside / ".secrets").mkdir(parents=True)
    (root / ".gitignore").write_text("config.local\n")
    (root / "config.txt").write_text("TOKEN=1\n")
    (root / ".env").symlink_to(root / "config.txt")  # a denied name for a plain file
    (outside / "prod.yaml").write_text("TOKEN=2\n")
    (root / "config.local").symlink_to(outside / "prod.yaml")  # an ignored name, a plain file
    (root / "src" / "settings.py").symlink_to(root / "config.local")  # a plain name to it
    (outside / ".secrets" / "aws").write_text("KEY=3\n")
    workspace = Workspace([root], ContextSettings().private_files)
    assert workspace.private(root / ".env")
    assert not workspace.private(root / "config.txt")
    assert workspace.private(root / "config.local")
    assert workspace.private(root / "src" / "settings.py")
    assert workspace.private(outside / ".secrets" / "aws")  # every folder name, outside roots


def test_the_deny_list_keeps_secrets_out_of_prompts(tmp_path: Path) -> None:
    from spark_lsp.context.service import ContextService
    from spark_lsp.context.settings import ContextSettings
    from spark_lsp.documents import DocumentSnapshot, split_lines

    def snapshot(name: str, text: str) -> DocumentSnapshot:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return DocumentSnapshot(path.as_uri(), "python", 1, tuple(split_lines(text)))

    shared = "def load_credentials(api_token, region):\n    client = connect(api_token)\n"
    current = snapshot("app.py", shared + "\n")
    others = [
        snapshot(".env", shared),
        snapshot("deploy.pem", shared),
        snapshot("config/secrets/keys.py", shared),
        snapshot("ignored.py", shared),
        snapshot("helpers.py", shared),
    ]
    (tmp_path / ".gitignore").write_text("ignored.py\n")
    service = ContextService(lambda: [current, *others], ContextSettings())
    service.set_roots([tmp_path])
    for other in others:
        service.record_edit(other.uri, 0, 1)
    chunks = service.candidates(current, 1)
    assert {chunk.path for chunk in chunks} == {"helpers.py"}
    assert service.check_private(others[0].uri) and not service.check_private(current.uri)
    relaxed = ContextService(lambda: [current, *others], ContextSettings(private_files=()))
    relaxed.set_roots([tmp_path])
    assert ".env" in {chunk.path for chunk in relaxed.candidates(current, 1)}


def test_documents_under_other_schemes_are_judged_by_the_path_they_name(tmp_path: Path) -> None:
    from spark_lsp.context.service import ContextService
    from spark_lsp.context.settings import ContextSettings
    from spark_lsp.documents import DocumentSnapshot, split_lines

    shared = "def load_credentials(api_token, region):\n    client = connect(api_token)\n"

    def snapshot(uri: str) -> DocumentSnapshot:
        return DocumentSnapshot(uri, "python", 1, tuple(split_lines(shared)))

    (tmp_path / ".gitignore").write_text("ignored/\n")
    root = tmp_path.as_posix()
    current = snapshot((tmp_path / "app.py").as_uri())
    private = [
        snapshot(f"untitled:{root}/.env"),
        snapshot(f"git:{root}/.env?%7B%22ref%22%3A%22HEAD%22%7D"),
        snapshot(f"fugitive://{root}/.git//0/ignored/creds.py"),
        snapshot(f"git:{root}/ignored/creds.py?ref"),
        snapshot("untitled:deploy.pem"),
        snapshot("vscode-remote:"),  # names no path
    ]
    plain = [snapshot("untitled:Untitled-1"), snapshot(f"git:{root}/helpers.py?ref")]
    documents = [current, *private, *plain]
    service = ContextService(lambda: documents, ContextSettings())
    service.set_roots([tmp_path])
    for document in [*private, *plain]:
        service.record_edit(document.uri, 0, 1)
    assert [d.uri for d in private if not service.check_private(d.uri)] == []
    assert [d.uri for d in plain if service.check_private(d.uri)] == []
    paths = {chunk.path for chunk in service.candidates(current, 1)}
    assert not any("env" in path or "creds" in path or "pem" in path for path in paths), paths
    opted_in = ContextService(lambda: documents, ContextSettings(nameless_documents=True))
    assert not opted_in.check_private("vscode-remote:")


def test_a_fifo_gitignore_does_not_freeze_the_server(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / ".gitignore")
    (tmp_path / "main.py").write_text("import os\n\ndef f():\n    return 1\n")
    client = RawClient()
    try:
        params = {"processId": None, "rootUri": tmp_path.as_uri(), "capabilities": {}}
        assert "result" in client.request("initialize", params)
        client.notify("initialized", {})
        uri = (tmp_path / "main.py").as_uri()
        text = (tmp_path / "main.py").read_text()
        document = {"uri": uri, "languageId": "python", "version": 1, "text": text}
        client.notify("textDocument/didOpen", {"textDocument": document})
        target = {"uri": uri, "version": 1, "first": 2, "last": 4, "action": "explain"}
        target["generation"] = 1  # the first opening of a document in this session
        command = {"command": "spark-lsp.explain", "arguments": [target]}
        answer = client.request("workspace/executeCommand", command, timeout=30)
        assert answer["error"]["code"] == -32803 and "private" in answer["error"]["message"]
        assert "result" in client.request("shutdown", timeout=10)
        client.notify("exit")
        assert client.process.wait(timeout=10) == 0
    finally:
        client.close()


# -- where code and credentials go ----------------------------------------------------------------


def test_workspace_options_never_choose_the_endpoint_model_or_key() -> None:
    client = RawClient()
    try:
        options = {
            "engine": {
                "endpoint": "https://attacker.example",
                "backend": "remote",
                "apiKeyEnv": "AWS_SECRET_ACCESS_KEY",
                "model": "./models/shipped-with-the-repo.gguf",
                "hfRepo": "attacker/model",
                "nCtx": 4096,
            }
        }
        client.initialize(options=options)
        shown = client.wait_for(lambda m: m.get("method") == "window/showMessage")
        message = shown["params"]["message"]
        for name in ("endpoint", "backend", "apiKeyEnv", "model", "hfRepo"):
            assert f"engine.{name} is ignored" in message
        assert "command line" in message
        effective = client.request("spark/debug/options")["result"]["engine"]
        assert effective["endpoint"] is None and effective["model"] is None
        assert effective["backend"] == "local"
        assert effective["apiKeyEnv"] == "SPARK_LSP_API_KEY" and effective["hfRepo"] is None
        assert effective["nCtx"] == 4096  # the rest still applies
        client.notify("workspace/didChangeConfiguration", {"settings": {"sparkLsp": options}})
        assert client.request("spark/debug/options")["result"]["engine"]["endpoint"] is None
        preset = {"engine": {"model": "default"}}
        client.notify("workspace/didChangeConfiguration", {"settings": {"sparkLsp": preset}})
        assert client.request("spark/debug/options")["result"]["engine"]["model"] == "default"
        large = {"engine": {"model": "large"}}  # a preset name is safe to take from a workspace
        client.notify("workspace/didChangeConfiguration", {"settings": {"sparkLsp": large}})
        assert client.request("spark/debug/options")["result"]["engine"]["model"] == "large"
    finally:
        client.close()


def test_plain_http_to_another_machine_warns() -> None:
    from spark_lsp.engine.remote.transport import plain_http_warning

    assert plain_http_warning("http://gpu-box.internal:8080") is not None
    assert plain_http_warning("http://10.1.2.3:8080") is not None
    for safe in (
        "https://gpu-box:8080",
        "http://127.0.0.1:8080",
        "http://localhost",
        "http://[::1]:1",
    ):
        assert plain_http_warning(safe) is None


# -- logs -----------------------------------------------------------------------------------------


def test_the_log_file_is_private_and_http2_debug_lines_are_capped(tmp_path: Path) -> None:
    import logging

    from spark_lsp.cli.log import configure_logging

    log = tmp_path / "server.log"
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("debug", str(log))
        for name in ("hpack", "h2", "httpcore", "httpx"):
            logging.getLogger(f"{name}.inner").debug("Authorization: Bearer sk-secret")
        logging.getLogger("spark_lsp.test").debug("ours still log at debug")
        for handler in root.handlers:
            handler.flush()
        text = log.read_text()
        assert "sk-secret" not in text and "ours still log at debug" in text
        assert log.stat().st_mode & 0o777 == 0o600
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])


def test_a_token_is_not_written_where_another_user_could_swap_it(tmp_path: Path) -> None:
    from spark_lsp.lsp.access_token import TokenFileError, write_new_token

    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # writable by everyone, not sticky
    with pytest.raises(TokenFileError, match="other users can write"):
        write_new_token(shared / "token")
    shared.chmod(0o1777)  # sticky, as /tmp: others cannot remove our file
    assert len(write_new_token(shared / "token")) >= 32
