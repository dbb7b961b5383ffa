"""``spark-lsp complete`` on the real model, and its one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

COMMAND = [sys.executable, "-m", "spark_lsp", "complete"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COMMAND, *args], capture_output=True, text=True, timeout=300)


@pytest.mark.model
def test_the_demo_completes_on_the_embedded_model() -> None:
    result = run("--demo", "--max-tokens", "24")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()  # the suggestion after `return ` in is_prime
    assert "Illegal" not in result.stderr
    assert "[qwen2.5-coder]" in result.stderr


@pytest.mark.model
def test_a_file_position(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text('def add(a, b):\n    """Return the sum of a and b."""\n    return a +\n')
    result = run(f"{source}:3:15", "--max-tokens", "8")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("b")


@pytest.mark.parametrize(
    ("target", "message"),
    [("nofile", "expected FILE:LINE:COL"), ("/nonexistent.py:1:1", "cannot read")],
)
def test_bad_targets_are_one_line(target: str, message: str) -> None:
    result = run(target)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert message in result.stderr


def test_a_position_outside_the_file(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("x = 1\n")
    result = run(f"{source}:9:1")
    assert result.returncode == 1
    assert "is outside the file" in result.stderr
