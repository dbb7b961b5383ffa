"""The typing replay behind ``bench latency --replay-tasks N``: how right the answers stay when
the KV cells after the cursor are reused instead of recomputed.

HumanEval lines (the infill tasks of ``bench infill``) are typed one character at a time, from
their indentation to their last character; at each keystroke the engine is asked for the rest of
the line (the raw single-line protocol), and ``typed + answer`` is compared with the real line
(exact match, whitespace at the end ignored). Each mode runs on its own engine, one after another:

- exact: ``--kv-reuse exact``, the suffix recomputed at every keystroke (the reference);
- refresh N: ``--kv-reuse shift``, N tokens after the change re-evaluated, the rest of the
  suffix's cells reused (stale: they saw an older text), with no pause at all;
- refresh N + pauses: the same, and the user pauses after each word (after a space or one of
  ``()[]{},.:=``), long enough for the background refresh to recompute the stale cells (what the
  server does after ``completion.suffixRefreshIdleMs``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from spark_lsp.bench.infill_cases import MaskedLine, humaneval_cases
from spark_lsp.bench.infill_paths import exact_line, line_request
from spark_lsp.completion.cursor import cursor_state
from spark_lsp.engine import CancelToken, GenerationRequest, TextPrompt
from spark_lsp.engine.loader import load_engine
from spark_lsp.engine.settings import EngineSettings
from spark_lsp.percentiles import median

PAUSE_AFTER = frozenset(" ()[]{},.:=")


@dataclass(frozen=True)
class Mode:
    name: str
    kv_reuse: str
    refresh_tokens: int
    pauses: bool = False


def modes(refresh_tokens: int) -> list[Mode]:
    """The reference, the configured refresh without and with pauses, and 4 tokens with pauses
    (the small refresh the background work is meant to make enough)."""
    chosen = [
        Mode("exact", "exact", refresh_tokens),
        Mode(f"refresh {refresh_tokens}", "shift", refresh_tokens),
        Mode(f"refresh {refresh_tokens} + pauses", "shift", refresh_tokens, True),
    ]
    if refresh_tokens != 4:
        chosen += [Mode("refresh 4", "shift", 4), Mode("refresh 4 + pauses", "shift", 4, True)]
    return chosen


@dataclass
class ModeResult:
    answers: list[str] = field(default_factory=list)
    right: list[bool] = field(default_factory=list)
    full_ms: list[float] = field(default_factory=list)
    evaluated: list[int] = field(default_factory=list)
    refreshed: int = 0

    def summary(self, reference: ModeResult | None) -> dict[str, Any]:
        same = None
        if reference is not None:
            pairs = list(zip(self.answers, reference.answers, strict=True))
            same = round(100 * sum(a == b for a, b in pairs) / max(1, len(pairs)), 1)
        return {
            "keystrokes": len(self.right),
            "exact_match": round(100 * sum(self.right) / max(1, len(self.right)), 1),
            "same_as_exact": same,
            "full_ms_p50": round(median(self.full_ms), 1) if self.full_ms else None,
            "tokens_evaluated_p50": median(self.evaluated) if self.evaluated else None,
            "tokens_refreshed": self.refreshed,
        }


def typing_states(task: MaskedLine) -> list[tuple[str, Any]]:
    """(what is typed on the line, the cursor state) for each keystroke of the task's line."""
    target = task.target.rstrip()
    indent = len(target) - len(target.lstrip())
    states = []
    for end in range(indent, len(target)):
        typed = target[:end]
        lines = task.with_line(typed)
        states.append((typed, cursor_state(lines, task.line, len(typed), language_id="python")))
    return states


def run_mode(
    settings: EngineSettings,
    mode: Mode,
    typed_tasks: list[tuple[MaskedLine, list[tuple[str, Any]]]],
) -> ModeResult:
    engine = load_engine(
        replace(settings, kv_reuse=mode.kv_reuse, suffix_refresh_tokens=mode.refresh_tokens)  # type: ignore[arg-type]
    )
    result = ModeResult()
    try:
        for task, states in typed_tasks:
            key = f"{task.document}:{task.line}"
            engine.generate(line_request(states[0][1].cache_key, key), CancelToken())  # cold
            for typed, state in states[1:]:
                answer = engine.generate(line_request(state.cache_key, key), CancelToken())
                result.answers.append(answer.text)
                result.right.append(exact_line(typed + answer.text, task))
                result.full_ms.append(answer.stats.total_ms)
                result.evaluated.append(answer.stats.tokens_evaluated)
                if mode.pauses and typed[-1:] in PAUSE_AFTER:
                    pause = GenerationRequest(TextPrompt(""), max_tokens=0, key=key, refresh=True)
                    result.refreshed += engine.generate(pause, CancelToken()).stats.tokens_evaluated
    finally:
        engine.close()
    return result


def run_replay(settings: EngineSettings, task_count: int) -> list[tuple[str, dict[str, Any]]]:
    """Every mode over the same ``task_count`` tasks: rows of (mode name, summary)."""
    typed_tasks = [(task, typing_states(task)) for task in humaneval_cases(task_count)]
    keys = sum(len(states) - 1 for _, states in typed_tasks)
    results: list[tuple[Mode, ModeResult]] = []
    for mode in modes(settings.suffix_refresh_tokens):
        lines = len(typed_tasks)
        print(f"typing replay: {mode.name}, {lines} lines, {keys} keystrokes...", flush=True)
        results.append((mode, run_mode(settings, mode, typed_tasks)))
    reference = results[0][1]
    return [(mode.name, result.summary(reference)) for mode, result in results]
