"""``spark-lsp bench next-edit``: next-edit predictors replayed on a repository's history.

Each case (bench/git_history.py) applies a commit's first hunk as the user's edit; the commit's
related other hunks are the expected next edits. A predictor sees the document after the edit
and rewrites the 21-line window around it (a deterministic rule may rewrite another span: the
call sites). Reported per predictor: how often it shows a suggestion, the precision of what it
shows (the span exactly as expected, or every expected change in it contained), exact matches
over the cases whose window holds an expected edit, whether the first changed line is an
expected edit's, delta-chrF of the change (bench/next_edit_metrics.py), how often it reverses
the user's edit, and the latency from the pause to the suggestion.

Rows: the baselines (never suggesting; each deterministic rule; the rules together, what the
server shows without a model), then per preset and prompt format (nextedit/formats) the model
with every guard, without each guard in turn (gate.GUARDS: each guard's effect) and with none;
then the rules with the model elsewhere. A model answer is computed once per case and format
and timed once; the guard rows reuse it. ``--follow-up`` also times a second prediction in the
same document (the next expected edit applied), where the prompt's stable part is reused.
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
from spark_lsp.bench.next_edit_metrics import delta_chrf, reverses_last_edit
from spark_lsp.bench.report import format_table, write_json
from spark_lsp.engine import CancelToken, Engine, GenerationRequest, GenerationResult
from spark_lsp.engine.loader import load_engine
from spark_lsp.engine.settings import add_engine_arguments, engine_settings_from
from spark_lsp.nextedit import gate, rules
from spark_lsp.nextedit.context import EditContext, Prediction, window_around
from spark_lsp.nextedit.formats import FORMATS
from spark_lsp.nextedit.predictor import MIN_CONFIDENCE, by_model, by_rules, gated
from spark_lsp.nextedit.recent import RecentEdit
from spark_lsp.percentiles import median, percentile
from spark_lsp.uris import language_id

# A predictor answers with its suggestion (None: nothing shown) and its latency in ms.
TimedPredictor = Callable[[EditContext], tuple[Prediction | None, float]]
Situation = tuple[EditContext, list[Hunk]]


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


def view_after(
    path: str, lines: Sequence[str], edit: Hunk, history: tuple[RecentEdit, ...] = ()
) -> EditContext:
    """The predictor's view once ``edit`` (in ``lines``' coordinates) is applied."""
    edited_lines = apply_hunks(lines, [edit])
    edited = (edit.start, edit.start + max(len(edit.new), 1))
    return EditContext(
        path,
        language_id(path, "plaintext"),
        tuple(edited_lines),
        edited,
        "".join(edit.old),
        "".join(edit.new),
        window_around(edited_lines, edited),
        history,
    )


def situation(case: Case) -> Situation:
    """The predictor's view of a case, and the expected hunks in the edited document."""
    view = view_after(case.path, case.before.splitlines(keepends=True), case.first)
    return view, [_shifted(hunk, case.first) for hunk in case.rest]


def follow_up(view: EditContext, expected: Sequence[Hunk]) -> EditContext | None:
    """The view after the user also made the first expected edit (a second prediction in the
    same document), or None when there is none."""
    if not expected:
        return None
    edit = min(expected, key=lambda hunk: hunk.start)
    return view_after(view.path, view.lines, edit, view.recent_edits())


def score(view: EditContext, expected: Sequence[Hunk], found: Prediction | None) -> dict[str, Any]:
    first, last = view.region
    if found is not None:
        span = found.rewritten(view)
        first, last = min(first, span[0]), max(last, span[1])
    inside = [h for h in expected if h.start < last and h.start + max(len(h.old), 1) > first]
    lines = list(view.lines)
    row: dict[str, Any] = {"has_target": bool(inside), "shown": found is not None}
    if found is None:
        return {**row, "exact": False, "contained": False, "location": False, "chrf": None,
                "reversal": False}  # fmt: skip
    start, end = found.rewritten(view)
    suggested = [*lines[:start], *found.lines, *lines[end:]]
    wanted = apply_hunks(lines, inside)
    suggested_changes, wanted_changes = _changes(lines, suggested), _changes(lines, wanted)
    first_changed = min((begin for begin, _, _ in suggested_changes), default=None)
    location = first_changed is not None and any(
        h.start <= first_changed < h.start + max(len(h.old), 1) for h in expected
    )
    before_edit = [*lines[: view.edited[0]], view.before, *lines[_edit_end(view) :]]
    return {
        **row,
        "exact": bool(inside) and suggested == wanted,
        "contained": bool(inside) and wanted_changes <= suggested_changes,
        "location": location,
        "chrf": delta_chrf("".join(lines), "".join(suggested), "".join(wanted)),
        "reversal": reverses_last_edit("".join(before_edit), "".join(lines), "".join(suggested)),
    }


