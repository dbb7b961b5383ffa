"""``spark-lsp bench next-edit``: next-edit predictors replayed on a repository's history.

Each case (bench/git_history.py) applies a commit's first hunk as the user's edit; the commit's
related other hunks are the expected next edits. A predictor sees the document after the edit
and rewrites the editable region (``REGION_LINES`` around the edit). Reported per predictor:
how often it shows a suggestion, the precision of what it shows (the region exactly as
expected, or every expected change in the region contained in the suggestion), exact matches
over the cases whose region holds an expected edit, whether the suggestion's first changed line
is an expected edit's, and the latency from the pause to the suggestion.

Predictors: the two baselines (never suggesting; repeating the last edit's identifier
substitution wherever it applies), the model rewriting the region (spark_lsp/nextedit), and the
substitution where it is certain with the model elsewhere; the model rows once per preset
(``--presets default,large``). The model's suggestions pass the gate (they parse, change
something, do not undo the edit); the baselines' are shown as they come.
"""

from __future__ import annotations

import argparse
import difflib
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from spark_lsp import models
from spark_lsp.bench.git_history import Case, Hunk, cases
from spark_lsp.bench.report import format_table, write_json
from spark_lsp.engine import CancelToken, Engine, GenerationRequest, GenerationResult
from spark_lsp.engine.loader import load_engine
from spark_lsp.engine.settings import add_engine_arguments, engine_settings_from
from spark_lsp.nextedit.predictor import (
    MIN_CONFIDENCE,
    EditContext,
    Prediction,
    by_model,
    by_substitution,
    gated,
    region_around,
)
from spark_lsp.percentiles import median, percentile
from spark_lsp.uris import language_id

REGION_LINES = 30


# A predictor answers with the region's next version (None: nothing shown) and its latency in ms.
TimedPredictor = Callable[[EditContext], tuple[list[str] | None, float]]


def apply_hunks(lines: Sequence[str], hunks: Sequence[Hunk]) -> list[str]:
    """``lines`` with non-overlapping hunks (in ``lines``' coordinates) applied."""
    result = list(lines)
    for hunk in sorted(hunks, key=lambda h: h.start, reverse=True):
        result[hunk.start : hunk.start + len(hunk.old)] = hunk.new
    return result


def _shifted(hunk: Hunk, first: Hunk) -> Hunk:
    """A later hunk of the parent's file, in the coordinates after ``first`` was applied."""
    if hunk.start < first.start:
        return hunk
    return Hunk(hunk.start + len(first.new) - len(first.old), hunk.old, hunk.new)


def situation(case: Case) -> tuple[EditContext, list[Hunk]]:
    """The predictor's view of a case, and the expected hunks in the edited document."""
    lines = apply_hunks(case.before.splitlines(keepends=True), [case.first])
    edited = (case.first.start, case.first.start + len(case.first.new))
    language = language_id(case.path, "plaintext")
    view = EditContext(
        case.path,
        language,
        tuple(lines),
        edited,
        "".join(case.first.old),
        "".join(case.first.new),
        region_around(lines, edited, REGION_LINES),
    )
    return view, [_shifted(hunk, case.first) for hunk in case.rest]


def _changes(before: Sequence[str], after: Sequence[str]) -> set[tuple[int, int, tuple[str, ...]]]:
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    return {
        (i1, i2, tuple(after[j1:j2]))
        for tag, i1, i2, j1, j2 in matcher.get_opcodes()
        if tag != "equal"
    }


def score(
    view: EditContext, expected: Sequence[Hunk], predicted: list[str] | None
) -> dict[str, Any]:
    first, last = view.region
    inside = [h for h in expected if h.start < last and h.start + max(len(h.old), 1) > first]
    row: dict[str, Any] = {"has_target": bool(inside), "shown": predicted is not None}
    if predicted is None:
        return {**row, "exact": False, "contained": False, "location": False}
    lines = list(view.lines)
    suggested = [*lines[:first], *predicted, *lines[last:]]
    wanted = apply_hunks(lines, inside)
    suggested_changes, wanted_changes = _changes(lines, suggested), _changes(lines, wanted)
    first_changed = min((start for start, _, _ in suggested_changes), default=None)
    location = first_changed is not None and any(
        h.start <= first_changed < h.start + max(len(h.old), 1) for h in expected
    )
    contained = bool(inside) and wanted_changes <= suggested_changes
    return {
        **row,
        "exact": bool(inside) and suggested == wanted,
        "contained": contained,
        "location": location,
    }


