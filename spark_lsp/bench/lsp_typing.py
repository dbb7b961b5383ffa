"""``spark-lsp bench latency --lsp``: the typing traces through the real server over stdio.

For each trace point the document is opened with the line's code erased, one Automatic
request warms it (not measured), then the code is typed back one character at a time: a
didChange, then an Automatic ``textDocument/inlineCompletion`` (the server's own debounce
applies), its answer awaited, as an editor would. Measured per keystroke: the time from the
request to its answer, whether the model ran (the server's counters) and how many tokens it
evaluated, and the suggestion shown. A suggestion is right when, applied, its first line gives
the real line. Run side by side with ``--kv-reuse exact``, the same keystrokes measure the
quality cost of reusing cells (agreement of the shown first lines).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any

from spark_lsp.bench.lsp_session import LspSession
from spark_lsp.bench.traces import TracePoint, erased
from spark_lsp.engine.settings import EngineSettings
from spark_lsp.percentiles import median, percentile


@dataclass(frozen=True)
class Keystroke:
    ms: float
    model_call: bool
    tokens_evaluated: int
    shown: str | None  # the cursor line with the suggestion's first line applied; None: nothing
    right: bool
    # Where a model call's time went, by the server's record (spark/debug/counters), and the
    # rest of the round trip: JSON-RPC both ways, dispatch, the cache lookup, the conversion.
    phases: dict[str, float] | None = None


def server_flags(settings: EngineSettings) -> list[str]:
    """The ``serve`` flags that reproduce ``settings`` (those that differ from the defaults)."""
    defaults = EngineSettings()
    flags: list[str] = []
    for item in fields(EngineSettings):
        value = getattr(settings, item.name)
        if value == getattr(defaults, item.name) or value is None:
            continue
        flag = "--" + item.name.replace("_", "-")
        if isinstance(value, bool):
            flags.append(flag if value else "--no-" + flag[2:])
        else:
            flags += [flag, str(value)]
    return flags


def applied_first_line(line_text: str, item: dict[str, Any]) -> str:
    """The cursor line once the item's first line is inserted over its range (UTF-16 columns;
    the traces' lines are ASCII, where those are code points)."""
    start = item["range"]["start"]["character"]
    end = item["range"]["end"]["character"]
    return line_text[:start] + item["insertText"].split("\n", 1)[0] + line_text[end:]


def shown_first_line(answer: dict[str, Any], typed: str) -> str | None:
    """The cursor line (``typed`` so far) with the answer's first item applied; None: none."""
    items = (answer.get("result") or {}).get("items") or []
    return applied_first_line(typed, items[0]) if items else None


async def _counters(session: LspSession) -> tuple[int, int, dict[str, float]]:
    counters = (await session.request("spark/debug/counters", None)).get("result") or {}
    phases = counters.get("lastPhasesMs") or {}
    return counters.get("modelCalls", 0), counters.get("requestTokensEvaluated", 0), phases


LSP_REST = "LSP: JSON-RPC, dispatch, conversion"
WARM_WINDOW_WAIT_S = 600.0


async def warm_up(session: LspSession, params: dict[str, Any]) -> None:
    """One Automatic request before typing (not measured), then the grown window."""
    await session.request("textDocument/inlineCompletion", params)
    await warm_window(session)


async def warm_window(
    session: LspSession, limit_s: float = WARM_WINDOW_WAIT_S, poll_s: float = 0.5
) -> None:
    """Wait while the server grows the document's capped window (progressive context: the
    user looking at the file before typing), so that this run measures typing in a warm
    document as it did before (its unmeasured warm-up request evaluated the whole window);
    ``--cold`` and ``--cadence`` measure first contact. A server without the counter is warm."""
    deadline = asyncio.get_running_loop().time() + limit_s
    while asyncio.get_running_loop().time() < deadline:
        counters = (await session.request("spark/debug/counters", None)).get("result") or {}
        if not counters.get("cappedWindows"):
            return
        await asyncio.sleep(poll_s)


def with_rest(phases: dict[str, float], round_trip_ms: float) -> dict[str, float]:
    """The server's phases of a request and what the round trip spent beyond them."""
    return {**phases, LSP_REST: max(0.0, round_trip_ms - sum(phases.values()))}


