"""``spark-lsp bench latency``: keystroke-to-first-token on replayed typing traces.

Traces come from real source files (this package and installed packages). At each chosen line
the line's code is erased after its indentation and typed back one character at a time; after
every keystroke a single-line completion is requested, as an editor would. Side by side, in one
run and one process:

- engine: the in-process engine with KV-cache reuse (``kv_reuse=shift``);
- baseline: llama-cpp-python's ``Llama.create_completion`` given the same prompt tokens every
  keystroke (its own prefix cache is on; the suffix after the cursor is re-evaluated each time);
- exact: the engine with ``kv_reuse=exact``, to measure agreement (same first line) between
  reuse and exact recomputation;
- raw decode: a bare llama_decode loop, the ceiling for decode speed.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from spark_lsp import models
from spark_lsp.bench import first_contact, lsp_typing, replay
from spark_lsp.bench.report import format_table, write_json
from spark_lsp.bench.traces import (
    BREAKDOWN,
    MAX_TOKENS,
    TracePoint,
    keystroke_prompts,
    latency_summary,
    peak_rss_mib,
    peak_rss_reset,
    pick_points,
    request,
    run_engine,
    source_files,
)
from spark_lsp.engine import InfillPrompt
from spark_lsp.engine.loader import load_engine
from spark_lsp.engine.settings import EngineSettings, add_engine_arguments, engine_settings_from
from spark_lsp.engine.vocabulary import LlamaVocabulary


def add_parser(benches: Any) -> None:
    latency = benches.add_parser("latency", help="keystroke-to-first-token on typing traces")
    latency.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    latency.add_argument(
        "--points-per-file", type=int, help="positions per file (default 1; --full: 3)"
    )
    latency.add_argument("--max-positions", type=int, default=0, help="cap on positions (0: none)")
    latency.add_argument(
        "--exact-keystrokes", type=int, help="keystrokes also run exactly (default 40; --full: 200)"
    )
    latency.add_argument(
        "--baseline-keystrokes",
        type=int,
        help="keystrokes run on the baseline (default 20; --full: 40)",
    )
    latency.add_argument(
        "--full", action="store_true", help="the long run (about ten times the keystrokes)"
    )
    latency.add_argument(
        "--breakdown", action="store_true", help="where a keystroke's time goes, phase by phase"
    )
    latency.add_argument(
        "--replay-tasks",
        type=int,
        help="HumanEval lines typed one character at a time: exact match with reuse against "
        "exact recomputation (default 2; --full: 40; 0: none)",
    )
    latency.add_argument(
        "--replay-only", action="store_true", help="only the typing replay (its quality table)"
    )
    _add_lsp_arguments(latency)
    latency.add_argument(
        "--file",
        action="append",
        default=[],
        metavar="PATH",
        help="a source file to take the traces from (repeatable; default: three real files "
        "and this repository's largest modules as one file past 30 kB, larger than the "
        "context and newer than any model)",
    )
    add_engine_arguments(latency)


def _add_lsp_arguments(latency: argparse.ArgumentParser) -> None:
    """The options of the run through the real server (``--lsp``)."""
    latency.add_argument(
        "--lsp",
        action="store_true",
        help="through the real server over stdio (didChange + Automatic inlineCompletion per "
        "keystroke), reuse against exact recomputation",
    )
    latency.add_argument(
        "--cold",
        action="store_true",
        help="with --lsp: per file, the first Invoked request right after didOpen (the model "
        "already loaded)",
    )
    latency.add_argument(
        "--cadence",
        type=int,
        metavar="MS",
        help="with --lsp: type a key every MS milliseconds without waiting for answers, "
        "stopping after each word: the time from its last key to the shown suggestion, and "
        "the model calls started, cancelled and answered too late",
    )
    latency.add_argument(
        "--editor-option",
        action="append",
        default=[],
        type=editor_option,
        metavar="GROUP.NAME=JSON",
        help="with --lsp: an editor option the server gets in initializationOptions "
        "(completion.debounceMs=0, completion.earlyAnswerMs=250; repeatable)",
    )


def editor_option(text: str) -> tuple[str, str, Any]:
    """``group.name=value`` (value in JSON) as (group, name, value)."""
    key, separator, value = text.partition("=")
    group, dot, name = key.partition(".")
    if not separator or not dot or not name:
        raise argparse.ArgumentTypeError(f"expected GROUP.NAME=VALUE, got {text!r}")
    try:
        return group, name, json.loads(value)
    except json.JSONDecodeError:
        return group, name, value  # a bare string


def editor_options(pairs: list[tuple[str, str, Any]]) -> dict[str, Any] | None:
    options: dict[str, Any] = {}
    for group, name, value in pairs:
        options.setdefault(group, {})[name] = value
    return options or None


def run_baseline(
    model_path: Path, settings: EngineSettings, layouts: list[list[list[int]]]
) -> dict[str, Any]:
    from llama_cpp import Llama

    if not layouts:
        return {"keystrokes": 0}
    peak_rss_reset()
    llama = Llama(
        str(model_path),
        n_ctx=settings.n_ctx,
        n_batch=settings.batch_size,
        n_threads=settings.thread_count,
        n_threads_batch=settings.thread_count,
        verbose=False,
    )
    ttft, total = [], []
    for trace in layouts:
        llama.create_completion(trace[0], max_tokens=MAX_TOKENS, stop=["\n"], temperature=0)
        for tokens in trace[1:]:
            started = time.perf_counter()
            first = None
            for _chunk in llama.create_completion(
                tokens, max_tokens=MAX_TOKENS, stop=["\n"], temperature=0, stream=True
            ):
                first = first or time.perf_counter()
            done = time.perf_counter()
            ttft.append(((first or done) - started) * 1000)
            total.append((done - started) * 1000)
    return {**latency_summary(ttft, total), "peak_rss_mib": round(peak_rss_mib(), 1)}


def raw_decode_rate(engine: Any, tokens: int = 64) -> float:
    """The decode ceiling: bare single-token llama_decode calls (no abort callback, no Python
    between tokens but the batch and an argmax) after a copy of the last document's cells, so
    attention runs over as many cells as the engine's own decoding did."""
    import llama_cpp

    runtime, sequences = engine.runtime, engine.sequences
    memory, context = runtime.memory, runtime.ctx
    key = next(reversed(sequences.states))
    seq = sequences.free_seq_id(keep=key)
    runtime.copy(sequences.states[key].seq_id, seq, 0, -1)
    position = llama_cpp.llama_memory_seq_pos_max(memory, seq) + 1
    batch = llama_cpp.llama_batch_init(1, 0, 1)
    batch.n_tokens, batch.n_seq_id[0], batch.seq_id[0][0], batch.logits[0] = 1, 1, seq, 1
    token = engine.tokenize("\n")[0]
    started = time.perf_counter()
    for step in range(tokens):
        batch.token[0], batch.pos[0] = token, position + step
        if llama_cpp.llama_decode(context, batch) != 0:
            raise RuntimeError("raw decode failed")
        token = runtime.greedy()
    rate = tokens / (time.perf_counter() - started)
    llama_cpp.llama_batch_free(batch)
    llama_cpp.llama_memory_seq_rm(memory, seq, -1, -1)
    return rate


