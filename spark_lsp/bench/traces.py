"""Typing traces from real source files, shared by the latency benchmarks: at chosen lines the
line's code is erased after its indentation and typed back one character at a time, with a
single-line completion requested after every keystroke, as an editor would."""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spark_lsp.context.window import cursor_window
from spark_lsp.documents import line_content, split_lines
from spark_lsp.engine import CancelToken, GenerationRequest, InfillPrompt
from spark_lsp.engine.base import PHASES, GenerationStats
from spark_lsp.percentiles import median, percentile

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
        novel_file(),
    ]


def novel_file(min_bytes: int = 30_000) -> Path:
    """Code no model has seen: this repository's own largest modules (newer than any model's
    training data), concatenated until past ``min_bytes``, as one Python file (``from
    __future__`` imports kept at its top only)."""
    package = Path(__file__).resolve().parents[1]
    modules = sorted(package.rglob("*.py"), key=lambda path: (-path.stat().st_size, str(path)))
    parts, size = ["from __future__ import annotations\n"], 0
    for module in modules:
        text = module.read_text(encoding="utf-8")
        kept = [
            line
            for line in text.splitlines(keepends=True)
            if line.strip() != "from __future__ import annotations"
        ]
        parts.append(f"\n\n# ---- {module.relative_to(package.parent).as_posix()}\n")
        parts.extend(kept)
        size += len(text)
        if size > min_bytes:
            break
    target = Path(tempfile.gettempdir()) / "spark-lsp-bench" / "spark_lsp_newest.py"
    target.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(parts)
    if not target.exists() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")
    return target


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


def erased(point: TracePoint) -> tuple[list[str], str]:
    """The file's lines with the point's line erased after its indentation, and the real line."""
    lines = split_lines(point.path.read_text(encoding="utf-8"))
    entry = lines[point.line]
    terminator = entry[len(line_content(entry)) :]
    lines[point.line] = " " * point.indent + terminator
    return lines, " " * point.indent + point.code


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
    phases: dict[str, list[float]] = {name: [] for name in BREAKDOWN}
    for done, prompts in enumerate(traces, start=1):
        key = f"{label}:{prompts[0].file_path}"  # one document per file, as in an editor
        engine.generate(request(prompts[0], key), CancelToken())  # cold start, not measured
        for prompt in prompts[1:]:
            result = engine.generate(request(prompt, key), CancelToken())
            stats = result.stats
            ttft.append(stats.time_to_first_token_ms or stats.total_ms)
            total.append(stats.total_ms)
            evaluated.append(stats.tokens_evaluated)
            for name, value in breakdown(stats).items():
                phases[name].append(value)
            if stats.tokens_generated > 1:
                decode_ms = stats.total_ms - stats.time_to_first_token_ms
                decode_rates.append((stats.tokens_generated - 1) / (decode_ms / 1000))
            answers.append(first_line(result.text))
        print(f"  {label}: {done}/{len(traces)} positions typed", flush=True)
    return {
        **latency_summary(ttft, total),
        "tokens_evaluated_p50": median(evaluated),
        "decode_tokens_per_s_p50": round(median(decode_rates), 1) if decode_rates else None,
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "breakdown_ms_p50": {name: round(median(values), 2) for name, values in phases.items()},
        "answers": answers,
    }


BREAKDOWN = PHASES


def breakdown(stats: GenerationStats) -> dict[str, float]:
    """Where one request's time went, in BREAKDOWN's order."""
    return stats.phases()


def latency_summary(ttft: list[float], total: list[float]) -> dict[str, Any]:
    if not ttft:
        return {"keystrokes": 0}
    return {
        "keystrokes": len(ttft),
        "ttft_ms_p50": round(median(ttft), 1),
        "ttft_ms_p90": round(percentile(ttft, 0.9), 1),
        "full_ms_p50": round(median(total), 1),
        "full_ms_p90": round(percentile(total, 0.9), 1),
    }
