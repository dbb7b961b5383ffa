"""One answer on every path: ``spark-lsp complete``, the in-process pipeline of ``bench infill``
and an Invoked inlineCompletion request over LSP give the same first suggestion line for the
same text and position, on the real model. The documents are smaller than a cold document's
first window (progressive context), so that the window does not depend on this machine's
measured prompt rate, and their answers are short, well inside the predict budget."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from spark_lsp.bench.infill_lsp import applied
from spark_lsp.bench.lsp_session import LspSession
from spark_lsp.completion.headless import HeadlessCompletion
from spark_lsp.documents import line_content, split_lines
from spark_lsp.engine.loader import load_engine
from spark_lsp.engine.settings import EngineSettings

pytestmark = pytest.mark.model

SOURCE = """def mean(values):
    total = sum(values)

    return total / len(values)


def clamp(value, low, high):
    return max(low, min(
"""
# (line, column), zero-based: a blank line at column 0, the same line after its indentation,
# and the end of a line being typed.
POSITIONS = ((2, 0), (2, 4), (7, 24))


def cursor_line(text: str, line: int, column: int) -> str:
    return line_content(split_lines(text)[line])[:column]


def with_indent(line: int, column: int) -> str:
    """The source with ``line`` holding ``column`` spaces (a blank line's auto-indentation)."""
    lines = split_lines(SOURCE)
    if not line_content(lines[line]).strip():
        lines[line] = " " * column + "\n"
    return "".join(lines)


def from_complete(path: Path, line: int, column: int) -> str | None:
    result = subprocess.run(
        [sys.executable, "-m", "spark_lsp", "complete", f"{path}:{line + 1}:{column + 1}"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    if not result.stdout:
        return None
    typed = cursor_line(path.read_text(encoding="utf-8"), line, column)
    return typed + result.stdout.split("\n", 1)[0]  # it prints what goes in at the cursor


async def from_headless(path: Path, line: int, column: int) -> str | None:
    text, uri = path.read_text(encoding="utf-8"), path.resolve().as_uri()
    engine = load_engine(EngineSettings(model="small"))
    completion = HeadlessCompletion(engine)
    try:
        completion.open(uri, "python", text)
        suggestion = await completion.suggest(uri, line, column)
    finally:
        completion.stop()
        engine.close()
    if suggestion is None:
        return None
    typed = cursor_line(text, line, column)
    return (typed[: suggestion.start_column] + suggestion.text).split("\n", 1)[0]


async def from_lsp(path: Path, line: int, column: int) -> str | None:
    text, uri = path.read_text(encoding="utf-8"), path.resolve().as_uri()
    session = LspSession(["--model", "small"])
    await session.start()
    try:
        document = {"uri": uri, "languageId": "python", "version": 1}
        session.notify("textDocument/didOpen", {"textDocument": {**document, "text": text}})
        answer = await session.request(
            "textDocument/inlineCompletion",
            {
                "textDocument": {"uri": document["uri"]},
                "position": {"line": line, "character": column},
                "context": {"triggerKind": 1},
            },
        )
    finally:
        await session.stop()
    return applied(cursor_line(text, line, column), answer)[0]


@pytest.mark.parametrize(("line", "column"), POSITIONS)
def test_complete_bench_and_lsp_show_the_same_first_line(
    tmp_path: Path, line: int, column: int
) -> None:
    text = with_indent(line, column)
    path = tmp_path / "answer.py"
    path.write_text(text, encoding="utf-8")
    # The file's name is part of the prompt: every path is given the same one.
    over_lsp = asyncio.run(from_lsp(path, line, column))
    assert over_lsp is not None and over_lsp.strip()  # the model has something to say here
    assert asyncio.run(from_headless(path, line, column)) == over_lsp
    assert from_complete(path, line, column) == over_lsp
