"""From a cursor position to a suggestion: the service's front door (tickets, gating, the
type-through cache), then the model call (``model_call``), and idle work for the pause after it
(``idle``). What it keeps per document is one record (``state``); what one request did is its
own trace (``trace``).

The service never returns a stale suggestion: a request superseded by a newer one for the same
document gets nothing, and so does one whose document changed while the model worked (its answer
still goes to the cache, where typing through it finds it).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from spark_lsp.completion.cursor import QuickState, quick_state
from spark_lsp.completion.decode_rate import DecodeRate
from spark_lsp.completion.idle import IdleWork, WorkerFor
from spark_lsp.completion.model_call import Ask, ModelAnswer, ModelCall
from spark_lsp.completion.prompt_rate import PromptRate
from spark_lsp.completion.prompts import CursorFacts
from spark_lsp.completion.settings import CompletionSettings
from spark_lsp.completion.state import CompletionCounters, DocumentRecords
from spark_lsp.completion.trace import RequestTrace
from spark_lsp.context.service import ContextService
from spark_lsp.documents import DocumentSnapshot
from spark_lsp.engine import GenerationResult, Priority
from spark_lsp.engine.worker import InferenceWorker
from spark_lsp.lifecycle import DocumentHooks

# llama.vim's rule: with more than this many characters right of the cursor, do not auto-trigger.
MAX_TEXT_AFTER_CURSOR_AUTOMATIC = 8


@dataclass(frozen=True)
class Suggestion:
    text: str  # replaces [start_column, cursor column) of the line, code points
    start_column: int
    from_cache: bool
    alternatives: tuple[str, ...] = ()  # other suggestions, distinct, for the same range


class CompletionService(DocumentHooks):
    """Owned by the event loop: its per-document records, caches and counters are read and
    written there only; the inference worker's thread sees requests and returns results."""

    def __init__(
        self,
        worker: WorkerFor,
        current_version: Callable[[str], int | None],
        settings: CompletionSettings | None = None,
        context: ContextService | None = None,
    ) -> None:
        """``worker(automatic)`` gives the inference worker once the model is loaded (an
        automatic request never waits for the load: None); ``current_version(uri)`` is the
        document's version now, or None once it is closed."""
        self._worker = worker
        self._current_version = current_version
        self.settings = settings or CompletionSettings()
        self.context = context
        self.counters = CompletionCounters()
        self.prompt_rate = PromptRate()
        self.decode_rate = DecodeRate()
        self._documents = DocumentRecords(current_version)
        self._facts = CursorFacts(context)
        self._model = ModelCall(
            self._documents,
            self.counters,
            lambda: self.settings,
            self.prompt_rate,
            self.decode_rate,
        )
        self._idle = IdleWork(
            worker,
            current_version,
            self._documents,
            self._facts,
            self.counters,
            lambda: self.settings,
        )
        # The newest finished model-call request's trace (bench latency --lsp).
        self.last_trace = RequestTrace()

    # -- what tests, benchmarks and spark/debug/counters read ----------------------------------

    @property
    def model_calls(self) -> int:
        return self.counters.model_calls

    @property
    def warmups(self) -> int:
        return self.counters.warmups

    @property
    def tokens_evaluated(self) -> int:
        return self.counters.tokens_evaluated

    @property
    def cells_refreshed(self) -> int:
        return self.counters.cells_refreshed

    @property
    def early_answers(self) -> int:
        return self.counters.early_answers

    @property
    def cache_hits(self) -> int:
        return self._documents.cache_hits

    @property
    def capped_windows(self) -> int:
        """Open documents whose prompts are still capped (progressive context, growing)."""
        return self._documents.capped()

    @property
    def last_phases(self) -> dict[str, float]:
        return dict(self.last_trace.phases)

    # -- lifecycle -------------------------------------------------------------------------------

    def model_loaded(self, worker: InferenceWorker) -> None:
        """The model is ready: measure its prompt rate (for cold documents' first windows)."""
        self.prompt_rate.start_probe(worker)

    def changed(self, uri: str, first_line: int, last_line: int) -> None:
        self._idle.grow_after_edit(uri, last_line)

    def closed(self, uri: str) -> None:
        self.forget(uri)

    def forget(self, uri: str) -> None:
        """Drop everything kept for ``uri`` (closed): its record, its work, its cache."""
        self._documents.forget(uri)

    def shutdown(self) -> None:
        self._documents.forget_all()
        self.prompt_rate.stop()

    # -- requests --------------------------------------------------------------------------------

    async def suggest(
        self,
        snapshot: DocumentSnapshot,
        line: int,
        column: int,
        automatic: bool,
        selected: tuple[int, str] | None = None,
    ) -> Suggestion | None:
        """A suggestion at (line, column) in code points; see ``quick_state``. None for a
        private document (see ``context/workspace.py``), and None when a newer request for the
        document arrived before this one was answered (it was superseded)."""
        if (document := self._documents.open(snapshot.uri)) is None:
            return None  # closed: no answer would be shown
        document.arrivals += 1
        ticket = document.arrivals
        suggestion = await self._suggest(snapshot, line, column, automatic, selected)
        current = self._documents.get(snapshot.uri)  # None: closed meanwhile
        if current is document and document.arrivals == ticket:
            return suggestion
        if suggestion is not None:
            self.counters.unshown_answers += 1
        return None

    async def _suggest(
        self,
        snapshot: DocumentSnapshot,
        line: int,
        column: int,
        automatic: bool,
        selected: tuple[int, str] | None,
    ) -> Suggestion | None:
        """``suggest``'s work. Before the debounce a keystroke costs only its quick state and a
        cache lookup; the prompt is built (and the document parsed) only for a request that will
        ask the model."""
        if self.context is not None and not await self.context.prepare(snapshot, line):
            return None
        quick = quick_state(snapshot.lines, line, column, selected)
        if automatic and (
            not self.settings.automatic
            or len(quick.context.line_after.strip()) > MAX_TEXT_AFTER_CURSOR_AUTOMATIC
        ):
            return None
        window = quick.window
        cache = self._documents.cache(snapshot.uri)
        cached = cache.lookup(window.prefix, window.suffix)
        if cached is not None:
            return Suggestion(quick.head + cached, quick.start_column, from_cache=True)
        if (pending := self._model.pending_for(snapshot.uri, window)) is not None:
            waited = await self._from_background(snapshot, quick, pending)
            if waited is not None:
                return waited or None
        worker = await self._worker(automatic)
        if worker is None:
            return None
        trace = RequestTrace()
        with trace.timed("debounce"):
            current = await self._debounced(snapshot, automatic)
        if not current:
            return None  # the user kept typing; a newer request will come
        cap = await self._window_cap(snapshot.uri)
        with trace.timed("prompt build"):
            state = self._facts.at(
                snapshot, line, column, self.settings.max_new_tokens, selected, quick, None, cap
            )
        alternatives = 0 if automatic or state.multiline else self.settings.alternatives
        ask = Ask(alternatives, invoked=not automatic, cold=cap is not None)
        try:
            answer = await self._model.answer(worker, snapshot.uri, state, trace, ask)
        finally:
            self.last_trace = trace
        self._idle.refresh_context(snapshot, line, column)  # and grows a capped window
        return self._shown(worker, snapshot, (line, column), quick, answer)

    def _shown(
        self,
        worker: InferenceWorker,
        snapshot: DocumentSnapshot,
        cursor: tuple[int, int],
        quick: QuickState,
        answer: ModelAnswer,
    ) -> Suggestion | None:
        """The model's answer as the suggestion to show (with its alternatives), and the work
        it leaves for the pause (the next line prefetched once a whole line was shown)."""
        suggestion = self._fresh(snapshot, quick, answer.text)
        shown = (
            (suggestion.start_column, suggestion.text) if suggestion and answer.complete else None
        )
        self._idle.after_answer(worker, snapshot, *cursor, shown)
        if suggestion is None or not answer.alternatives:
            return suggestion
        others = tuple(quick.head + other for other in answer.alternatives)
        return replace(suggestion, alternatives=others)

    async def _from_background(
        self,
        snapshot: DocumentSnapshot,
        quick: QuickState,
        pending: asyncio.Future[GenerationResult],
    ) -> Suggestion | Literal[False] | None:
        """An answer is still generating for text this request extends: wait for it (up to the
        predict budget) rather than superseding it, then serve from the cache. False: it ended
        with nothing for this text; None: still going after a whole budget (the request asks
        anew, superseding it)."""
        budget_ms = self.decode_rate.predict_budget_ms(self.settings.predict_time_budget_ms)
        budget_s = budget_ms / 1000 or None
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(pending), budget_s)
        window = quick.window
        cached = self._documents.cache(snapshot.uri).lookup(window.prefix, window.suffix)
        if cached is not None:
            return self._fresh(snapshot, quick, cached, True) or False
        return False if pending.done() else None

    async def _window_cap(self, uri: str) -> int | None:
        """The prompt budget cap of the document's requests: a cold document's first window is
        what this machine evaluates in about half a second (progressive context); the cap goes
        once a pause has warmed the whole window (``IdleWork.refresh_context``)."""
        document = self._documents.get(uri)
        if document is None:
            return None
        if document.cold:
            document.cold, document.window_cap = False, self.prompt_rate.cold_budget()
        return document.window_cap

    async def _debounced(self, snapshot: DocumentSnapshot, automatic: bool) -> bool:
        """Wait out an automatic request's debounce; False when the document changed meanwhile."""
        if automatic and self.settings.debounce_ms:
            await asyncio.sleep(self.settings.debounce_ms / 1000)
            return self._current_version(snapshot.uri) == snapshot.version
        return True

    async def prefetch_after_accept(
        self,
        snapshot: DocumentSnapshot,
        line: int,
        column: int,
        suggestion: Suggestion,
        priority: Priority = Priority.SPECULATIVE,
    ) -> None:
        """See ``IdleWork.prefetch_after_accept``: the next line, computed into the cache."""
        accepted = (suggestion.start_column, suggestion.text)
        await self._idle.prefetch_after_accept(snapshot, line, column, accepted, priority)

    def _fresh(
        self,
        snapshot: DocumentSnapshot,
        quick: QuickState,
        text: str | None,
        from_cache: bool = False,
    ) -> Suggestion | None:
        """The suggestion, unless the document changed while the model worked (it is stale)."""
        if text is None:
            return None
        if self._current_version(snapshot.uri) != snapshot.version:
            self.counters.unshown_answers += 1
            return None
        return Suggestion(quick.head + text, quick.start_column, from_cache)
