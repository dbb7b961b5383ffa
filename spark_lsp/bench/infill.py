"""``spark-lsp bench infill``: single masked lines, the raw model against what a user is shown.

Cases (``infill_cases``): HumanEval's canonical solutions (each non-empty line in turn, with
pass@1 from the problem's tests), or with ``--corpus [DIR]`` real files, by default this
repository's own Python sources at a pinned commit: code no model has seen. Each document is
whole, as an editor has it. ``--cursor`` says where the user is on the masked line:
``line-start`` (the line emptied, the cursor at column 0), ``indented`` (the indentation kept,
the cursor after it) or ``typed`` (the first third of the line's code typed).

Paths (``infill_paths``): raw (the model at the cursor, over the server's whole window),
raw-natural (line-start and indented: the prefix ends at the line above) and the pipeline: an
Invoked request to the server's own completion service in-process, or with ``--lsp`` to the
real server over stdio (``infill_lsp``). Reported: exact match, "first line continues
correctly", nothing shown, blocks offered, median time; where the pipeline showed nothing while
a raw answer was right, the rule that dropped it; each rule switched off in turn over the same
generations; and each document's first (cold) request against the raw model on the same prompt.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from spark_lsp import models
from spark_lsp.bench import lsp_typing
from spark_lsp.bench.infill_blocks import BlockOutcomes, BlockRunner, block_cases
from spark_lsp.bench.infill_blocks import report as blocks_report
from spark_lsp.bench.infill_cases import (
    CORPUS_LINES,
    CURSORS,
    PINNED_COMMIT,
    MaskedLine,
    corpus_cases,
    corpus_documents,
    humaneval_cases,
)
from spark_lsp.bench.infill_paths import InProcess, Outcomes
from spark_lsp.bench.report import format_table, write_json
from spark_lsp.completion.headless import HeadlessCompletion
from spark_lsp.engine.loader import load_engine
from spark_lsp.engine.settings import add_engine_arguments, engine_settings_from
from spark_lsp.percentiles import median

QUICK_TASKS = 20  # the default HumanEval run: a few minutes (about 9 s a task on a 2-core CPU)
BLOCK_CASES = 60
MAIN_PATHS = ("raw", "raw-natural", "pipeline", "pipeline over LSP")


def add_parser(benches: Any) -> None:
    infill = benches.add_parser("infill", help="single masked lines: raw model vs what is shown")
    infill.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    infill.add_argument(
        "--limit",
        type=int,
        help=f"about N masked lines (default {QUICK_TASKS} of HumanEval, whole problems at an "
        f"even stride; {CORPUS_LINES} with --corpus, spread over the files; 0: all)",
    )
    infill.add_argument("--full", action="store_true", help="all 1,033 HumanEval lines (hours)")
    infill.add_argument(
        "--corpus",
        nargs="?",
        const="",
        metavar="DIR",
        help="mask lines of real Python files under DIR, each file whole as the context "
        f"(no DIR: this repository's spark_lsp/ at commit {PINNED_COMMIT[:12]}, from git)",
    )
    infill.add_argument(
        "--files",
        type=int,
        default=0,
        metavar="N",
        help="--corpus: only N files, at an even stride over the names (default: all; each "
        "file's first request is cold and its whole window is evaluated once per path)",
    )
    infill.add_argument(
        "--lsp", action="store_true", help="ask the pipeline through the real server over stdio"
    )
    infill.add_argument(
        "--blocks",
        action="store_true",
        help="with --corpus: mask whole bodies of compound statements (2-8 lines) instead of "
        "single lines; whole-block exact match, in-process (default --limit 60)",
    )
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
    add_engine_arguments(infill)


def load_cases(args: argparse.Namespace) -> list[MaskedLine]:
    if args.corpus is not None:
        limit = CORPUS_LINES if args.limit is None else args.limit
        return corpus_cases(Path(args.corpus) if args.corpus else None, limit, args.files)
    limit = args.limit if args.limit is not None else (0 if args.full else QUICK_TASKS)
    return humaneval_cases(limit)


def progress_printer(total: int) -> Callable[[int], None]:
    started = time.perf_counter()

    def report(done: int) -> None:
        if done % 25 == 0 or done == total:
            elapsed = time.perf_counter() - started
            print(f"  {done}/{total} masked lines, {elapsed:.0f} s", file=sys.stderr, flush=True)

    return report


async def run_in_process(
    engine: Any, cases: list[MaskedLine], cursor: str, outcomes: Outcomes, raw_only: bool
) -> None:
    completion = HeadlessCompletion(engine)
    runner = InProcess(completion, cursor, "python")
    report = progress_printer(len(cases))
    try:
        for index, case in enumerate(cases):
            await runner.run(case, outcomes, raw_only)
            report(index + 1)
    finally:
        completion.stop()


def cold_figures(cold: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians of each document's first request, and (in-process) of its ratio to the raw
    model on the same prompt tokens (asked for a plain line), and to the pipeline's own
    request replayed alone (without alternatives nor anything around the engine)."""
    if not cold:
        return {}
    figures: dict[str, Any] = {
        "documents": len(cold),
        "pipeline_median_ms": round(median([entry["pipeline_ms"] for entry in cold]), 1),
    }
    paired = [entry for entry in cold if "raw_ms" in entry]
    if paired:
        figures["raw_same_prompt_median_ms"] = round(median([e["raw_ms"] for e in paired]), 1)
        ratios = [e["pipeline_ms"] / max(e["raw_ms"], 1e-3) for e in paired]
        figures["median_ratio"] = round(median(ratios), 2)
    same = [entry for entry in cold if "same_request_ms" in entry]
    if same:
        figures["same_request_median_ms"] = round(median([e["same_request_ms"] for e in same]), 1)
        ratios = [e["pipeline_ms"] / max(e["same_request_ms"], 1e-3) for e in same]
        figures["median_ratio_same_request"] = round(median(ratios), 2)
    return figures


