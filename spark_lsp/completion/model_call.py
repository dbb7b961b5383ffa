"""The model call of one request: submit it, show a block's first line (or a slow one-line
answer's text so far) as soon as it is decoded, let the rest complete into the cache, and turn
the raw answer and its alternatives into the texts to show.

Threads: runs on the event loop; the model works on the inference worker's thread and its
result comes back through ``run_job`` (an asyncio future), so done-callbacks that store into
the caches run on the loop too.
"""

from __future__ import annotations

import asyncio
import logging
import time
from asyncio import FIRST_COMPLETED
from collections.abc import Callable
from dataclasses import dataclass, replace

from spark_lsp.completion.alternatives import allowance_for, shown_alternatives
from spark_lsp.completion.cache import SuggestionCache
from spark_lsp.completion.cursor import CursorState, finish
from spark_lsp.completion.decode_rate import DecodeRate
from spark_lsp.completion.first_line import FirstLine, complete_lines
from spark_lsp.completion.prompt_rate import PromptRate
from spark_lsp.completion.settings import CompletionSettings
from spark_lsp.completion.state import CompletionCounters, DocumentRecords
from spark_lsp.completion.trace import RequestTrace
from spark_lsp.context.window import CursorWindow
from spark_lsp.engine import GenerationResult, Priority, StopReason
from spark_lsp.engine.base import cache_key
from spark_lsp.engine.worker import InferenceWorker, run_job

logger = logging.getLogger(__name__)

# What an early answer (a one-line answer's text so far) skips: its brackets and its syntax
# may still be open; the rest of the line follows into the cache.
PARTIAL_SKIPS = frozenset({"balance_brackets", "syntax_check"})
# Once the predict budget has shown what the model had, the answer goes on in the background
# (into the type-through cache) for at most this many budgets more; a keystroke ends it sooner.
BACKGROUND_BUDGETS = 3


@dataclass(frozen=True)
class Ask:
    """What a request asks of the model besides its cursor state."""

    alternatives: int = 0  # other answers wanted (an Invoked one-line request)
    invoked: bool = False  # the user asked and waits (a block may then come whole)
    # The document's window is still capped: alternatives only when the best answer is dropped
    # (they would add a tenth or more to the first suggestion in a file, the one awaited most).
    cold: bool = False


@dataclass(frozen=True)
class ModelAnswer:
    text: str | None  # what to show at the cursor, post-processed; None: nothing
    complete: bool  # the model finished its answer (an early answer is not complete)
    alternatives: tuple[str, ...] = ()  # other texts to show, distinct, post-processed


NO_ANSWER = ModelAnswer(None, False)


