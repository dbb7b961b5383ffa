"""bench infill --blocks: the masked bodies, the whole-block comparison, and both paths over
the server's completion service (fake engine for the logic, the real model for one run)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from spark_lsp.bench.infill_blocks import BlockOutcomes, BlockRunner, MaskedBlock, block_cases
from spark_lsp.completion.headless import HeadlessCompletion
from spark_lsp.documents import split_lines
from spark_lsp.engine import GenerationRequest
from spark_lsp.engine.fake import FakeEngine

SOURCE = (
    "def total(values):\n"
    "    result = 0\n"
    "    for value in values:\n"
    "        if value > 0:\n"
    "            result += value\n"
    "\n"
    "        result -= 1\n"
    "    return result\n"
    "\n"
    "\n"
    "def single(x):\n"
    "    return x\n"
)


def test_bodies_of_two_to_eight_lines_are_masked_whole_blank_lines_inside_kept() -> None:
    cases = block_cases([("m.py", split_lines(SOURCE))], 0)
    bodies = {case.line: case.body for case in cases}
    # def total: 7 lines; for: 4 lines with its inner blank line; if: 1 line (too short);
    # def single: 1 line (too short).
    assert set(bodies) == {1, 3}
    assert bodies[3] == [
        "        if value > 0:",
        "            result += value",
        "",
        "        result -= 1",
    ]
    assert cases[1].typed("indented") == "        " and cases[1].typed("line-start") == ""


def test_a_block_is_exact_only_when_every_line_is() -> None:
    case = MaskedBlock("m.py", tuple(split_lines(SOURCE)), 3, 7)
    outcomes = BlockOutcomes()
    outcomes.add("a", case, [*case.body, "", ""], 10.0)  # trailing blank lines aside
    outcomes.add("a", case, case.body[:1], 10.0)  # the first line alone
    outcomes.add("a", case, None, 10.0)
    summary = outcomes.summary("a")
    assert outcomes.exact["a"] == [True, False, False]
    assert outcomes.first_line["a"] == [True, True, False]
    assert summary["blocks_offered"] == round(100 / 3, 1) and summary["nothing_shown"] == 1


def test_both_paths_answer_the_erased_body_and_the_document_is_restored() -> None:
    case = block_cases([("m.py", split_lines(SOURCE))], 0)[1]
    body = "\n".join(case.body)

    def responder(request: GenerationRequest) -> str:
        return "\n" + body + "\n"  # for prompts that end at the opener's line

    async def scenario() -> tuple[BlockOutcomes, str]:
        completion = HeadlessCompletion(FakeEngine(responder))
        outcomes = BlockOutcomes()
        try:
            runner = BlockRunner(completion, "line-start", "python")
            await runner.run(case, outcomes)
            text = completion.store.snapshot("file:///bench/infill/m.py").text
        finally:
            completion.stop()
        return outcomes, text

    outcomes, text = asyncio.run(scenario())
    assert outcomes.exact["raw-natural-block"] == [True]
    assert outcomes.first_line["pipeline"] == [True]
    assert text == SOURCE


@pytest.mark.model
def test_the_real_model_runs_the_block_bench_on_a_corpus(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(SOURCE, encoding="utf-8")
    report = tmp_path / "blocks.json"
    command = [sys.executable, "-m", "spark_lsp", "bench", "infill", "--blocks"]
    command += ["--corpus", str(tmp_path), "--model", "small", "--json", str(report)]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-2000:]
    results = json.loads(report.read_text())["results"]
    assert results["pipeline"]["cases"] == results["raw-natural-block"]["cases"] == 2
    assert "block exact %" in finished.stdout