def baselines() -> dict[str, Callable[[EditContext], list[str] | None]]:
    def substitution(view: EditContext) -> list[str] | None:
        found = by_substitution(view)
        return found.lines if found is not None else None

    return {"never": lambda view: None, "repeat substitution": substitution}


# Confidence thresholds compared side by side (the mean log-probability of the changed lines'
# tokens, see nextedit/confidence.py); MIN_CONFIDENCE is the one the server uses.
CONFIDENCE_SWEEP = (-0.05, -0.1, -0.2, -0.35, -0.7, -1.5)


def model_predictors(
    engine: Engine, preset: str, answers: dict[int, tuple[Prediction | None, float]]
) -> dict[str, TimedPredictor]:
    """The model alone (without the confidence gate, at each threshold of the sweep, at the
    server's), and the substitution with the model elsewhere. The model's answer for a case is
    computed once and timed once (kept in ``answers``): the other rows reuse it."""

    def generate(request: GenerationRequest) -> GenerationResult:
        return engine.generate(request, CancelToken())

    def model_answer(view: EditContext) -> tuple[Prediction | None, float]:
        if id(view) not in answers:
            started = time.perf_counter()
            found = by_model(view, generate, f"next-edit-{preset}")
            answers[id(view)] = found, (time.perf_counter() - started) * 1000
        return answers[id(view)]

    def shown(
        view: EditContext, found: Prediction | None, least: float | None = MIN_CONFIDENCE
    ) -> list[str] | None:
        kept = gated(view, found, least) if found is not None else None
        return kept.lines if kept is not None else None

    def model_gated(least: float | None) -> TimedPredictor:
        def model(view: EditContext) -> tuple[list[str] | None, float]:
            found, latency = model_answer(view)
            return shown(view, found, least), latency

        return model

    as_served = model_gated(MIN_CONFIDENCE)

    def mixed(view: EditContext) -> tuple[list[str] | None, float]:
        started = time.perf_counter()
        certain = by_substitution(view)
        if certain is not None:
            return shown(view, certain), (time.perf_counter() - started) * 1000
        return as_served(view)

    return {
        f"model ({preset}), no confidence gate": model_gated(None),
        **{
            f"model ({preset}), confidence >= {least}": model_gated(least)
            for least in CONFIDENCE_SWEEP
        },
        f"model ({preset})": as_served,
        f"substitution, else model ({preset})": mixed,
    }


def confidence_cases(
    found: list[tuple[EditContext, list[Hunk]]],
    answers: dict[int, tuple[Prediction | None, float]],
) -> list[dict[str, Any]]:
    """Per model case: the answer's confidence, and whether it would be shown (the gate's other
    checks) and right: what a threshold is chosen from."""
    rows = []
    for view, expected in found:
        answer = answers.get(id(view), (None, 0.0))[0]
        kept = gated(view, answer, None) if answer is not None else None
        row = score(view, expected, kept.lines if kept is not None else None)
        confidence = answer.confidence if answer is not None else None
        rows.append(
            {
                "confidence": round(confidence, 4) if confidence is not None else None,
                "shown": row["shown"],
                "right": row["exact"] or row["contained"],
            }
        )
    return rows