def _edit_end(view: EditContext) -> int:
    return view.edited[0] + len(view.after.splitlines(keepends=True))


def _changes(before: Sequence[str], after: Sequence[str]) -> set[tuple[int, int, tuple[str, ...]]]:
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    return {
        (i1, i2, tuple(after[j1:j2]))
        for tag, i1, i2, j1, j2 in matcher.get_opcodes()
        if tag != "equal"
    }


def baselines() -> dict[str, Callable[[EditContext], Prediction | None]]:
    """Never suggesting, each deterministic rule alone, and the rules as the server tries them."""
    return {"never": lambda view: None, **rules.RULES, "rules (the server's default)": served_rules}


def served_rules(view: EditContext) -> Prediction | None:
    """What the server shows without a model: the first certain rule, through the gate."""
    found = by_rules(view)
    return gated(view, found) if found is not None else None


def timed(predict_one: Callable[[EditContext], Prediction | None]) -> TimedPredictor:
    def run_one(view: EditContext) -> tuple[Prediction | None, float]:
        started = time.perf_counter()
        found = predict_one(view)
        return found, (time.perf_counter() - started) * 1000

    return run_one


class ModelAnswers:
    """The model's raw answers in one format, each computed and timed once (by the view's
    identity: the guard rows reuse them); with ``follow_ups``, each case's second prediction in
    the same document is timed right after its first (its stable prompt part still cached)."""

    def __init__(
        self,
        engine: Engine,
        key: str,
        format_name: str,
        follow_ups: list[Situation] | None = None,
    ) -> None:
        """``follow_ups``: the cases whose second prediction is timed too (None: none)."""
        self._engine = engine
        self._key = key
        self._format = FORMATS[format_name]
        self._expected = {id(view): expected for view, expected in follow_ups or ()}
        self.answers: dict[int, tuple[Prediction | None, float]] = {}
        self.follow_up_ms: list[float] = []

    def _timed(self, view: EditContext) -> tuple[Prediction | None, float]:
        def generate(request: GenerationRequest) -> GenerationResult:
            return self._engine.generate(request, CancelToken())

        started = time.perf_counter()
        found = by_model(view, generate, self._key, self._format)
        return found, (time.perf_counter() - started) * 1000

    def __call__(self, view: EditContext) -> tuple[Prediction | None, float]:
        if id(view) not in self.answers:
            self.answers[id(view)] = self._timed(view)
            second = follow_up(view, self._expected.get(id(view), []))
            if second is not None:
                self.follow_up_ms.append(self._timed(second)[1])
        return self.answers[id(view)]


def guarded(answers: ModelAnswers, skip: Sequence[str] = ()) -> TimedPredictor:
    """The model's answers as the gate shows them, without the guards in ``skip``."""

    def run(view: EditContext) -> tuple[Prediction | None, float]:
        found, latency = answers(view)
        kept = gated(view, found, MIN_CONFIDENCE, skip) if found is not None else None
        return kept, latency

    return run


def rules_else(model: TimedPredictor) -> TimedPredictor:
    """The server's order: a certain rule, else the model."""

    def run(view: EditContext) -> tuple[Prediction | None, float]:
        started = time.perf_counter()
        certain = by_rules(view)
        if certain is not None:
            kept = gated(view, certain)
            return kept, (time.perf_counter() - started) * 1000
        return model(view)

    return run


def model_rows(answers: ModelAnswers, label: str) -> dict[str, TimedPredictor]:
    return {
        f"{label}, all guards": guarded(answers),
        **{f"{label}, without {guard}": guarded(answers, (guard,)) for guard in gate.GUARDS},
        f"{label}, no guard": guarded(answers, gate.GUARDS),
        f"rules, else {label}": rules_else(guarded(answers)),
    }


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def summarize(name: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    shown = [row for row in rows if row["shown"]]
    targets = [row for row in rows if row["has_target"]]
    latencies = [row["latency_ms"] for row in shown]
    scores = [row["chrf"] for row in shown if row["chrf"] is not None]
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
        "delta_chrf": round(median(scores), 1) if scores else None,
        "reversal_pct": _percent(sum(row["reversal"] for row in shown), len(shown)),
        "latency_p50_ms": round(percentile(latencies, 0.5), 2) if latencies else None,
        "latency_p90_ms": round(percentile(latencies, 0.9), 2) if latencies else None,
    }


