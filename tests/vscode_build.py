"""Builds editors/vscode with npm in a copy of the directory, so that the work tree stays clean;
the fixtures in conftest.py share one build between the extension's tests."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

EXTENSION = Path(__file__).resolve().parent.parent / "editors" / "vscode"


def run_npm(directory: Path, *arguments: str) -> str:
    npm = shutil.which("npm")
    assert npm is not None
    result = subprocess.run(
        [npm, *arguments],
        cwd=directory,
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "CI": "true",
            "npm_config_audit": "false",
            "npm_config_fund": "false",
            "npm_config_update_notifier": "false",
        },
        check=False,
        timeout=800,
    )
    output = result.stdout + result.stderr
    if result.returncode != 0:
        pytest.fail(f"npm {' '.join(arguments)} failed ({result.returncode}):\n{output[-12000:]}")
    return output


def build(copy: Path) -> Path:
    """A copy of editors/vscode at `copy`, installed from its lock file and compiled."""
    shutil.copytree(EXTENSION, copy, ignore=shutil.ignore_patterns("node_modules", "out", "*.vsix"))
    run_npm(copy, "ci")
    run_npm(copy, "run", "compile")
    assert (copy / "out" / "extension.js").is_file()
    return copy


def package(built: Path) -> Path:
    """The .vsix of a built copy (packaged once)."""
    if not list(built.glob("*.vsix")):
        run_npm(built, "run", "package")
    (vsix,) = built.glob("*.vsix")
    return vsix
