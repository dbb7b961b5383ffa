"""A fast, deterministic engine for unit tests of everything above the engine interface."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from spark_lsp import templates
from spark_lsp.engine.answer import StreamedAnswer
from spark_lsp.engine.base import (
    CancelToken,
    ChatPrompt,
    EngineCapabilities,
    EngineCounters,
    GenerationRequest,
    GenerationResult,
    GenerationStats,
    InfillPrompt,
    StopReason,
    TokenCallback,
    stop_index,
)
from spark_lsp.token_counting import TokenCounter, fallback_encoding

# The answer; or a list of answers: the first is the answer, the others its alternatives.
Responder = Callable[[GenerationRequest], "str | list[str]"]


def echo_line_responder(request: GenerationRequest) -> str:
    """Complete an infill by repeating the prefix's last line; text prompts get a fixed answer."""
    if isinstance(request.prompt, InfillPrompt):
        return request.prompt.prefix.rsplit("\n", 1)[-1].strip() or "pass"
    return "ok"


class FakeEngine:
    """Streams a scripted answer word by word (whitespace kept) through the real engines'
    StreamedAnswer (max_tokens, stop strings, streaming), honouring cancellation.

    ``delay_per_token_s`` makes it slow enough to cancel mid-generation in tests. ``calls`` counts
    generate() calls so tests can assert that a cache served a request without the engine.
    """

    def __init__(
        self,
        responder: Responder = echo_line_responder,
        delay_per_token_s: float = 0.0,
        resumable: bool = False,
    ) -> None:
        """``resumable``: a preempted request stops with PREEMPTED (its words so far as the
        resume state) and a resumed one skips them, like the llama.cpp engine."""
        self._responder = responder
        self._delay = delay_per_token_s
        self.resumable = resumable
        self.refreshes_cells = False  # it takes refresh requests as any other (a test may say so)
        self.calls = 0
        self.requests: list[GenerationRequest] = []

    model_name = "fake"
    template = templates.QWEN25_CODER
    add_bos = False
    n_ctx = 8192

    @property
    def name(self) -> str:
        return "fake"

    @property
    def capabilities(self) -> EngineCapabilities:
        return EngineCapabilities(resumable=self.resumable, refreshes_cells=self.refreshes_cells)

    def counters(self) -> EngineCounters:
        return EngineCounters(requests=self.calls)

    def token_counter(self) -> TokenCounter:
        return TokenCounter(fallback_encoding(), exact=False)

    def close(self) -> None:
        pass

    def generate(
        self,
        request: GenerationRequest,
        cancel: CancelToken,
        on_text: TokenCallback | None = None,
    ) -> GenerationResult:
        self.calls += 1
        self.requests.append(request)
        started = time.perf_counter()
        answers = self._responder(request)
        answer, *others = [answers] if isinstance(answers, str) else answers
        pieces = re.findall(r"\s*\S+", answer)  # words with the whitespace before them
        pieces = pieces[len(request.resume) :]
        stats = GenerationStats(prompt_tokens=_prompt_length(request))
        stats.tokens_evaluated = stats.prompt_tokens
        # The same buffer as the real engines': their stop strings, limits and streaming rules.
        answer_stream = StreamedAnswer(request, on_text, started, stats)
        reason = StopReason.EOS
        for piece in pieces:
            if cancel.cancelled:
                reason = StopReason.CANCELLED
                break
            if self.resumable and cancel.preempted:
                done = tuple(range(stats.tokens_generated))
                result = answer_stream.result(StopReason.PREEMPTED)
                result.resume = done
                return result
            if self._delay:
                time.sleep(self._delay)
            if (stop := answer_stream.add(piece)) is not None:
                reason = stop
                break
        result = answer_stream.result(reason)
        if reason is not StopReason.CANCELLED:
            result.alternatives = tuple(
                _cut(other, request) for other in others[: request.alternatives]
            )
            result.alternative_stops = (StopReason.STOP,) * len(result.alternatives)
        return result


def _cut(text: str, request: GenerationRequest) -> str:
    stop_at = stop_index(text, request)
    return text if stop_at < 0 else text[:stop_at]


def _prompt_length(request: GenerationRequest) -> int:
    prompt = request.prompt
    if isinstance(prompt, InfillPrompt):
        text = prompt.prefix + prompt.suffix
    elif isinstance(prompt, ChatPrompt):
        text = " ".join(content for _, content in prompt.messages)
    else:
        text = prompt.text
    return len(text.split())