async def type_point(
    session: LspSession,
    point: TracePoint,
    index: int,
    pauses: dict[int, float] | None = None,
    on_pause: Callable[[], None] | None = None,
) -> list[Keystroke]:
    """Type ``point``'s code into document ``index``; ``pauses``: seconds to wait before the
    keystroke of that (0-based) number, as a user who stops to think (``on_pause`` runs as a
    pause starts: an edit elsewhere, for example)."""
    lines, real = erased(point)
    uri = f"file:///bench/{index}/{point.path.name}"
    document = {"uri": uri, "languageId": "python", "version": 1, "text": "".join(lines)}
    session.notify("textDocument/didOpen", {"textDocument": document})

    def params(column: int) -> dict[str, Any]:
        position = {"line": point.line, "character": column}
        return {"textDocument": {"uri": uri}, "position": position, "context": {"triggerKind": 2}}

    await warm_up(session, params(point.indent))
    calls, evaluated, _ = await _counters(session)
    keystrokes = []
    for typed, char in enumerate(point.code, start=1):
        if pauses and typed - 1 in pauses:
            if on_pause is not None:
                on_pause()
            await asyncio.sleep(pauses[typed - 1])
        column = point.indent + typed - 1
        here = {"line": point.line, "character": column}
        session.notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": uri, "version": typed + 1},
                "contentChanges": [{"range": {"start": here, "end": here}, "text": char}],
            },
        )
        answer, ms = await session.timed_request(
            "textDocument/inlineCompletion", params(column + 1)
        )
        shown = shown_first_line(answer, real[: column + 1])
        now_calls, now_evaluated, phases = await _counters(session)
        model_call = now_calls > calls
        keystrokes.append(
            Keystroke(
                ms,
                model_call,
                now_evaluated - evaluated,
                shown,
                shown is not None and shown.rstrip() == real.rstrip(),
                with_rest(phases, ms) if model_call and phases else None,
            )
        )
        calls, evaluated = now_calls, now_evaluated
    session.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    return keystrokes


async def _run(
    points: list[TracePoint], flags: list[str], progress: bool, options: dict[str, Any] | None
) -> list[Keystroke]:
    session = LspSession(flags, options)
    await session.start()
    try:
        keystrokes: list[Keystroke] = []
        for index, point in enumerate(points):
            keystrokes += await type_point(session, point, index)
            if progress:
                print(f"  {index + 1}/{len(points)} positions typed", flush=True)
        return keystrokes
    finally:
        await session.stop()


def run_lsp(
    points: list[TracePoint], settings: EngineSettings, options: dict[str, Any] | None = None
) -> list[Keystroke]:
    """Type the points through a server started with ``settings``' flags and the editor
    ``options`` (initializationOptions)."""
    return asyncio.run(_run(points, server_flags(settings), True, options))


def summary(keystrokes: list[Keystroke]) -> dict[str, Any]:
    if not keystrokes:
        return {"keystrokes": 0}
    answer = [k.ms for k in keystrokes]
    model = [k.ms for k in keystrokes if k.model_call]
    evaluated = [k.tokens_evaluated for k in keystrokes if k.model_call]
    return {
        "keystrokes": len(keystrokes),
        "answer_ms_p50": round(median(answer), 1),
        "answer_ms_p90": round(percentile(answer, 0.9), 1),
        "model_call_ms_p50": round(median(model), 1) if model else None,
        "model_call_ms_p90": round(percentile(model, 0.9), 1) if model else None,
        "cache_share": round(1 - len(model) / len(keystrokes), 3),
        "empty_share": round(sum(k.shown is None for k in keystrokes) / len(keystrokes), 3),
        "tokens_evaluated_p50": median(evaluated) if evaluated else None,
        "tokens_evaluated_max": max(evaluated, default=None),
        "exact_match": round(sum(k.right for k in keystrokes) / len(keystrokes), 3),
    }


def phases_p50(keystrokes: list[Keystroke]) -> dict[str, float]:
    """The median of each phase over the keystrokes that called the model."""
    recorded = [k.phases for k in keystrokes if k.phases]
    names = list(dict.fromkeys(name for phases in recorded for name in phases))
    return {name: round(median([p.get(name, 0.0) for p in recorded]), 1) for name in names}


def agreement(first: list[Keystroke], second: list[Keystroke]) -> tuple[int, int]:
    """(keystrokes whose shown first lines agree, keystrokes compared)."""
    pairs = list(zip(first, second, strict=False))
    return sum(a.shown == b.shown for a, b in pairs), len(pairs)


def as_json(keystrokes: list[Keystroke]) -> list[dict[str, Any]]:
    return [asdict(k) for k in keystrokes]
