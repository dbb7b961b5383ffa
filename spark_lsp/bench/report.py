"""Shared pieces of the benchmarks: the machine's description, a plain-text table, the JSON file."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from spark_lsp import __version__


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "spark_lsp": __version__,
    }


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_json(path: str | None, name: str, payload: dict[str, Any]) -> None:
    if path is None:
        return
    document = {"benchmark": name, "machine": machine(), **payload}
    Path(path).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