def measure(name: str, predict_one: TimedPredictor, found: list[Situation]) -> dict[str, Any]:
    rows = []
    for view, expected in found:
        predicted, latency = predict_one(view)
        rows.append({**score(view, expected, predicted), "latency_ms": latency})
    return summarize(name, rows)


def latency_row(label: str, answers: ModelAnswers) -> dict[str, Any]:
    """Pause to suggestion, every answer (shown or not): cold, and the follow-ups."""
    cold = [latency for _, latency in answers.answers.values()]
    warm = answers.follow_up_ms

    def at(values: list[float], share: float) -> float | None:
        return round(percentile(values, share), 1) if values else None

    return {"model": label, "cases": len(cold), "cold_p50_ms": at(cold, 0.5),
            "cold_p90_ms": at(cold, 0.9), "follow_ups": len(warm),
            "follow_up_p50_ms": at(warm, 0.5), "follow_up_p90_ms": at(warm, 0.9)}  # fmt: skip


def run(args: argparse.Namespace) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The summaries, and per model and format the pause-to-suggestion latencies."""
    found = [situation(case) for case in cases(args.repo, args.limit)]
    summaries = [measure(name, timed(predictor), found) for name, predictor in baselines().items()]
    model_cases = found[: args.model_limit or None]
    latencies: list[dict[str, Any]] = []
    for preset in [name for name in args.presets.split(",") if name]:
        settings = replace(engine_settings_from(args), model=preset)
        engine = load_engine(settings, models.stderr_progress())
        try:
            for format_name in [name for name in args.formats.split(",") if name]:
                label = f"{format_name} ({preset})"
                follow_ups = model_cases if args.follow_up else None
                answers = ModelAnswers(engine, f"next-edit-{label}", format_name, follow_ups)
                for name, predictor in model_rows(answers, label).items():
                    summaries.append(measure(name, predictor, model_cases))
                latencies.append(latency_row(label, answers))
        finally:
            engine.close()
    return summaries, latencies


def add_parser(benches: Any) -> None:
    parser = benches.add_parser("next-edit", help="next-edit predictors on a repository's history")
    parser.add_argument(
        "--repo", type=Path, default=Path.cwd(), help="a git repository (default: .)"
    )
    parser.add_argument(
        "--limit", type=int, default=1000, help="first N cases, newest first (0: all)"
    )
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument(
        "--presets", default="default", help="model presets, comma-separated ('': baselines only)"
    )
    parser.add_argument(
        "--formats", default=",".join(FORMATS), help="prompt formats, comma-separated"
    )
    parser.add_argument(
        "--model-limit", type=int, default=20, help="cases for the model rows (0: all)"
    )
    parser.add_argument(
        "--follow-up",
        action="store_true",
        help="also time a second prediction in each model case's document",
    )
    add_engine_arguments(parser)


COLUMNS = (
    ("predictor", "predictor"),
    ("cases", "cases"),
    ("with_target", "with an edit in the window"),
    ("shown_pct", "shown %"),
    ("shown_with_target_pct", "shown where expected %"),
    ("precision_pct", "precision %"),
    ("exact_pct", "exact %"),
    ("location_pct", "location %"),
    ("delta_chrf", "delta-chrF"),
    ("reversal_pct", "reversal %"),
    ("latency_p50_ms", "p50 ms"),
    ("latency_p90_ms", "p90 ms"),
)
LATENCY_COLUMNS = (
    ("model", "model"),
    ("cases", "cases"),
    ("cold_p50_ms", "pause to answer p50 ms"),
    ("cold_p90_ms", "p90 ms"),
    ("follow_ups", "follow-ups"),
    ("follow_up_p50_ms", "follow-up p50 ms"),
    ("follow_up_p90_ms", "p90 ms"),
)


def _table(columns: Sequence[tuple[str, str]], rows: list[dict[str, Any]]) -> str:
    cells = [[row[key] if row[key] is not None else "-" for key, _ in columns] for row in rows]
    return format_table([title for _, title in columns], cells)


def main(args: argparse.Namespace) -> int:
    summaries, latencies = run(args)
    print(_table(COLUMNS, summaries))
    if latencies:
        print(_table(LATENCY_COLUMNS, latencies))
    payload = {"repo": str(args.repo), "predictors": summaries, "latencies": latencies}
    write_json(args.json, "next-edit", payload)
    return 0
