"""A block answer ends at its natural end (a dedent, a blank line after text) rather than running
into its token or time budget: the rule every backend applies through ``stop_index``."""

from __future__ import annotations

import time

from spark_lsp.engine import GenerationRequest, InfillPrompt, StopReason, TextPrompt
from spark_lsp.engine.answer import StreamedAnswer
from spark_lsp.engine.base import GenerationStats, block_end_index, stop_index

BODY = "\n        total += x\n        count += 1\n"


def test_a_block_ends_before_a_dedent_and_at_a_blank_line_after_text() -> None:
    assert block_end_index(BODY + "    return total\n") == len(BODY)
    assert block_end_index(BODY + "\n        more()\n") == len(BODY)
    assert block_end_index(BODY + "        more()") == -1  # still inside the block
    assert block_end_index("\n\n        first()\n") == -1  # blank lines before any text
    assert block_end_index(BODY + "    ") == -1  # no text yet on the last line: undecided
    # An answer that starts on the cursor's line (no natural boundary) keeps its lines.
    assert block_end_index("total += x\ncount += 1\n") == -1


def test_the_request_asks_for_it_and_streaming_never_shows_what_the_end_removes() -> None:
    request = GenerationRequest(InfillPrompt("", ""), max_tokens=64, stop_at_block_end=True)
    assert stop_index(BODY + "    return total", request) == len(BODY)
    plain = GenerationRequest(InfillPrompt("", ""), max_tokens=64)
    assert stop_index(BODY + "    return total", plain) == -1
    shown: list[str] = []
    answer = StreamedAnswer(request, shown.append, time.perf_counter(), GenerationStats())
    reason = None
    for piece in ("\n        total", " += x\n", "        count += 1\n", "   ", " return", " x"):
        reason = answer.add(piece)
        if reason is not None:
            break
    result = answer.result(reason or StopReason.EOS)
    assert reason is StopReason.STOP
    assert result.text == "\n        total += x\n        count += 1\n"
    assert "".join(shown) == result.text  # the dedented line's spaces were held back


def test_an_answer_ends_after_its_most_lines() -> None:
    request = GenerationRequest(TextPrompt("x"), max_lines=2)
    assert stop_index("a\nb\nc\n", request) == 4
    assert stop_index("a\nb", request) == -1
    assert stop_index("a\nb\n", request) == 4  # the second line is complete: stop there
    assert stop_index("a\nb\nc", GenerationRequest(TextPrompt("x"))) == -1