FULL_RUN = {
    "points_per_file": 3,
    "exact_keystrokes": 200,
    "baseline_keystrokes": 40,
    "replay_tasks": 40,
}
QUICK_RUN = {
    "points_per_file": 1,
    "exact_keystrokes": 40,
    "baseline_keystrokes": 20,
    "replay_tasks": 2,
}


def apply_run_defaults(args: argparse.Namespace) -> None:
    """Counts left unset take the quick run's defaults (a few minutes), or ``--full``'s."""
    for name, value in (FULL_RUN if args.full else QUICK_RUN).items():
        if getattr(args, name, None) is None:
            setattr(args, name, value)


def main(args: argparse.Namespace) -> int:
    apply_run_defaults(args)
    settings = engine_settings_from(args)
    if settings.backend == "remote":
        from spark_lsp.bench import remote_latency

        return remote_latency.main(args)
    if args.lsp:
        return main_lsp(args, settings)
    if args.replay_only:
        quality = print_replay(settings, args.replay_tasks or QUICK_RUN["replay_tasks"])
        write_json(args.json, "latency-replay", {"settings": dict(settings.__dict__), **quality})
        return 0
    engine = load_engine(replace(settings, kv_reuse="shift"), models.stderr_progress())
    points = pick_points(engine, trace_files(args), args.points_per_file)
    if args.max_positions:
        points = points[: args.max_positions]
    traces = [keystroke_prompts(point) for point in points]
    keystrokes = sum(len(trace) - 1 for trace in traces)
    print(f"{len(points)} positions, {keystrokes} keystrokes; measuring engine (reuse)...")
    reuse = run_engine(engine, traces, "reuse")
    raw_rate = raw_decode_rate(engine)
    engine.close()

    exact_engine = load_engine(replace(settings, kv_reuse="exact"))
    exact_traces = _limit(traces, args.exact_keystrokes)
    print(f"measuring exact recomputation on {sum(len(t) - 1 for t in exact_traces)} keystrokes...")
    exact = run_engine(exact_engine, exact_traces, "exact")
    baseline_traces = _limit(traces, args.baseline_keystrokes)
    layouts = [[_prompt_tokens(exact_engine, p) for p in trace] for trace in baseline_traces]
    model_path = exact_engine.model_path
    exact_engine.close()
    print(f"measuring the baseline on {sum(len(t) - 1 for t in layouts)} keystrokes...")
    baseline = run_baseline(model_path, settings, layouts)
    _report(args, settings, points, reuse, exact, baseline, raw_rate)
    return 0


