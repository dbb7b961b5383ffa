"""``spark-lsp model`` and ``spark-lsp bench latency`` on the real embedded model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from spark_lsp import models

pytestmark = pytest.mark.model
COMMAND = [sys.executable, "-m", "spark_lsp"]


def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COMMAND, *args], capture_output=True, text=True, timeout=timeout)


def test_model_path_info_and_verify() -> None:
    path = run("model", "path")
    assert path.returncode == 0, path.stderr
    assert path.stdout.strip() == str(models.assemble())
    info = run("model", "info")
    assert info.returncode == 0, info.stderr
    assert "qwen2.5-coder" in info.stdout
    assert "chat template      yes" in info.stdout
    verify = run("model", "verify")
    assert verify.returncode == 0, verify.stderr
    assert verify.stdout.startswith("verified ")


def test_model_errors_are_one_line() -> None:
    result = run("model", "info", "--model", "/nonexistent.gguf")
    assert result.returncode == 1
    assert result.stderr.strip() == "spark-lsp: error: model file /nonexistent.gguf does not exist"


@pytest.mark.timeout(900)
def test_bench_latency_runs_side_by_side_and_writes_json(tmp_path: Path) -> None:
    output = tmp_path / "latency.json"
    result = run(
        "bench",
        "latency",
        "--points-per-file",
        "3",  # the position this test was sized for (the default, 1, picks another)
        "--max-positions",
        "1",
        "--exact-keystrokes",
        "2",
        "--baseline-keystrokes",
        "2",
        "--replay-tasks",
        "0",  # the replay has its own test
        "--json",
        str(output),
        timeout=900,
    )
    assert result.returncode == 0, result.stderr
    assert "engine (reuse)" in result.stdout
    figures = json.loads(output.read_text())
    assert figures["benchmark"] == "latency"
    assert figures["engine_reuse"]["keystrokes"] >= 16
    assert figures["engine_exact"]["keystrokes"] == 2
    assert figures["baseline"]["keystrokes"] == 2
    assert figures["agreement"]["compared"] == 2
    # Reuse must evaluate far fewer tokens per keystroke than exact recomputation.
    assert (
        figures["engine_reuse"]["tokens_evaluated_p50"]
        < figures["engine_exact"]["tokens_evaluated_p50"] / 4
    )


@pytest.mark.timeout(600)
def test_the_typing_replay_compares_reuse_with_exact_recomputation(tmp_path: Path) -> None:
    output = tmp_path / "replay.json"
    result = run(
        "bench",
        "latency",
        "--replay-only",
        "--replay-tasks",
        "1",
        "--json",
        str(output),
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "exact match %" in result.stdout
    rows = json.loads(output.read_text())["replay"]
    assert list(rows) == ["exact", "refresh 4", "refresh 4 + pauses"]
    assert len({row["keystrokes"] for row in rows.values()}) == 1
    assert rows["exact"]["same_as_exact"] == 100.0
    # Reuse evaluates a few tokens per keystroke; only the pauses refresh cells.
    assert rows["refresh 4"]["tokens_evaluated_p50"] < rows["exact"]["tokens_evaluated_p50"]
    assert rows["refresh 4"]["tokens_refreshed"] == 0
    assert rows["refresh 4 + pauses"]["tokens_refreshed"] > 0
