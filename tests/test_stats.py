"""Local usage statistics: counted, saved atomically, and a damaged file never stops the server."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from spark_lsp.bench.fuzz import Harness
from spark_lsp.stats import StatsStore


def test_counts_persist_and_summarise(tmp_path: Path) -> None:
    store = StatsStore(tmp_path / "stats.json")
    for latency in (100.0, 200.0, 300.0):
        store.record_suggested(latency)
    store.record_shown()
    store.record_shown()
    store.record_accepted(5)
    store.record_partially_accepted(2)
    store.flush()
    summary = StatsStore(tmp_path / "stats.json").stats.summary()
    assert summary["suggested"] == 3
    assert (summary["shown"], summary["accepted"], summary["partially_accepted"]) == (2, 1, 1)
    assert summary["characters_accepted"] == 7
    assert summary["acceptance_rate"] == 0.5
    assert summary["latency_ms_p50"] == 200.0


def test_a_damaged_file_starts_afresh(tmp_path: Path) -> None:
    path = tmp_path / "stats.json"
    path.write_text("{not json")
    assert StatsStore(path).stats.accepted == 0


def test_the_stats_command_prints_the_summary(tmp_path: Path) -> None:
    store = StatsStore(tmp_path / "stats.json")
    store.record_accepted(3)
    store.flush()
    result = subprocess.run(
        [sys.executable, "-m", "spark_lsp", "stats"],
        capture_output=True,
        text=True,
        env={"SPARK_LSP_STATE_DIR": str(tmp_path), "PATH": ""},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "accepted              1" in result.stdout
    assert "characters accepted   3" in result.stdout


# -- other local users --------------------------------------------------------------------------

HOLD_LOCK = """
import fcntl, select, sys
lock = open(sys.argv[1], "rb")  # read-only is enough to take the lock
fcntl.flock(lock, fcntl.LOCK_EX)
print("held", flush=True)
select.select([sys.stdin], [], [], float(sys.argv[2]))  # until told, or the time is up
fcntl.flock(lock, fcntl.LOCK_UN)
"""


@contextlib.contextmanager
def lock_held_by_another_process(lock: Path, at_most_s: float = 20) -> Iterator[Callable[[], bool]]:
    """The statistics lock held (LOCK_EX) by another process; yields whether it still holds it."""
    lock.touch()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(lock), str(at_most_s)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    try:
        yield lambda: holder.poll() is None
    finally:
        holder.communicate("", timeout=30)


def test_the_state_folder_and_files_are_private(tmp_path: Path) -> None:
    folder = tmp_path / "spark-lsp"
    store = StatsStore(folder / "stats.json")
    store.record_accepted(3)
    store.flush()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for name in ("stats.json", "stats.json.lock"):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600, name
    assert json.loads((folder / "stats.json").read_text())["accepted"] == 1


def test_a_state_folder_others_can_enter_is_made_private(tmp_path: Path) -> None:
    folder = tmp_path / "spark-lsp"
    folder.mkdir(mode=0o755)
    folder.chmod(0o775)  # as the code before made it under a umask of 002
    StatsStore(folder / "stats.json").record_shown()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


@pytest.mark.skipif(os.getuid() != 0, reason="giving a folder to another user needs root")
def test_a_state_folder_of_another_user_is_refused_and_counting_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "theirs"
    folder.mkdir(mode=0o700)
    os.chown(folder, 65534, 65534)
    with caplog.at_level(logging.WARNING, logger="spark_lsp.stats"):
        store = StatsStore(folder / "stats.json")
        store.record_accepted(2)
        store.record_accepted(2)
        store.flush()
    assert store.stats.accepted == 2
    assert not (folder / "stats.json").exists() and not (folder / "stats.json.lock").exists()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "belongs to another user" in warnings[0], warnings


def test_a_held_lock_delays_the_save_never_the_caller(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "stats.json"
    store = StatsStore(path)
    with lock_held_by_another_process(tmp_path / "stats.json.lock") as still_held:
        with caplog.at_level(logging.WARNING, logger="spark_lsp.stats"):
            for _ in range(3):
                store.record_accepted(4)
                assert still_held()  # the accept came back while the other process held it
                store.flush()  # each save gave up after the lock timeout
        assert still_held()
        assert store.stats.accepted == 3 and not path.exists()
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "held the lock" in warnings[0], warnings
    store.record_accepted(4)  # the lock is free again: the counts kept are saved too
    store.flush()
    assert StatsStore(path).stats.accepted == 4


def test_a_held_lock_never_blocks_the_server_s_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real server (fake engine, in-memory stdio): an accept while another process holds the
    statistics lock, then a request; it is answered while the lock is still held."""
    monkeypatch.setenv("SPARK_LSP_STATE_DIR", str(tmp_path))
    asyncio.run(_accept_then_ask_while_locked(tmp_path))


async def _accept_then_ask_while_locked(tmp_path: Path) -> None:
    harness = Harness()
    ids = itertools.count(1)

    async def request(method: str, params: object) -> dict[str, Any]:
        message_id = next(ids)
        harness.send({"jsonrpc": "2.0", "id": message_id, "method": method, "params": params})
        for _ in range(4000):
            await asyncio.sleep(0.005)
            for message in harness.output.messages:
                if message.get("id") == message_id and "method" not in message:
                    return message
        raise AssertionError(f"{method} was never answered")

    try:
        await request("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
        harness.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        document = {"uri": "file:///a.py", "languageId": "python", "version": 1}
        harness.send(
            {
                "jsonrpc": "2.0",
                "method": "textDocument/didOpen",
                "params": {"textDocument": {**document, "text": "x = 1\nx = \n"}},
            }
        )
        answer = await request(
            "textDocument/inlineCompletion",
            {
                "textDocument": {"uri": document["uri"]},
                "position": {"line": 1, "character": 4},
                "context": {"triggerKind": 1},
            },
        )
        item_id = answer["result"]["items"][0]["command"]["arguments"][0]
        with lock_held_by_another_process(tmp_path / "stats.json.lock") as still_held:
            execute = "workspace/executeCommand"
            accept = {"command": "spark-lsp.didAcceptCompletionItem", "arguments": [item_id]}
            await request(execute, accept)
            statistics = await request(execute, {"command": "spark-lsp.showStatistics"})
            assert still_held(), "the server answered only once the lock was released"
            assert statistics["result"]["accepted"] == 1
    finally:
        harness.close()