def print_replay(settings: EngineSettings, tasks: int) -> dict[str, Any]:
    """The typing replay's quality table (bench/replay.py); its rows, for the JSON."""
    if not tasks:
        return {}
    rows = replay.run_replay(settings, tasks)
    columns = (
        "keystrokes",
        "exact_match",
        "same_as_exact",
        "full_ms_p50",
        "tokens_evaluated_p50",
        "tokens_refreshed",
    )
    headers = ("replay mode", "keys", "exact match %", "same as exact %", "full p50")
    table = [(name, *(row.get(column, "-") for column in columns)) for name, row in rows]
    print(format_table((*headers, "eval/key", "refreshed"), table))
    return {"replay": dict(rows)}


def trace_files(args: argparse.Namespace) -> list[Path]:
    return [Path(name) for name in args.file] or source_files()


def main_lsp(args: argparse.Namespace, settings: EngineSettings) -> int:
    path = models.resolve(settings.model, settings.hf_repo, settings.hf_file)
    points = pick_points(LlamaVocabulary(path), trace_files(args), args.points_per_file)
    if args.max_positions:
        points = points[: args.max_positions]
    if args.cold or args.cadence:
        return main_first_contact(args, settings, points)
    keys = sum(len(point.code) for point in points)
    print(f"{len(points)} positions, {keys} keystrokes; through the server (reuse)...")
    options = editor_options(args.editor_option)
    reuse = lsp_typing.run_lsp(points, replace(settings, kv_reuse="shift"), options)
    exact_points = _limit_points(points, args.exact_keystrokes)
    print(f"through the server (exact), {sum(len(p.code) for p in exact_points)} keystrokes...")
    exact = []
    if exact_points:
        exact = lsp_typing.run_lsp(exact_points, replace(settings, kv_reuse="exact"), options)
    same, compared = lsp_typing.agreement(reuse, exact)
    rows = [("server (reuse)", lsp_typing.summary(reuse))]
    rows.append(("server (reuse), same keys", lsp_typing.summary(reuse[:compared])))
    rows.append(("server (exact)", lsp_typing.summary(exact)))
    columns = (
        "keystrokes",
        "answer_ms_p50",
        "answer_ms_p90",
        "model_call_ms_p50",
        "model_call_ms_p90",
        "cache_share",
        "empty_share",
        "tokens_evaluated_p50",
        "tokens_evaluated_max",
        "exact_match",
    )
    headers = ("path", "keys", "p50", "p90", "model p50", "model p90", "cached", "empty")
    table = [(name, *(row.get(column, "-") for column in columns)) for name, row in rows]
    print(format_table((*headers, "eval p50", "eval max", "exact match"), table))
    print(f"agreement reuse vs exact (shown first line): {same}/{compared}")
    phases = lsp_typing.phases_p50(reuse)
    if args.breakdown:
        round_trip = ("round trip (median of totals)", rows[0][1]["model_call_ms_p50"])
        phase_rows = [*phases.items(), round_trip]
        print(format_table(("keystroke phase (reuse, model calls)", "p50 ms"), phase_rows))
    write_json(
        args.json,
        "latency-lsp",
        {
            "settings": dict(settings.__dict__),
            "positions": [f"{p.path.name}:{p.line + 1}" for p in points],
            **{name: row for name, row in rows},
            "agreement": {"same_shown": same, "compared": compared},
            "phases_ms_p50": phases,
            "keystrokes_reuse": lsp_typing.as_json(reuse),
            "keystrokes_exact": lsp_typing.as_json(exact),
        },
    )
    return 0


