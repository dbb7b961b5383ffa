"""``spark-lsp bench latency --lsp --cold`` and ``--cadence MS``: what a user meets first.

- Cold: per file, the document is opened and an Invoked request is sent at once at a trace
  point (its line erased after the indentation), the model already loaded: the time to the
  shown suggestion, and whether its first line is the real one.
- Cadence: the point's code is typed at a human pace, a keystroke every MS milliseconds,
  without waiting for answers (as an editor sends them); after each word the typist stops and
  looks: the time from the last keystroke before that pause to its suggestion is measured, and
  the pause goes on a while before the next word (which lets idle work run). The server's
  counters tell how many model calls were started, cancelled, and answered too late to show.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from spark_lsp.bench.lsp_session import LspSession
from spark_lsp.bench.lsp_typing import shown_first_line
from spark_lsp.bench.traces import TracePoint, erased
from spark_lsp.percentiles import median, percentile

INVOKED = 1
AUTOMATIC = 2
LOOK_AFTER_S = 1.2  # how long a typist keeps pausing once the suggestion showed (or did not)
ANSWER_WAIT_S = 30.0  # an answer later than this counts as none

T = TypeVar("T")


@dataclass(frozen=True)
class ColdRequest:
    position: str
    ms: float
    shown: str | None  # the cursor line with the suggestion's first line applied
    right: bool


@dataclass(frozen=True)
class Pause:
    """The suggestion a typist sees when stopping after a word."""

    ms: float  # from the last keystroke's request to its answer
    shown: str | None
    right: bool


def inline_params(uri: str, line: int, column: int, trigger: int) -> dict[str, Any]:
    return {
        "textDocument": {"uri": uri},
        "position": {"line": line, "character": column},
        "context": {"triggerKind": trigger},
    }


def _open(session: LspSession, uri: str, lines: list[str]) -> None:
    document = {"uri": uri, "languageId": "python", "version": 1, "text": "".join(lines)}
    session.notify("textDocument/didOpen", {"textDocument": document})


async def _load_model(session: LspSession) -> None:
    """An Invoked request on a tiny document: the model loads and measures itself."""
    uri = "file:///bench/first-contact/warm.py"
    _open(session, uri, ["def add(a, b):\n", "    return \n"])
    await session.request("textDocument/inlineCompletion", inline_params(uri, 1, 11, INVOKED))
    session.notify("textDocument/didClose", {"textDocument": {"uri": uri}})


async def cold_requests(session: LspSession, points: list[TracePoint]) -> list[ColdRequest]:
    await _load_model(session)
    found = []
    for index, point in enumerate(points):
        lines, real = erased(point)
        uri = f"file:///bench/cold/{index}/{point.path.name}"
        _open(session, uri, lines)
        params = inline_params(uri, point.line, point.indent, INVOKED)
        answer, ms = await session.timed_request("textDocument/inlineCompletion", params)
        shown = shown_first_line(answer, " " * point.indent)
        right = shown is not None and shown.rstrip() == real.rstrip()
        found.append(ColdRequest(f"{point.path.name}:{point.line + 1}", round(ms, 1), shown, right))
        session.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    return found


def words(code: str) -> list[str]:
    """The code in bursts a typist types without stopping: each ends after a word."""
    bursts, current = [], ""
    for index, char in enumerate(code):
        current += char
        following = code[index + 1] if index + 1 < len(code) else ""
        if (char.isalnum() or char == "_") and not (following.isalnum() or following == "_"):
            bursts.append(current)
            current = ""
    if current:
        bursts.append(current)
    return bursts


async def _counters(session: LspSession) -> dict[str, int]:
    counters = (await session.request("spark/debug/counters", None)).get("result") or {}
    names = ("modelCalls", "cancelledModelCalls", "unshownAnswers", "contextWarmups")
    return {name: int(counters.get(name, 0)) for name in names}


async def type_at_cadence(
    session: LspSession, point: TracePoint, index: int, cadence_s: float
) -> list[Pause]:
    lines, real = erased(point)
    uri = f"file:///bench/cadence/{index}/{point.path.name}"
    _open(session, uri, lines)
    pauses: list[Pause] = []
    typed, version = "", 1
    for burst in words(point.code):
        last: asyncio.Task[tuple[dict[str, Any], float]] | None = None
        others: list[asyncio.Task[tuple[dict[str, Any], float]]] = []
        for char in burst:
            column = point.indent + len(typed)
            here = {"line": point.line, "character": column}
            version += 1
            session.notify(
                "textDocument/didChange",
                {
                    "textDocument": {"uri": uri, "version": version},
                    "contentChanges": [{"range": {"start": here, "end": here}, "text": char}],
                },
            )
            typed += char
            params = inline_params(uri, point.line, column + 1, AUTOMATIC)
            if last is not None:
                others.append(last)
            last = asyncio.create_task(
                session.timed_request("textDocument/inlineCompletion", params)
            )
            await asyncio.sleep(cadence_s)
        assert last is not None
        try:
            answer, ms = await asyncio.wait_for(last, ANSWER_WAIT_S)
            shown = shown_first_line(answer, " " * point.indent + typed)
        except TimeoutError:
            ms, shown = ANSWER_WAIT_S * 1000, None
        right = shown is not None and shown.rstrip() == real.rstrip()
        # The answer came after the last keystroke's own wait (cadence_s): that is the user's.
        pauses.append(Pause(round(max(0.0, ms - cadence_s * 1000), 1), shown, right))
        await asyncio.gather(*others, return_exceptions=True)
        await asyncio.sleep(LOOK_AFTER_S)
    session.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    return pauses


async def cadence_run(
    session: LspSession, points: list[TracePoint], cadence_ms: int
) -> dict[str, Any]:
    await _load_model(session)
    before = await _counters(session)
    started = time.perf_counter()
    pauses: list[Pause] = []
    for index, point in enumerate(points):
        pauses += await type_at_cadence(session, point, index, cadence_ms / 1000)
        print(f"  {index + 1}/{len(points)} positions typed", flush=True)
    after = await _counters(session)
    spent = {name: after[name] - before[name] for name in after}
    keystrokes = sum(len(point.code) for point in points)
    return {
        "keystrokes": keystrokes,
        "seconds": round(time.perf_counter() - started, 1),
        "pauses": [asdict(pause) for pause in pauses],
        "summary": {
            **pause_summary(pauses),
            "model_calls_started": spent["modelCalls"],
            "model_calls_cancelled": spent["cancelledModelCalls"],
            "answers_too_late": spent["unshownAnswers"],
            "context_warmups": spent["contextWarmups"],
        },
    }


def pause_summary(pauses: list[Pause]) -> dict[str, Any]:
    if not pauses:
        return {"pauses": 0}
    ms = [pause.ms for pause in pauses]
    return {
        "pauses": len(pauses),
        "shown_ms_p50": round(median(ms), 1),
        "shown_ms_p90": round(percentile(ms, 0.9), 1),
        "empty_share": round(sum(pause.shown is None for pause in pauses) / len(pauses), 3),
        "right_share": round(sum(pause.right for pause in pauses) / len(pauses), 3),
    }


def cold_summary(requests: list[ColdRequest]) -> dict[str, Any]:
    if not requests:
        return {"files": 0}
    ms = [request.ms for request in requests]
    return {
        "files": len(requests),
        "first_invoked_ms_p50": round(median(ms), 1),
        "first_invoked_ms_max": round(max(ms), 1),
        "empty_share": round(sum(r.shown is None for r in requests) / len(requests), 3),
        "right_share": round(sum(r.right for r in requests) / len(requests), 3),
    }


async def _session(
    flags: list[str],
    options: dict[str, Any] | None,
    work: Callable[[LspSession], Awaitable[T]],
) -> T:
    session = LspSession(flags, options)
    await session.start()
    try:
        return await work(session)
    finally:
        await session.stop()


def run_cold(
    points: list[TracePoint], flags: list[str], options: dict[str, Any] | None
) -> list[ColdRequest]:
    return asyncio.run(_session(flags, options, lambda s: cold_requests(s, points)))


def run_cadence(
    points: list[TracePoint], flags: list[str], options: dict[str, Any] | None, cadence_ms: int
) -> dict[str, Any]:
    return asyncio.run(_session(flags, options, lambda s: cadence_run(s, points, cadence_ms)))
