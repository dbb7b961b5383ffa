"""The VS Code extension in a real VS Code: code-server 4.100.3 (VS Code 1.100.3) with the
packaged .vsix installed, driven in Debian's Chromium by tests/editors/vscode_e2e.js, against
the real server and the embedded model.

The server is started through a wrapper that copies its standard output to a file, so that the
ghost text on screen is checked against the bytes the server sent. Screenshots of each step go
to a temporary folder, or to $SPARK_LSP_VSCODE_SCREENSHOTS when it is set. code-server and
puppeteer-core are installed once into the user cache (tests/code_server.py); Chromium comes
from Debian (`apt-get install chromium`, which .ci/run does): without it the tests skip.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import code_server
from tests.editor_checks import SERVER, assert_only_a_docstring_was_added

DRIVER = Path(__file__).resolve().parent / "editors" / "vscode_e2e.js"
SHAPES = (
    "import math\n\n\n"
    "def circle_area(radius):\n    return math.pi * radius * radius\n\n\n"
    "def rectangle_area(width, height):\n    return width * height\n\n\n"
    "def triangle_area(base, height):\n"
)
TYPED = "    return 0.5 * "
TYPED_LINE = 12  # 0-based: the line after `def triangle_area`
FUNCTION_LINE = 4  # 1-based: `def circle_area(radius):`
# The parameter renamed in its signature; its other use, on the next line, is the next edit.
RENAME = {"signature": "def rectangle_area(width, height):", "old": "width", "name": "span"}
USER_SETTINGS = {
    "security.workspace.trust.enabled": False,
    "workbench.startupEditor": "none",
    "workbench.tips.enabled": False,
    "telemetry.telemetryLevel": "off",
    "extensions.autoCheckUpdates": False,
    "extensions.autoUpdate": False,
    "update.mode": "none",
    "files.autoSave": "off",
    "window.restoreWindows": "none",
    # The word-based suggestion list would sit over the ghost text and take Tab.
    "editor.quickSuggestions": {"other": False, "comments": False, "strings": False},
    "editor.suggestOnTriggerCharacters": False,
    # Tests check behaviour, not speed: no time limit on generation.
    "sparkLsp.completion.predictTimeBudgetMs": 0,
}

pytestmark = [
    pytest.mark.model,
    pytest.mark.timeout(1200),
    pytest.mark.skipif(
        not Path(code_server.CHROMIUM).is_file(),
        reason="Debian's chromium is not installed (apt-get install chromium; .ci/run does)",
    ),
    pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not on PATH"),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_http(url: str, process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"code-server exited with {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise RuntimeError(f"code-server did not answer at {url}")


def screenshot_folder(tmp: Path, scenario: str) -> Path:
    chosen = os.environ.get("SPARK_LSP_VSCODE_SCREENSHOTS")
    folder = Path(chosen) / scenario if chosen else tmp / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def run_vscode(
    tmp: Path, vsix: Path, scenario: str, server_path: str, server_output: Path | None = None
) -> dict[str, Any]:
    """One VS Code session in a new profile: install the .vsix, start code-server, drive it."""
    installed = code_server.install()
    executable = str(code_server.executable(installed))
    workspace, user, extensions = tmp / "workspace", tmp / "user", tmp / "extensions"
    workspace.mkdir()
    (workspace / "shapes.py").write_text(SHAPES, encoding="utf-8")
    (user / "User").mkdir(parents=True)
    settings = {**USER_SETTINGS, "sparkLsp.server.path": server_path}
    (user / "User" / "settings.json").write_text(json.dumps(settings), encoding="utf-8")
    profile = ["--user-data-dir", str(user), "--extensions-dir", str(extensions)]
    subprocess.run(
        [executable, *profile, "--install-extension", str(vsix)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    port = free_port()
    log = (tmp / "code-server.log").open("wb")
    process = subprocess.Popen(
        [
            executable, *profile, "--config", str(tmp / "config.yaml"), "--auth", "none",
            "--bind-addr", f"127.0.0.1:{port}", "--disable-telemetry", "--disable-update-check",
            "--disable-workspace-trust",
        ],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", process)
        config = {
            "url": f"http://127.0.0.1:{port}/?folder={workspace}",
            "chromium": code_server.CHROMIUM,
            "file": "shapes.py",
            "path": str(workspace / "shapes.py"),
            "line": TYPED,
            "functionLine": FUNCTION_LINE,
            "rename": RENAME,
            "serverOutput": str(server_output or tmp / "no-server-output"),
            "screenshots": str(screenshot_folder(tmp, scenario)),
            "scenario": scenario,
        }
        (tmp / "driver.json").write_text(json.dumps(config), encoding="utf-8")
        environment = {**os.environ, "NODE_PATH": str(installed / "node_modules")}
        driven = subprocess.run(
            ["node", str(DRIVER), str(tmp / "driver.json")],
            capture_output=True, text=True, env=environment, timeout=900, check=False,
        )  # fmt: skip
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # code-server, its extension host and the server
        process.wait(timeout=30)
        log.close()
    lines = driven.stdout.strip().splitlines()
    assert driven.returncode == 0 and lines, driven.stderr[-6000:]
    seen: dict[str, Any] = json.loads(lines[-1])
    log_text = (tmp / "code-server.log").read_text(errors="replace")[-3000:]
    assert "error" not in seen, f"{seen['error']}\nscreenshots: {config['screenshots']}\n{log_text}"
    return seen


def server_messages(path: Path) -> list[dict[str, Any]]:
    """The JSON-RPC messages in a copy of the server's standard output."""
    data, messages, start = path.read_bytes(), [], 0
    while (end := data.find(b"\r\n\r\n", start)) >= 0:
        header = re.search(rb"Content-Length: (\d+)", data[start:end])
        assert header is not None, data[start:end]
        length = int(header.group(1))
        messages.append(json.loads(data[end + 4 : end + 4 + length]))
        start = end + 4 + length
    return messages


