"""Faults survived: a full disk, signals, interrupted assemblies, a truncated model, a client
that never answers, and statistics shared by several servers."""

from __future__ import annotations

import errno
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spark_lsp import models
from spark_lsp.stats import StatsStore
from tests.raw_client import RawClient

COMMAND = [sys.executable, "-m", "spark_lsp"]


def limit_file_size(limit: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.model
def test_a_full_disk_during_assembly_is_one_clear_error_and_leaves_nothing(tmp_path: Path) -> None:
    result = subprocess.run(
        [*COMMAND, "model", "path"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "SPARK_LSP_CACHE_DIR": str(tmp_path)},
        preexec_fn=limit_file_size(20 * 1024 * 1024),
    )
    assert result.returncode == 1
    error = result.stderr.strip().splitlines()[-1]
    assert "cannot assemble the embedded model" in error and "free space" in error, error
    assert list((tmp_path / "models").glob(".assembling-*")) == []


@pytest.mark.model
def test_an_assembly_killed_midway_is_cleaned_up_at_the_next_start(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [*COMMAND, "model", "path"],
        stderr=subprocess.PIPE,
        env={**os.environ, "SPARK_LSP_CACHE_DIR": str(tmp_path)},
    )
    directory = tmp_path / "models"
    deadline = time.monotonic() + 60
    while not list(directory.glob(".assembling-*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.kill()
    process.wait(timeout=10)
    assert process.stderr is not None
    process.stderr.close()
    leftovers = list(directory.glob(".assembling-*"))
    assert leftovers, "the assembly finished before it could be interrupted"
    models.remove_stale_assemblies(directory)  # what the next start does first
    assert list(directory.glob(".assembling-*")) == []
    assert not (directory / models.DEFAULT_MODEL.file_name).exists()


def test_statistics_of_two_servers_add_up_and_absurd_numbers_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "stats.json"
    first, second = StatsStore(path), StatsStore(path)
    for _ in range(4):
        first.record_accepted(3)
        second.record_accepted(2)
    assert not first.record_partially_accepted(10**4299)
    assert not first.record_partially_accepted(True)
    assert not first.record_partially_accepted(-1)
    assert first.record_partially_accepted(7)
    first.flush()
    second.flush()
    merged = StatsStore(path).stats
    assert merged.accepted == 8 and merged.partially_accepted == 1
    assert merged.characters_accepted == 4 * 3 + 4 * 2 + 7
    assert not list(tmp_path.glob("*.tmp"))


def test_a_full_disk_loses_no_counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "stats.json"
    store = StatsStore(path)
    store.record_accepted(1)
    store.flush()

    def full(descriptor: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    store.record_accepted(1)  # not saved: kept for the next save
    store.flush()
    store.record_accepted(1)
    store.flush()
    monkeypatch.undo()
    store.record_accepted(1)
    store.flush()
    assert StatsStore(path).stats.accepted == 4
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize("how", ["SIGTERM", "stdin closed"])
def test_the_server_exits_within_a_second(how: str) -> None:
    client = RawClient()
    try:
        client.initialize()
        started = time.monotonic()
        if how == "SIGTERM":
            client.process.send_signal(signal.SIGTERM)
        else:
            assert client.process.stdin is not None
            client.process.stdin.close()
        code = client.process.wait(timeout=10)
        assert time.monotonic() - started < 1.5
        assert code == 0
    finally:
        client.close()


@pytest.mark.model
def test_a_loaded_server_exits_within_a_second_on_sigterm() -> None:
    client = RawClient("--preload")
    try:
        client.initialize()
        client.wait_for(
            lambda m: m.get("method") == "spark/status" and m["params"]["state"] == "ready",
            timeout=300,
        )
        started = time.monotonic()
        client.process.send_signal(signal.SIGTERM)
        assert client.process.wait(timeout=10) == 0
        assert time.monotonic() - started < 1.5
    finally:
        client.close()


@pytest.mark.model
def test_a_client_that_never_answers_still_gets_the_model() -> None:
    client = RawClient("--preload")  # it never answers window/workDoneProgress/create
    try:
        client.initialize({"window": {"workDoneProgress": True}})
        ready = client.wait_for(
            lambda m: m.get("method") == "spark/status" and m["params"]["state"] == "ready",
            timeout=300,
        )
        assert ready["params"]["message"]
    finally:
        client.close()


@pytest.mark.model
def test_a_truncated_model_file_is_an_error_and_the_server_keeps_serving(tmp_path: Path) -> None:
    whole = models.assemble()
    truncated = tmp_path / "truncated.gguf"
    with whole.open("rb") as source, truncated.open("wb") as target:
        target.write(source.read(8 * 1024 * 1024))
    client = RawClient("--model", str(truncated), "--preload")
    try:
        client.initialize()
        shown = client.wait_for(lambda m: m.get("method") == "window/showMessage", timeout=120)
        assert "cannot load the model" in shown["params"]["message"]
        document = {"uri": "file:///a.py", "languageId": "python", "version": 1, "text": "x = "}
        client.notify("textDocument/didOpen", {"textDocument": document})
        params = {
            "textDocument": {"uri": "file:///a.py"},
            "position": {"line": 0, "character": 4},
            "context": {"triggerKind": 1},
        }
        answer = client.request("textDocument/inlineCompletion", params, timeout=60)
        assert answer["result"]["items"] == []
        assert "result" in client.request("spark/debug/counters")
    finally:
        client.close()
