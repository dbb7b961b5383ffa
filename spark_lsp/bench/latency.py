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
import contextlib
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from spark_lsp import models
from spark_lsp.bench.report import format_table, median, percentile, write_json
from spark_lsp.context.window import cursor_window
from spark_lsp.documents import line_content, split_lines
from spark_lsp.engine import CancelToken, GenerationRequest, InfillPrompt
from spark_lsp.engine.loader import load_engine
from spark_lsp.settings import EngineSettings, from_arguments

MIN_CONTEXT_TOKENS = 1500
MAX_TOKENS = 24


@dataclass(frozen=True)
class TracePoint:
    path: Path
    line: int  # zero-based
    indent: int
    code: str  # the line's text after its indentation


def source_files() -> list[Path]:
    import json.decoder

    import pygls.protocol.json_rpc

    from spark_lsp import documents

    return [
        Path(documents.__file__),
        Path(json.decoder.__file__),
        Path(pygls.protocol.json_rpc.__file__),
    ]


def pick_points(engine: Any, files: list[Path], per_file: int) -> list[TracePoint]:
    """Lines of 16-48 characters of code whose cursor window holds >= MIN_CONTEXT_TOKENS."""
    points: list[TracePoint] = []
    for path in files:
        lines = split_lines(path.read_text(encoding="utf-8"))
        candidates = []
        for index, entry in enumerate(lines):
            content = line_content(entry)
            code = content.lstrip()
            if not 16 <= len(code) <= 48 or code.startswith(("#", '"', "'")):
                continue
            candidates.append(index)
        chosen: list[TracePoint] = []
        for index in candidates[len(candidates) // 3 :: max(1, len(candidates) // (3 * per_file))]:
            content = line_content(lines[index])
            indent = len(content) - len(content.lstrip())
            window = cursor_window(lines, index, indent)
            if len(engine.tokenize(window.prefix + window.suffix)) >= MIN_CONTEXT_TOKENS:
                chosen.append(TracePoint(path, index, indent, content[indent:]))
            if len(chosen) == per_file:
                break
        points.extend(chosen)
    return points


def keystroke_prompts(point: TracePoint) -> list[InfillPrompt]:
    """The prompt after each typed character of the point's line (first: nothing typed yet)."""
    lines = split_lines(point.path.read_text(encoding="utf-8"))
    entry = lines[point.line]
    terminator = entry[len(line_content(entry)) :]
    prompts = []
    for typed in range(len(point.code) + 1):
        lines[point.line] = " " * point.indent + point.code[:typed] + terminator
        window = cursor_window(lines, point.line, point.indent + typed)
        prompts.append(InfillPrompt(window.prefix, window.suffix, file_path=point.path.name))
    return prompts


def request(prompt: InfillPrompt, key: str) -> GenerationRequest:
    return GenerationRequest(prompt, max_tokens=MAX_TOKENS, stop=("\n",), key=key)


def first_line(text: str) -> str:
    return text.split("\n", 1)[0].rstrip()


def peak_rss_reset() -> None:
    with contextlib.suppress(OSError):  # Linux only: resets VmHWM, the peak RSS
        Path("/proc/self/clear_refs").write_text("5")


def peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_engine(engine: Any, traces: list[list[InfillPrompt]], label: str) -> dict[str, Any]:
    if not traces:
        return {"keystrokes": 0, "answers": []}
    peak_rss_reset()
    ttft, total, evaluated, decode_rates, answers = [], [], [], [], []
    for prompts in traces:
        key = f"{label}:{prompts[0].file_path}"  # one document per file, as in an editor
        engine.generate(request(prompts[0], key), CancelToken())  # cold start, not measured
        for prompt in prompts[1:]:
            result = engine.generate(request(prompt, key), CancelToken())
            stats = result.stats
            ttft.append(stats.time_to_first_token_ms or stats.total_ms)
            total.append(stats.total_ms)
            evaluated.append(stats.tokens_evaluated)
            if stats.tokens_generated > 1:
                decode_ms = stats.total_ms - stats.time_to_first_token_ms
                decode_rates.append((stats.tokens_generated - 1) / (decode_ms / 1000))
            answers.append(first_line(result.text))
    return {
        **_latency_summary(ttft, total),
        "tokens_evaluated_p50": median(evaluated),
        "decode_tokens_per_s_p50": round(median(decode_rates), 1) if decode_rates else None,
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "answers": answers,
    }


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
    return {**_latency_summary(ttft, total), "peak_rss_mib": round(peak_rss_mib(), 1)}


def raw_decode_rate(engine: Any, tokens: int = 64) -> float:
    """The decode ceiling: bare single-token llama_decode calls (no abort callback, no Python
    between tokens but the batch and an argmax) after a copy of the last document's cells, so
    attention runs over as many cells as the engine's own decoding did."""
    import llama_cpp

    memory, context = engine._memory, engine._ctx
    key = next(reversed(engine._states))
    seq = engine._free_seq_id(keep=key)
    llama_cpp.llama_memory_seq_cp(memory, engine._states[key].seq_id, seq, 0, -1)
    position = llama_cpp.llama_memory_seq_pos_max(memory, seq) + 1
    batch = llama_cpp.llama_batch_init(1, 0, 1)
    batch.n_tokens, batch.n_seq_id[0], batch.seq_id[0][0], batch.logits[0] = 1, 1, seq, 1
    token = engine.tokenize("\n")[0]
    started = time.perf_counter()
    for step in range(tokens):
        batch.token[0], batch.pos[0] = token, position + step
        if llama_cpp.llama_decode(context, batch) != 0:
            raise RuntimeError("raw decode failed")
        token = engine._greedy()
    rate = tokens / (time.perf_counter() - started)
    llama_cpp.llama_batch_free(batch)
    llama_cpp.llama_memory_seq_rm(memory, seq, -1, -1)
    return rate


def _latency_summary(ttft: list[float], total: list[float]) -> dict[str, Any]:
    if not ttft:
        return {"keystrokes": 0}
    return {
        "keystrokes": len(ttft),
        "ttft_ms_p50": round(median(ttft), 1),
        "ttft_ms_p90": round(percentile(ttft, 0.9), 1),
        "full_ms_p50": round(median(total), 1),
        "full_ms_p90": round(percentile(total, 0.9), 1),
    }


def main(args: argparse.Namespace) -> int:
    settings = from_arguments(args)
    if settings.backend == "remote":
        from spark_lsp.bench import remote_latency

        return remote_latency.main(args)
    engine = load_engine(replace(settings, kv_reuse="shift"), models.stderr_progress())
    points = pick_points(engine, source_files(), args.points_per_file)
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
    headers = (
        "path",
        "keys",
        "TTFT p50",
        "TTFT p90",
        "full p50",
        "eval/key",
        "dec tok/s",
        "RSS MiB",
    )
    print(format_table(headers, table))
    print(
        f"speed-up vs baseline (TTFT p50): {speedup:.1f}x; decode {decode_ratio:.0%} of raw "
        f"({raw_rate:.1f} tok/s); agreement reuse vs exact: {same}/{compared} = {agreement:.1%}"
    )
    for result in (reuse, exact):
        result.pop("answers", None)
    write_json(
        args.json,
        "latency",
        {
            "settings": {k: v for k, v in settings.__dict__.items()},
            "positions": [f"{p.path.name}:{p.line + 1}" for p in points],
            "engine_reuse": reuse,
            "engine_exact": exact,
            "baseline": baseline,
            "raw_decode_tokens_per_s": round(raw_rate, 1),
            "speedup_ttft_p50": round(speedup, 2),
            "decode_ratio": round(decode_ratio, 3),
            "agreement": {"same_first_line": same, "compared": compared},
        },
    )
    return 0


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