@pytest.fixture(scope="module")
def typing_session(
    tmp_path_factory: pytest.TempPathFactory, extension_vsix: Path
) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    tmp = tmp_path_factory.mktemp("vscode-real")
    wrapper, output = tmp / "spark-lsp", tmp / "server-output.jsonrpc"
    wrapper.write_text(f'#!/bin/sh\n"{SERVER}" "$@" | tee -a "{output}"\n', encoding="utf-8")
    wrapper.chmod(0o755)
    seen = run_vscode(tmp, extension_vsix, "typing", str(wrapper), output)
    yield seen, server_messages(output)


def shown_items(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Inline completion items the server sent for the end of the typed line."""
    cursor = {"line": TYPED_LINE, "character": len(TYPED)}
    items = []
    for message in messages:
        result = message.get("result")
        if isinstance(result, dict) and isinstance(result.get("items"), list):
            items += [
                item for item in result["items"] if item.get("range", {}).get("end") == cursor
            ]
    return items


def test_the_status_bar_shows_loading_then_ready(typing_session: Any) -> None:
    seen, _ = typing_session
    states = seen["states"]
    loading = [index for index, label in enumerate(states) if "loading the model" in label]
    ready = [index for index, label in enumerate(states) if "sparkle" in label]
    assert loading and ready and loading[0] < ready[0], states
    assert "qwen2.5-coder-0.5b" in states[ready[0]], states


def test_the_ghost_text_is_what_the_server_sent_and_tab_accepts_it(typing_session: Any) -> None:
    seen, messages = typing_session
    items = shown_items(messages)
    assert items, "the server sent no suggestion for the typed line"
    ghost = seen["ghost"]
    # Monaco draws the part of the item after what the range already holds (here: nothing).
    sent = [
        item["insertText"][len(TYPED) - item["range"]["start"]["character"] :] for item in items
    ]
    assert ghost and ghost == sent[-1], (ghost, sent)
    accepted = seen["afterAccept"].split("\n")
    assert "\n".join(accepted[TYPED_LINE:]).rstrip("\n") == TYPED + ghost
    assert seen["afterAccept"].startswith(SHAPES)


def test_add_docstring_from_the_code_action_menu_edits_the_function(typing_session: Any) -> None:
    seen, _ = typing_session
    assert any("Add docstring" in row for row in seen["menu"]), seen["menu"]
    assert_only_a_docstring_was_added(seen["afterAccept"], seen["afterDocstring"], "circle_area")


def test_a_rename_s_next_edit_is_jumped_to_and_accepted_with_tab(typing_session: Any) -> None:
    seen, messages = typing_session
    signature, old, name = RENAME["signature"], RENAME["old"], RENAME["name"]
    renamed = signature.replace(old, name)
    expected = seen["afterDocstring"].replace(
        f"{signature}\n    return width * height\n", f"{renamed}\n    return span * height\n"
    )
    assert expected != seen["afterDocstring"]
    # Tab moved to the suggestion, then applied it: no tab character was typed anywhere.
    assert seen["afterNextEdit"] == expected, seen["afterNextEdit"]
    answers = [
        message["result"]
        for message in messages
        if isinstance(message.get("result"), dict) and message["result"].get("edits")
    ]
    assert answers and answers[-1]["source"] == "substitution", answers
    assert answers[-1]["edits"][0]["text"] == "    return span * height\n"


def test_the_status_bar_shows_an_error_for_a_server_path_that_does_not_exist(
    tmp_path: Path, extension_vsix: Path
) -> None:
    missing = tmp_path / "no-such-folder" / "spark-lsp"
    seen = run_vscode(tmp_path, extension_vsix, "error", str(missing))
    assert "error" in seen["final"] and "spark" in seen["final"], seen["states"]
    text = " ".join([seen["final"], *seen["notifications"]])
    assert str(missing) in text or "not found" in text.lower(), text