def confidence_line(preset: str, rows: list[dict[str, Any]]) -> str:
    """The confidences of the answers the rest of the gate lets through, right and wrong."""
    parts = []
    for right in (True, False):
        scores = sorted(
            row["confidence"]
            for row in rows
            if row["shown"] and row["right"] is right and row["confidence"] is not None
        )
        label = "right" if right else "wrong"
        if scores:
            label += f" (min {scores[0]}, median {median(scores):.3f}, max {scores[-1]})"
        parts.append(f"{len(scores)} {label}")
    return f"model ({preset}) confidence of answers otherwise shown: " + "; ".join(parts)


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def summarize(name: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    shown = [row for row in rows if row["shown"]]
    targets = [row for row in rows if row["has_target"]]
    latencies = [row["latency_ms"] for row in shown]
    return {
        "predictor": name,
        "cases": len(rows),
        "with_target": len(targets),
        "shown_pct": _percent(len(shown), len(rows)),
        "shown_with_target_pct": _percent(sum(row["shown"] for row in targets), len(targets)),
        "precision_pct": _percent(
            sum(row["exact"] or row["contained"] for row in shown), len(shown)
        ),
        "exact_pct": _percent(sum(row["exact"] for row in targets), len(targets)),
        "location_pct": _percent(sum(row["location"] for row in shown), len(shown)),
        "latency_p50_ms": round(percentile(latencies, 0.5), 2) if latencies else None,
        "latency_p90_ms": round(percentile(latencies, 0.9), 2) if latencies else None,
    }


def timed(predict_one: Callable[[EditContext], list[str] | None]) -> TimedPredictor:
    def run_one(view: EditContext) -> tuple[list[str] | None, float]:
        started = time.perf_counter()
        predicted = predict_one(view)
        return predicted, (time.perf_counter() - started) * 1000

    return run_one


def measure(
    name: str, predict_one: TimedPredictor, found: list[tuple[EditContext, list[Hunk]]]
) -> dict[str, Any]:
    rows = []
    for view, expected in found:
        predicted, latency = predict_one(view)
        rows.append({**score(view, expected, predicted), "latency_ms": latency})
    return summarize(name, rows)


def run(args: argparse.Namespace) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The summaries, and per preset the model cases' confidences."""
    found = [situation(case) for case in cases(args.repo, args.limit)]
    summaries = [measure(name, timed(baseline), found) for name, baseline in baselines().items()]
    model_cases = found[: args.model_limit or None]
    confidences: dict[str, Any] = {}
    for preset in [name for name in args.presets.split(",") if name]:
        settings = replace(engine_settings_from(args), model=preset)
        engine = load_engine(settings, models.stderr_progress())
        answers: dict[int, tuple[Prediction | None, float]] = {}
        try:
            for name, predictor in model_predictors(engine, preset, answers).items():
                summaries.append(measure(name, predictor, model_cases))
        finally:
            engine.close()
        confidences[preset] = confidence_cases(model_cases, answers)
    return summaries, confidences


def add_parser(benches: Any) -> None:
    parser = benches.add_parser("next-edit", help="next-edit predictors on a repository's history")
    parser.add_argument(
        "--repo", type=Path, default=Path.cwd(), help="a git repository (default: .)"
    )
    parser.add_argument(
        "--limit", type=int, default=200, help="first N cases, newest first (0: all)"
    )
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument(
        "--presets", default="default", help="model presets, comma-separated ('': baselines only)"
    )
    parser.add_argument(
        "--model-limit", type=int, default=20, help="cases for the model rows (0: all)"
    )
    add_engine_arguments(parser)


COLUMNS = (
    ("predictor", "predictor"),
    ("cases", "cases"),
    ("with_target", "with an edit in the region"),
    ("shown_pct", "shown %"),
    ("shown_with_target_pct", "shown where expected %"),
    ("precision_pct", "precision %"),
    ("exact_pct", "exact %"),
    ("location_pct", "location %"),
    ("latency_p50_ms", "p50 ms"),
    ("latency_p90_ms", "p90 ms"),
)


def main(args: argparse.Namespace) -> int:
    summaries, confidences = run(args)
    rows = [
        [summary[key] if summary[key] is not None else "-" for key, _ in COLUMNS]
        for summary in summaries
    ]
    print(format_table([title for _, title in COLUMNS], rows))
    for preset, rows in confidences.items():
        print(confidence_line(preset, rows))
    payload = {"repo": str(args.repo), "predictors": summaries, "confidences": confidences}
    write_json(args.json, "next-edit", payload)
    return 0