def report(cursor: str, outcomes: Outcomes) -> dict[str, Any]:
    """Print the tables; the figures for the JSON."""
    summary = {path: outcomes.summary(path) for path in outcomes.exact}
    paths = [path for path in MAIN_PATHS if path in summary]
    columns = ["path", "cases", "exact match %", "continues %", "nothing shown", "blocks", "ms"]
    with_pass = any("pass_at_1" in summary[path] for path in paths)
    print(f"cursor: {cursor}")
    rows = []
    for path in paths:
        values = summary[path]
        row = [path, values["cases"], values["exact_match"], values["continues"]]
        row += [values["nothing_shown"], values["blocks_offered"], values["median_ms"]]
        rows.append((*row, values["pass_at_1"]) if with_pass else tuple(row))
    print(format_table(tuple(columns + (["pass@1 %"] if with_pass else [])), rows))
    baseline = "raw" if cursor == "typed" else "raw-natural"
    gains = {}
    for path in paths[2 if baseline == "raw-natural" else 1 :]:
        gains[path] = round(summary[path]["exact_match"] - summary[baseline]["exact_match"], 1)
        print(f"{path} - {baseline}: exact match {gains[path]:+.1f} points (target: >= +2)")
    shown_nothing = len(outcomes.drops)
    share = 100 * shown_nothing / max(1, outcomes.raw_right)
    print(
        f"pipeline showed nothing where a raw answer was right: {shown_nothing} of "
        f"{outcomes.raw_right} ({share:.1f} %, target: <= 3 %); early answers: {outcomes.early}"
    )
    reasons: dict[str, int] = {}
    for drop in outcomes.drops:
        reasons[drop["reason"]] = reasons.get(drop["reason"], 0) + 1
    for reason, count in sorted(reasons.items(), key=lambda item: -item[1]):
        print(f"  {reason}: {count}")
    cold = cold_figures(outcomes.cold)
    if cold:
        print(f"cold (each document's first request): {cold} (target ratio: <= 1.1)")
    ablated = [path for path in summary if path.startswith("without ")]
    if ablated and "pipeline" in summary:
        print("\nEach rule's effect: the pipeline's generations with that rule switched off.")
        rows = [
            (path, summary[path]["exact_match"], summary[path]["nothing_shown"]) for path in ablated
        ]
        print(format_table(("pipeline", "exact match %", "nothing shown"), rows))
    return {
        "results": summary,
        "gains": gains,
        "drops": outcomes.drops,
        "cold": cold,
        "cold_requests": outcomes.cold,
    }


def blocks_main(args: argparse.Namespace) -> int:
    if args.corpus is None or args.lsp or args.cursor == "typed":
        raise SystemExit(
            "spark-lsp: error: --blocks needs --corpus, a cursor line-start or indented, and "
            "runs in-process (the server's own completion service; not --lsp)"
        )
    directory = Path(args.corpus) if args.corpus else None
    limit = BLOCK_CASES if args.limit is None else args.limit
    cases = block_cases(corpus_documents(directory, args.files), limit)
    documents = len({case.document for case in cases})
    print(f"{len(cases)} masked blocks in {documents} documents, cursor {args.cursor}", flush=True)
    engine = load_engine(engine_settings_from(args), models.stderr_progress())
    outcomes = BlockOutcomes()

    async def run_all() -> None:
        completion = HeadlessCompletion(engine)
        runner = BlockRunner(completion, args.cursor, "python")
        report_progress = progress_printer(len(cases))
        try:
            for index, case in enumerate(cases):
                await runner.run(case, outcomes)
                report_progress(index + 1)
        finally:
            completion.stop()

    try:
        asyncio.run(run_all())
    finally:
        engine.close()
    summary = blocks_report(args.cursor, outcomes)
    source = args.corpus or f"pinned:{PINNED_COMMIT}"
    write_json(
        args.json,
        "infill-blocks",
        {"cases": len(cases), "source": source, "cursor": args.cursor, "results": summary},
    )
    return 0


def main(args: argparse.Namespace) -> int:
    if args.cross_file:
        from spark_lsp.bench import crossfile

        return crossfile.main(args)
    if args.blocks:
        return blocks_main(args)
    cases = load_cases(args)
    documents = len({case.document for case in cases})
    print(f"{len(cases)} masked lines in {documents} documents, cursor {args.cursor}", flush=True)
    settings = engine_settings_from(args)
    engine = load_engine(settings, models.stderr_progress())
    outcomes = Outcomes()
    try:
        asyncio.run(run_in_process(engine, cases, args.cursor, outcomes, raw_only=args.lsp))
    finally:
        engine.close()
    if args.lsp:
        from spark_lsp.bench.infill_lsp import run_lsp

        flags = lsp_typing.server_flags(settings)
        asyncio.run(run_lsp(cases, args.cursor, flags, outcomes, progress_printer(len(cases))))
    figures = report(args.cursor, outcomes)
    source = "humaneval" if args.corpus is None else (args.corpus or f"pinned:{PINNED_COMMIT}")
    write_json(
        args.json,
        "infill",
        {"cases": len(cases), "source": source, "cursor": args.cursor, "lsp": args.lsp, **figures},
    )
    return 0
