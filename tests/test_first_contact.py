"""What a user meets first, through the real server and model: the first Invoked request in a
file larger than the context evaluates only what this machine evaluates in about half a second
(not the whole window), and typing at a human pace is measured as the bench does it."""

from __future__ import annotations

import asyncio

import pytest

from spark_lsp.bench import first_contact
from spark_lsp.bench.lsp_session import LspSession
from spark_lsp.bench.traces import TracePoint, novel_file
from spark_lsp.completion.prompt_rate import COLD_WINDOW_S, UNMEASURED_COLD_TOKENS
from spark_lsp.documents import line_content, split_lines

pytestmark = pytest.mark.model

FLAGS = ["--model", "small"]


def point_in(path, line_index: int) -> TracePoint:
    lines = split_lines(path.read_text(encoding="utf-8"))
    index = next(
        i for i in range(line_index, len(lines)) if 16 <= len(line_content(lines[i]).strip()) <= 48
    )
    content = line_content(lines[index])
    indent = len(content) - len(content.lstrip())
    return TracePoint(path, index, indent, content[indent:])


def test_the_first_invoked_request_in_a_file_over_the_context_evaluates_a_small_window() -> None:
    path = novel_file()
    point = point_in(path, len(split_lines(path.read_text(encoding="utf-8"))) // 2)

    async def scenario() -> tuple[list[first_contact.ColdRequest], dict, dict]:
        session = LspSession(FLAGS)
        await session.start()
        try:
            cold = await first_contact.cold_requests(session, [])  # loads and measures
            before = (await session.request("spark/debug/counters", None))["result"]
            cold = await first_contact.cold_requests(session, [point])
            for _ in range(600):  # an early answer's model call finishes in the background
                after = (await session.request("spark/debug/counters", None))["result"]
                if (
                    after["promptTokensPerS"]
                    and after["requestTokensEvaluated"] > before["requestTokensEvaluated"] + 1
                ):
                    break
                await asyncio.sleep(0.1)
            return cold, before, after
        finally:
            await session.stop()

    cold, before, after = asyncio.run(scenario())
    rate = after["promptTokensPerS"]
    assert rate and rate > 10  # measured by the probe, or by the cold request itself
    evaluated = after["requestTokensEvaluated"] - before["requestTokensEvaluated"]
    # The second scenario's warm-up document adds its own small prompt; the file's window is
    # capped at half a second of evaluation, or at UNMEASURED_COLD_TOKENS when the request
    # came before the probe's figure (the whole window would be about 8,000 tokens).
    cap = max(rate * COLD_WINDOW_S, UNMEASURED_COLD_TOKENS)
    assert 0 < evaluated <= 2 * cap + 200, (evaluated, rate)
    assert len(cold) == 1 and cold[0].ms > 0


def test_typing_at_a_human_cadence_is_measured_pause_by_pause() -> None:
    path = novel_file()
    point = point_in(path, 40)
    run = first_contact.run_cadence([point], FLAGS, None, 60)
    summary = run["summary"]
    assert summary["pauses"] == len(first_contact.words(point.code))
    assert summary["model_calls_started"] >= 1
    assert summary["model_calls_cancelled"] <= summary["model_calls_started"]
    assert all(pause["ms"] >= 0 for pause in run["pauses"])
