"""Test-wide settings: usage statistics go to a temporary directory, never the user's; the
small model preset serves. Shared fixtures: one build of the VS Code extension for its tests."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ["SPARK_LSP_STATE_DIR"] = tempfile.mkdtemp(prefix="spark-lsp-state-")
# The suite runs on the small preset wherever the install made the large one the default: its
# assertions were written for it and the suite must stay within its time (test_machine.py tests
# the choice itself).
os.environ["SPARK_LSP_MODEL"] = "small"


@pytest.fixture(scope="session")
def built_extension(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of editors/vscode, installed from its lock file and compiled."""
    from tests.vscode_build import build

    return build(tmp_path_factory.mktemp("vscode") / "vscode")


@pytest.fixture(scope="session")
def extension_vsix(built_extension: Path) -> Path:
    """The packaged extension."""
    from tests.vscode_build import package

    return package(built_extension)
