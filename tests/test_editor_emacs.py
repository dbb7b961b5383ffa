"""Emacs's eglot as a third real client: `emacs --batch` with Debian's elpa-eglot (1.9) connects
to the real server over stdio, asks for a function's code actions and applies "Add docstring"
through eglot's own code (tests/editors/eglot_e2e.el). eglot 1.9 cannot resolve code actions,
so the server hands it each edit as a command that applies the edit through workspace/applyEdit.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.editor_checks import SERVER, assert_only_a_docstring_was_added

SCRIPT = Path(__file__).resolve().parent / "editors" / "eglot_e2e.el"
# The action is asked for on the first function; the second must come out unchanged.
SHAPES = (
    "import math\n\n\n"
    "def circle_area(radius):\n    return math.pi * radius * radius\n\n\n"
    "def square_area(side):\n    return side * side\n"
)
EMACS = shutil.which("emacs")


def has_eglot() -> bool:
    if EMACS is None:
        return False
    probe = [EMACS, "--batch", "--eval", "(require 'eglot)"]
    return subprocess.run(probe, capture_output=True, timeout=60, check=False).returncode == 0


pytestmark = [
    pytest.mark.model,
    pytest.mark.skipif(
        not has_eglot(),
        reason="Emacs with eglot is not installed (apt-get install emacs-nox elpa-eglot; "
        ".ci/run does)",
    ),
]


def test_eglot_applies_add_docstring_to_the_function(tmp_path: Path) -> None:
    assert EMACS is not None
    source = tmp_path / "shapes.py"
    source.write_text(SHAPES, encoding="utf-8")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)  # eglot's project
    report_path = tmp_path / "report.json"
    command = [EMACS, "--batch", "-l", str(SCRIPT), str(SERVER), str(source), "4", str(report_path)]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert report_path.is_file(), finished.stderr[-4000:]
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert "error" not in report, report
    assert "spark-lsp: Add docstring" in report["titles"]
    assert "[eglot] Edit successful!" in report["messages"], report["messages"]
    assert_only_a_docstring_was_added(SHAPES, report["text"], "circle_area")
