"""Test-wide settings: usage statistics go to a temporary directory, never the user's."""

from __future__ import annotations

import os
import tempfile

os.environ["SPARK_LSP_STATE_DIR"] = tempfile.mkdtemp(prefix="spark-lsp-state-")
