"""Local usage statistics: counted, saved atomically, and a damaged file never stops the server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from spark_lsp.stats import StatsStore


def test_counts_persist_and_summarise(tmp_path: Path) -> None:
    store = StatsStore(tmp_path / "stats.json")
    for latency in (100.0, 200.0, 300.0):
        store.record_suggested(latency)
    store.record_shown()
    store.record_shown()
    store.record_accepted(5)
    store.record_partially_accepted(2)
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