class ModelCall:
    def __init__(
        self,
        documents: DocumentRecords,
        counters: CompletionCounters,
        settings: Callable[[], CompletionSettings],
        prompt_rate: PromptRate,
        decode_rate: DecodeRate,
    ) -> None:
        self._documents = documents
        self._counters = counters
        self._settings = settings
        self._prompt_rate = prompt_rate
        self._decode_rate = decode_rate

    async def answer(
        self,
        worker: InferenceWorker,
        uri: str,
        state: CursorState,
        trace: RequestTrace,
        ask: Ask = Ask(),
    ) -> ModelAnswer:
        """The model's suggestion for ``state`` and up to ``ask.alternatives`` others. A block
        answers with its first line as soon as it is decoded, or, ``ask.invoked`` (the user
        asked and waits), whole when it ends within the predict budget, else with its lines
        decoded by then; the rest keeps generating in the background and lands in the cache."""
        settings = self._settings()
        budget_ms = self._decode_rate.predict_budget_ms(settings.predict_time_budget_ms)
        request = replace(
            state.request(settings, cache_key(uri)),
            alternatives=ask.alternatives,
            alternatives_allowance=allowance_for(state, ask.cold) if ask.alternatives else None,
            predict_time_budget_ms=budget_ms * (1 + BACKGROUND_BUDGETS) or None,
        )
        self._counters.model_calls += 1
        whole_wanted = state.multiline or ask.alternatives > 0
        shown_after_ms = _show_after_ms(settings, budget_ms, whole_wanted)
        stream = None
        if state.multiline or shown_after_ms:
            stream = FirstLine(asyncio.get_running_loop(), shown_after_ms / 1000 or None)
        submitted = time.perf_counter()
        job = worker.submit(request, stream.feed if stream else None)
        finished = asyncio.ensure_future(run_job(job))
        try:
            if stream is not None:
                if state.multiline and ask.invoked:
                    shown, early = await self._block_within_budget(stream, finished, state)
                else:
                    shown, early = await self._before_the_end(stream, finished, state)
                if early:
                    worker.demote(job, Priority.SPECULATIVE)  # the user has the answer
                    finished.add_done_callback(self._measured)
                    self._complete_in_background(uri, finished, state)
                    self._counters.early_answers += 1
                    trace.record("model, until the early answer", submitted)
                    return ModelAnswer(shown, False)
            result = await finished
            self._counters.tokens_evaluated += result.stats.tokens_evaluated
            self._prompt_rate.observe(result.stats)
            self._decode_rate.observe(result.stats)
            trace.record_engine(submitted, result)
        except asyncio.CancelledError:
            finished.cancel()  # run_job cancels the job
            self._counters.cancelled_calls += 1
            raise
        return self._finished(uri, state, trace, result)

    def _finished(
        self, uri: str, state: CursorState, trace: RequestTrace, result: GenerationResult
    ) -> ModelAnswer:
        """A whole answer's texts to show, post-processed; the best one cached."""
        if result.stop_reason is StopReason.FAILED:
            logger.warning("no suggestion for %s: %s", uri, result.error)
            return NO_ANSWER
        if result.stop_reason is StopReason.CANCELLED:
            self._counters.cancelled_calls += 1
            return NO_ANSWER
        with trace.timed("post-processing"):
            text = finish(result.text, state)
            others = shown_alternatives(result, state, text)
            if text is None and others:  # the best answer was dropped (a copy of the line
                text, others = others[0], others[1:]  # below...): the next best is shown
        if text is not None:
            key = state.cache_key
            self._documents.cache(uri).store(key.prefix, key.suffix, text)
        return ModelAnswer(text, True, others)

    async def _before_the_end(
        self, stream: FirstLine, finished: asyncio.Future[GenerationResult], state: CursorState
    ) -> tuple[str | None, bool]:
        """(what to show, whether to show it now) while the answer streams: a block's first
        line once decoded; after the early-answer or predict budget, the line so far, when it
        passes post-processing (brackets and syntax may still be open). Otherwise the caller
        waits for the whole answer."""
        waited = (stream.ready, stream.early) if state.multiline else (stream.early,)
        await asyncio.wait((*waited, finished), return_when=FIRST_COMPLETED)
        if finished.done():
            return None, False
        if stream.ready.done() and state.multiline:
            return finish(stream.ready.result(), state, multiline=False), True
        partial = finish(stream.early.result(), state, multiline=False, disabled=PARTIAL_SKIPS)
        return partial, partial is not None

    async def _block_within_budget(
        self, stream: FirstLine, finished: asyncio.Future[GenerationResult], state: CursorState
    ) -> tuple[str | None, bool]:
        """An invoked block: (what to show, whether to show it now). Whole when the answer ends
        within the predict budget (the caller waits for it); after the budget, the lines
        complete by then when they pass post-processing as a block, else the first line once
        decoded."""
        await asyncio.wait((stream.early, finished), return_when=FIRST_COMPLETED)
        if finished.done():
            return None, False
        if (block := _lines_so_far(complete_lines(stream.early.result()), state)) is not None:
            return block, True
        await asyncio.wait((stream.ready, finished), return_when=FIRST_COMPLETED)
        if finished.done():
            return None, False
        return finish(stream.ready.result(), state, multiline=False), True

    def pending_for(
        self, uri: str, window: CursorWindow
    ) -> asyncio.Future[GenerationResult] | None:
        """An answer still generating in the background for text ``window`` extends."""
        document = self._documents.get(uri)
        entry = document.background if document is not None else None
        if entry is None or entry[1].done():
            return None
        started_at, pending = entry
        if window.suffix == started_at.suffix and window.prefix.startswith(started_at.prefix):
            return pending
        return None

    def _measured(self, future: asyncio.Future[GenerationResult]) -> None:
        """An early answer's model call, once finished, counts like any other: its evaluated
        tokens and the prompt rate it shows (a cold document's first request is often one)."""
        if future.cancelled() or future.exception() is not None:
            return
        stats = future.result().stats
        self._counters.tokens_evaluated += stats.tokens_evaluated
        self._prompt_rate.observe(stats)
        self._decode_rate.observe(stats)

    def _complete_in_background(
        self, uri: str, finished: asyncio.Future[GenerationResult], state: CursorState
    ) -> None:
        if (document := self._documents.open(uri)) is None:
            return
        document.background = (state.cache_key, finished)
        cache = document.cache

        def store(future: asyncio.Future[GenerationResult]) -> None:
            if document.background is not None and document.background[1] is future:
                document.background = None
            cache_result(future, state, cache)

        finished.add_done_callback(store)


def _lines_so_far(lines: str | None, state: CursorState) -> str | None:
    """The longest start of a block's complete lines, two or more, that passes post-processing
    (the last line may open a bracket or a block the next lines close)."""
    kept = (lines or "").split("\n")
    while len([line for line in kept if line.strip()]) > 1:
        if (block := finish("\n".join(kept), state)) is not None:
            return block
        kept.pop()
    return None


def _show_after_ms(settings: CompletionSettings, budget_ms: int, whole_answer_wanted: bool) -> int:
    """When to show the text so far: the early-answer budget (a one-line answer without
    alternatives only), else the predict budget, so that a slow answer is never thrown away;
    0: wait for the end."""
    early = 0 if whole_answer_wanted else settings.early_answer_ms
    return min((ms for ms in (early, budget_ms) if ms), default=0)


def cache_result(
    future: asyncio.Future[GenerationResult], state: CursorState, cache: SuggestionCache
) -> None:
    """Store a finished background generation's suggestion under the window it was made for."""
    if future.cancelled() or future.exception() is not None:
        return
    result = future.result()
    if result.stop_reason in (StopReason.CANCELLED, StopReason.FAILED):
        return
    text = finish(result.text, state)
    if text is not None:
        cache.store(state.cache_key.prefix, state.cache_key.suffix, text)
