"""The fake engine honours the engine interface, so pipelines can be unit-tested without a model."""

from __future__ import annotations

import threading

from spark_lsp.engine import CancelToken, GenerationRequest, InfillPrompt, StopReason, TextPrompt
from spark_lsp.engine.fake import FakeEngine


def test_streams_pieces_and_counts_calls() -> None:
    engine = FakeEngine(lambda request: "return a + b")
    pieces: list[str] = []
    result = engine.generate(
        GenerationRequest(InfillPrompt("def add(a, b):\n    ", "\n")), CancelToken(), pieces.append
    )
    assert result.text == "return a + b"
    assert "".join(pieces) == result.text
    assert result.stop_reason is StopReason.EOS
    assert result.stats.tokens_generated == 4
    assert engine.calls == 1


def test_max_tokens_and_stop_strings() -> None:
    engine = FakeEngine(lambda request: "one two three; four")
    limited = engine.generate(GenerationRequest(TextPrompt("x"), max_tokens=2), CancelToken())
    assert (limited.text, limited.stop_reason) == ("one two", StopReason.LENGTH)
    pieces: list[str] = []
    stopped = engine.generate(
        GenerationRequest(TextPrompt("x"), stop=(";",)), CancelToken(), pieces.append
    )
    assert (stopped.text, stopped.stop_reason) == ("one two three", StopReason.STOP)
    assert "".join(pieces) == "one two three"


def test_cancellation_from_another_thread_stops_at_the_next_step() -> None:
    engine = FakeEngine(lambda request: " ".join(["w"] * 1000), delay_per_token_s=0.001)
    token = CancelToken()
    timer = threading.Timer(0.05, token.cancel)
    timer.start()
    result = engine.generate(GenerationRequest(TextPrompt("x"), max_tokens=1000), token)
    timer.join()
    assert result.stop_reason is StopReason.CANCELLED
    assert 0 < result.stats.tokens_generated < 1000


def test_stops_after_text_ignore_a_leading_blank_line() -> None:
    from spark_lsp.engine.base import stop_index

    def request(after_text: bool) -> GenerationRequest:
        return GenerationRequest(TextPrompt("x"), stop=("\n",), stop_after_text=after_text)

    assert stop_index("\n  \n    return x\nmore", request(True)) == len("\n  \n    return x")
    assert stop_index("\n    return x\n", request(False)) == 0
    assert stop_index("  \n", request(True)) == -1
    engine = FakeEngine(lambda request: "\n return x\n more")
    assert engine.generate(request(True), CancelToken()).text == "\n return x"