def main_first_contact(
    args: argparse.Namespace, settings: EngineSettings, points: list[TracePoint]
) -> int:
    flags = lsp_typing.server_flags(settings)
    options = editor_options(args.editor_option)
    figures: dict[str, Any] = {"settings": dict(settings.__dict__)}
    if args.cold:
        print(f"{len(points)} files: the first Invoked request after didOpen...")
        cold = first_contact.run_cold(points, flags, options)
        rows = [
            (request.position, request.ms, request.shown is not None, request.right)
            for request in cold
        ]
        print(format_table(("position", "first Invoked ms", "shown", "right"), rows))
        summary = first_contact.cold_summary(cold)
        print(format_table(tuple(summary), [tuple(summary.values())]))
        figures["cold"] = {"summary": summary, "requests": [asdict(r) for r in cold]}
    if args.cadence:
        keys = sum(len(point.code) for point in points)
        print(f"{len(points)} positions, {keys} keystrokes, a key every {args.cadence} ms...")
        run = first_contact.run_cadence(points, flags, options, args.cadence)
        summary = run["summary"]
        print(format_table(tuple(summary), [tuple(summary.values())]))
        figures["cadence"] = {"cadence_ms": args.cadence, **run}
    write_json(args.json, "latency-first-contact", figures)
    return 0


def _limit_points(points: list[TracePoint], keystrokes: int) -> list[TracePoint]:
    chosen, count = [], 0
    for point in points:
        if count >= keystrokes:
            break
        chosen.append(point)
        count += len(point.code)
    return chosen


def _report(
    args: argparse.Namespace,
    settings: EngineSettings,
    points: list[TracePoint],
    reuse: dict[str, Any],
    exact: dict[str, Any],
    baseline: dict[str, Any],
    raw_rate: float,
) -> None:
    compared = min(len(exact.get("answers", [])), len(reuse["answers"]))
    same = sum(reuse["answers"][i] == exact["answers"][i] for i in range(compared))
    agreement = same / compared if compared else float("nan")
    speedup = baseline.get("ttft_ms_p50", float("nan")) / reuse["ttft_ms_p50"]
    decode_ratio = (reuse["decode_tokens_per_s_p50"] or 0) / raw_rate
    rows = [
        ("engine (reuse)", reuse),
        ("engine (exact)", exact),
        ("baseline create_completion", baseline),
    ]
    columns = ("ttft_ms_p50", "ttft_ms_p90", "full_ms_p50", "tokens_evaluated_p50")
    table = [
        (
            name,
            r["keystrokes"],
            *(r.get(column, "-") for column in columns),
            r.get("decode_tokens_per_s_p50", "-"),
            r.get("peak_rss_mib", "-"),
        )
        for name, r in rows
    ]
    headers = ("path", "keys", "TTFT p50", "TTFT p90", "full p50", "eval/key")
    print(format_table((*headers, "dec tok/s", "RSS MiB"), table))
    print(
        f"speed-up vs baseline (TTFT p50): {speedup:.1f}x; decode {decode_ratio:.0%} of raw "
        f"({raw_rate:.1f} tok/s); agreement reuse vs exact: {same}/{compared} = {agreement:.1%}"
    )
    if args.breakdown:
        print_breakdown(reuse)
    quality = print_replay(settings, args.replay_tasks)
    for result in (reuse, exact):
        result.pop("answers", None)
    write_json(
        args.json,
        "latency",
        {
            "settings": dict(settings.__dict__),
            "positions": [f"{p.path.name}:{p.line + 1}" for p in points],
            "engine_reuse": reuse,
            "engine_exact": exact,
            "baseline": baseline,
            "raw_decode_tokens_per_s": round(raw_rate, 1),
            "speedup_ttft_p50": round(speedup, 2),
            "decode_ratio": round(decode_ratio, 3),
            "agreement": {"same_first_line": same, "compared": compared},
            **quality,
        },
    )


def print_breakdown(result: dict[str, Any]) -> None:
    """The engine's phases, median milliseconds per keystroke (reuse path)."""
    phases = result.get("breakdown_ms_p50") or {}
    rows = [(name, phases.get(name, "-")) for name in BREAKDOWN]
    rows.append(("total (median of totals)", result.get("full_ms_p50", "-")))
    print(format_table(("engine phase (reuse)", "p50 ms"), rows))


def _prompt_tokens(engine: Any, prompt: InfillPrompt) -> list[int]:
    layout = engine.layout(request(prompt, "baseline"))
    return [*layout.body, layout.trigger]


def _limit(traces: list[list[InfillPrompt]], keystrokes: int) -> list[list[InfillPrompt]]:
    """Whole traces (their first prompt is the unmeasured cold start) up to ``keystrokes``."""
    chosen, count = [], 0
    for trace in traces:
        if count >= keystrokes:
            break
        take = trace[: keystrokes - count + 1]
        chosen.append(take)
        count += len(take) - 1
    return chosen
