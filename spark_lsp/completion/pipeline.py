"""From a cursor position to a suggestion: cache, debounce, engine, post-processing.

The pipeline never returns a stale suggestion: a request superseded by a newer one for the same
document gets nothing, and so does one whose document changed while the model worked (its answer
still goes to the cache, where typing through it finds it).

Threads: everything here runs on the event loop. Model work runs on the inference worker's
thread and comes back through ``run_job`` (an asyncio future), so its done-callbacks, which
store into the suggestion caches, run on the loop too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from asyncio import FIRST_COMPLETED
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from spark_lsp.completion.cache import SuggestionCache
from spark_lsp.completion.cursor import (
    CursorState,
    PromptWindow,
    QuickState,
    cursor_state,
    finish,
    infill_request,
    natural_boundary,
    next_line_indent,
    quick_state,
)
from spark_lsp.completion.first_line import FirstLine
from spark_lsp.completion.settings import CompletionSettings
from spark_lsp.context.builder import BuiltPrompt
from spark_lsp.context.service import ContextService
from spark_lsp.context.window import CursorWindow
from spark_lsp.documents import DocumentSnapshot, line_content
from spark_lsp.engine import (
    GenerationRequest,
    GenerationResult,
    Priority,
    StopReason,
    TextPrompt,
)
from spark_lsp.engine.base import Lane, cache_key
from spark_lsp.engine.worker import InferenceWorker, run_job

logger = logging.getLogger(__name__)

# llama.vim's rule: with more than this many characters right of the cursor, do not auto-trigger.
MAX_TEXT_AFTER_CURSOR_AUTOMATIC = 8
# Documents whose type-through caches are kept (each at most 250 small entries).
CACHED_DOCUMENTS = 32
# What an early answer (a one-line answer's text so far) skips: its brackets and its syntax
# may still be open; the rest of the line follows into the cache.
PARTIAL_SKIPS = frozenset({"balance_brackets", "syntax_check"})

WorkerFor = Callable[[bool], Awaitable[InferenceWorker | None]]


@dataclass(frozen=True)
class Suggestion:
    text: str  # replaces [start_column, cursor column) of the line, code points
    start_column: int
    from_cache: bool
    alternatives: tuple[str, ...] = ()  # other suggestions, distinct, for the same range


CONTEXT_REFRESH = "context refresh"  # fresh extra context after a pause
CELL_REFRESH = "cell refresh"  # the prefetch and stale cells after a pause


@dataclass
class DocumentState:
    """What the service keeps for one document; ``CompletionService.forget`` drops it whole."""

    # The newest request's number: an older one still at work when a newer one arrives is
    # superseded by it, whichever of the two gets further first.
    arrivals: int = 0
    # A one-line answer still completing after it was shown early, and where it started.
    background: tuple[CursorWindow, asyncio.Future[GenerationResult]] | None = None
    # Work started when the user pauses, by job (CONTEXT_REFRESH, CELL_REFRESH): a newer
    # pause's replaces it.
    idle_work: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    def restart(self, job: str, work: Coroutine[Any, Any, None]) -> None:
        if (previous := self.idle_work.get(job)) is not None:
            previous.cancel()
        self.idle_work[job] = asyncio.ensure_future(work)

    def cancel_work(self) -> None:
        for task in self.idle_work.values():
            task.cancel()


class CompletionService:
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
        # Suggestion caches: the least recently used documents' go beyond CACHED_DOCUMENTS.
        self._caches: OrderedDict[str, SuggestionCache] = OrderedDict()
        self._evicted_hits = 0
        self._documents: dict[str, DocumentState] = {}
        self.model_calls = 0
        self.warmups = 0
        self.tokens_evaluated = 0  # by the model calls of requests (not warm-ups or prefetches)
        self.cells_refreshed = 0  # stale cells recomputed while the user paused
        self.early_answers = 0  # one-line answers shown before they were complete
        # Where the latest model-call request's time went, milliseconds (bench latency --lsp).
        self.last_phases: dict[str, float] = {}

    @property
    def cache_hits(self) -> int:
        return self._evicted_hits + sum(cache.hits for cache in self._caches.values())

    def forget(self, uri: str) -> None:
        """Drop everything kept for ``uri`` (closed): its state, its work, its cache."""
        self._caches.pop(uri, None)
        if (document := self._documents.pop(uri, None)) is not None:
            document.cancel_work()
        if self.context is not None:
            self.context.forget(uri)

    def _open_document(self, uri: str) -> DocumentState | None:
        """The document's record; None once it is closed (nothing may be kept for it)."""
        if self._current_version(uri) is None:
            return None
        return self._documents.setdefault(uri, DocumentState())

    def _cache(self, uri: str) -> SuggestionCache:
        """The document's cache; the caches of the least recently used documents go beyond
        CACHED_DOCUMENTS. A closed document's is a detached one (kept nowhere)."""
        if self._current_version(uri) is None:
            return SuggestionCache()
        cache = self._caches.pop(uri, None)
        if cache is None:
            cache = SuggestionCache()
        self._caches[uri] = cache
        while len(self._caches) > CACHED_DOCUMENTS:
            evicted = next(iter(self._caches))
            self._evicted_hits += self._caches.pop(evicted).hits
        return cache

    def _prompt_window(
        self, snapshot: DocumentSnapshot, lines_changed: bool = False
    ) -> PromptWindow | None:
        """Builds prompts with the context service; ``lines_changed``: the lines it will get
        differ from the snapshot's (a popup item inserted, a prefetch's next line)."""
        context = self.context
        if context is None:
            return None
        max_new = self.settings.max_new_tokens

        def build(lines: Sequence[str], line: int, column: int) -> BuiltPrompt | None:
            if lines_changed:
                snapshot_ = DocumentSnapshot(
                    snapshot.uri, snapshot.language_id, snapshot.version, tuple(lines)
                )
            else:
                snapshot_ = snapshot
            return context.build(snapshot_, line, column, max_new)

        return build

    def _file_path(self, uri: str) -> str:
        return self.context.display_path(uri) if self.context else uri.rsplit("/", 1)[-1]

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
        if (document := self._open_document(snapshot.uri)) is None:
            return None  # closed: no answer would be shown
        document.arrivals += 1
        ticket = document.arrivals
        suggestion = await self._suggest(snapshot, line, column, automatic, selected)
        current = self._documents.get(snapshot.uri)  # None: closed meanwhile
        return suggestion if current is document and document.arrivals == ticket else None

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
        cache = self._cache(snapshot.uri)
        cached = cache.lookup(window.prefix, window.suffix)
        if cached is not None:
            return Suggestion(quick.head + cached, quick.start_column, from_cache=True)
        if (pending := self._continuation_for(snapshot.uri, window)) is not None:
            # A block is still generating for text this request extends: wait for it rather
            # than superseding it, then serve from the cache.
            with contextlib.suppress(Exception):
                await asyncio.shield(pending)
            cached = cache.lookup(window.prefix, window.suffix)
            return None if cached is None else self._fresh(snapshot, quick, cached, True)
        worker = await self._worker(automatic)
        if worker is None:
            return None
        if not await self._debounced(snapshot, automatic):
            return None  # the user kept typing; a newer request will come
        building = time.perf_counter()
        state = cursor_state(
            snapshot.lines,
            line,
            column,
            selected,
            snapshot.language_id,
            self._prompt_window(snapshot, lines_changed=selected is not None),
            quick,
        )
        self.last_phases["prompt build"] = _ms(building, time.perf_counter())
        alternatives = 0 if automatic or state.multiline else self.settings.alternatives
        text, complete, others = await self._generate(worker, snapshot, state, alternatives)
        if complete:
            self._refresh_context_when_idle(snapshot, line, column)
        suggestion = self._fresh(snapshot, quick, text)
        self._when_paused(worker, snapshot, (line, column, suggestion if complete else None))
        if suggestion is None or not others:
            return suggestion
        return replace(suggestion, alternatives=tuple(quick.head + other for other in others))

    async def _debounced(self, snapshot: DocumentSnapshot, automatic: bool) -> bool:
        """Wait out an automatic request's debounce; False when the document changed meanwhile.
        Starts the request's phase record."""
        began = time.perf_counter()
        current = True
        if automatic and self.settings.debounce_ms:
            await asyncio.sleep(self.settings.debounce_ms / 1000)
            current = self._current_version(snapshot.uri) == snapshot.version
        self.last_phases = {"debounce": _ms(began, time.perf_counter())}
        return current

    async def _generate(
        self,
        worker: InferenceWorker,
        snapshot: DocumentSnapshot,
        state: CursorState,
        alternatives: int = 0,
    ) -> tuple[str | None, bool, tuple[str, ...]]:
        """The model's suggestion for ``state``, whether the model finished its answer, and up
        to ``alternatives`` other suggestions (distinct, post-processed). A block answers with
        its first line as soon as it is decoded; the rest keeps generating in the background
        and lands in the cache."""
        language = snapshot.language_id
        request = replace(
            state.request(self.settings, cache_key(snapshot.uri), self._file_path(snapshot.uri)),
            alternatives=alternatives,
        )
        self.model_calls += 1
        early_ms = 0 if state.multiline or alternatives else self.settings.early_answer_ms
        stream = None
        if state.multiline or early_ms:
            stream = FirstLine(asyncio.get_running_loop(), early_ms / 1000 or None)
        submitted = time.perf_counter()
        job = worker.submit(request, stream.feed if stream else None)
        finished = asyncio.ensure_future(run_job(job))
        try:
            if stream is not None:
                shown, early = await self._before_the_end(stream, finished, state, language)
                if early:
                    self._complete_in_background(snapshot.uri, finished, state, language)
                    self.early_answers += 1
                    self.last_phases["model, until the early answer"] = _ms(
                        submitted, time.perf_counter()
                    )
                    return shown, False, ()
            result = await finished
            self.tokens_evaluated += result.stats.tokens_evaluated
            self._record_engine_phases(submitted, result)
        except asyncio.CancelledError:
            finished.cancel()  # run_job cancels the job
            raise
        if result.stop_reason is StopReason.FAILED:
            logger.warning("no suggestion for %s: %s", snapshot.uri, result.error)
            return None, False, ()
        if result.stop_reason is StopReason.CANCELLED:
            return None, False, ()
        finishing = time.perf_counter()
        text = finish(result.text, state, language, state.multiline)
        self.last_phases["post-processing"] = _ms(finishing, time.perf_counter())
        if text is not None:
            key = state.cache_key
            self._cache(snapshot.uri).store(key.prefix, key.suffix, text)
        others: list[str] = []
        for raw in result.alternatives:
            other = finish(raw, state, language, state.multiline)
            if other is not None and other != text and other not in others:
                others.append(other)
        return text, True, tuple(others)

    def _record_engine_phases(self, submitted: float, result: GenerationResult) -> None:
        """The model call's share of the request's phases: the engine's own, and the wait for
        the worker (queue and thread hand-offs) as the rest."""
        engine = {f"engine: {name}": ms for name, ms in result.stats.phases().items()}
        waited = _ms(submitted, time.perf_counter()) - result.stats.total_ms
        self.last_phases.update(engine, **{"worker queue and hand-off": max(0.0, waited)})

    async def _before_the_end(
        self,
        stream: FirstLine,
        finished: asyncio.Future[GenerationResult],
        state: CursorState,
        language: str,
    ) -> tuple[str | None, bool]:
        """(what to show, whether to show it now) while the answer streams: a block's first
        line once decoded; a one-line answer's text so far after the early-answer budget, when
        it passes post-processing (brackets and syntax may still be open). Otherwise the caller
        waits for the whole answer."""
        if state.multiline:
            await asyncio.wait((stream.ready, finished), return_when=FIRST_COMPLETED)
            if finished.done():
                return None, False
            return finish(stream.ready.result(), state, language, False), True
        await asyncio.wait((stream.early, finished), return_when=FIRST_COMPLETED)
        if finished.done():
            return None, False
        partial = finish(stream.early.result(), state, language, False, PARTIAL_SKIPS)
        return partial, partial is not None

    def _when_paused(
        self,
        worker: InferenceWorker,
        snapshot: DocumentSnapshot,
        shown: tuple[int, int, Suggestion | None],
    ) -> None:
        """After ``completion.suffixRefreshIdleMs`` without a keystroke: the next line is
        prefetched as if the shown one-line suggestion were accepted (an accept then finds it
        in the cache), and the engine recomputes the cells it reused from older text (lowest
        priority): the cache converges to the exact state, so keystrokes can refresh only a
        few tokens (engine/reuse.py). The next keystroke supersedes both."""
        idle_ms = self.settings.suffix_refresh_idle_ms
        if not idle_ms:
            return
        if (document := self._open_document(snapshot.uri)) is not None:
            document.restart(CELL_REFRESH, self._paused(worker, snapshot, shown, idle_ms))

    async def _paused(
        self,
        worker: InferenceWorker,
        snapshot: DocumentSnapshot,
        shown: tuple[int, int, Suggestion | None],
        idle_ms: int,
    ) -> None:
        await asyncio.sleep(idle_ms / 1000)
        if self._current_version(snapshot.uri) != snapshot.version:
            return
        line, column, suggestion = shown
        if suggestion is not None:  # as a warm-up: it must not cancel a context warm-up
            await self.prefetch_after_accept(snapshot, line, column, suggestion, Priority.WARMUP)
        if not worker.engine.capabilities.refreshes_cells:
            return
        request = GenerationRequest(
            TextPrompt(""),
            max_tokens=0,
            priority=Priority.WARMUP,
            key=cache_key(snapshot.uri),
            supersedes=False,
            refresh=True,
        )
        result = await run_job(worker.submit(request))
        self.cells_refreshed += result.stats.tokens_evaluated

    def _refresh_context_when_idle(
        self, snapshot: DocumentSnapshot, line: int, column: int
    ) -> None:
        if self.context is None or self.context.builder is None:
            return
        if (document := self._open_document(snapshot.uri)) is not None:
            document.restart(CONTEXT_REFRESH, self._refresh_context(snapshot, line, column))

    async def _refresh_context(self, snapshot: DocumentSnapshot, line: int, column: int) -> None:
        """When the user pauses, offer the document's prompts fresh extra context (recent edits,
        similar snippets, definitions). The engine evaluates the new prompt at the lowest
        priority under a key of its own; only once that finished do requests switch to it, so
        a keystroke never pays for it (a keystroke preempts it)."""
        context = self.context
        assert context is not None
        await asyncio.sleep(self.settings.context_refresh_idle_ms / 1000)
        if self._current_version(snapshot.uri) != snapshot.version:
            return
        # Reading workspace files and scanning open documents can take a few hundred
        # milliseconds in a large workspace: off the event loop.
        candidates = await context.gather(snapshot, line)
        if candidates == context.frozen(snapshot.uri):
            return
        worker = await self._worker(True)
        built = context.build(snapshot, line, column, self.settings.max_new_tokens, candidates)
        if worker is None or built is None:
            return
        window, _ = natural_boundary(
            built.window, quick_state(snapshot.lines, line, column).context
        )
        request = infill_request(
            window,
            built.extra_context,
            self._file_path(snapshot.uri),
            cache_key(snapshot.uri, Lane.WARM_UP),
            max_tokens=1,
            priority=Priority.WARMUP,
            adopt_as=cache_key(snapshot.uri),
        )
        result = await run_job(worker.submit(request))
        if result.stop_reason is StopReason.FAILED:
            logger.info("context warm-up failed for %s: %s", snapshot.uri, result.error)
        elif result.stop_reason is not StopReason.CANCELLED:
            context.freeze(snapshot.uri, candidates)
            self.warmups += 1

    async def prefetch_after_accept(
        self,
        snapshot: DocumentSnapshot,
        line: int,
        column: int,
        suggestion: Suggestion,
        priority: Priority = Priority.SPECULATIVE,
    ) -> None:
        """After a one-line suggestion is accepted at the end of its line, compute the next one
        for the state the user most likely reaches next: Enter pressed, indentation kept (one
        level deeper after an opener). It waits in the cache; a keystroke supersedes it."""
        if "\n" in suggestion.text or line_content(snapshot.lines[line])[column:].strip():
            return
        worker = await self._worker(True)  # only a loaded model: a prefetch never waits
        if worker is None:
            return
        lines = list(snapshot.lines)
        content = line_content(lines[line])
        accepted = content[: suggestion.start_column] + suggestion.text
        indent = next_line_indent(accepted)
        ending = lines[line][len(content) :] or "\n"
        lines[line : line + 1] = [accepted + ending, indent + lines[line][len(content) :]]
        state = cursor_state(
            lines,
            line + 1,
            len(indent),
            language_id=snapshot.language_id,
            prompt_window=self._prompt_window(snapshot, lines_changed=True),
        )
        cache = self._cache(snapshot.uri)
        if cache.lookup(state.cache_key.prefix, state.cache_key.suffix) is not None:
            return  # prefetched while the user paused
        request = replace(
            state.request(self.settings, cache_key(snapshot.uri), self._file_path(snapshot.uri)),
            priority=priority,
        )
        finished = asyncio.ensure_future(run_job(worker.submit(request)))
        finished.add_done_callback(
            lambda done: _cache_result(done, state, snapshot.language_id, cache)
        )

    def _fresh(
        self,
        snapshot: DocumentSnapshot,
        state: CursorState | QuickState,
        text: str | None,
        from_cache: bool = False,
    ) -> Suggestion | None:
        """The suggestion, unless the document changed while the model worked (it is stale)."""
        if text is None or self._current_version(snapshot.uri) != snapshot.version:
            return None
        return Suggestion(state.head + text, state.start_column, from_cache)

    def _continuation_for(
        self, uri: str, window: CursorWindow
    ) -> asyncio.Future[GenerationResult] | None:
        document = self._documents.get(uri)
        entry = document.background if document is not None else None
        if entry is None or entry[1].done():
            return None
        started_at, pending = entry
        if window.suffix == started_at.suffix and window.prefix.startswith(started_at.prefix):
            return pending
        return None

    def _complete_in_background(
        self,
        uri: str,
        finished: asyncio.Future[GenerationResult],
        state: CursorState,
        language: str,
    ) -> None:
        if (document := self._open_document(uri)) is None:
            return
        document.background = (state.cache_key, finished)
        cache = self._cache(uri)

        def store(future: asyncio.Future[GenerationResult]) -> None:
            if document.background is not None and document.background[1] is future:
                document.background = None
            _cache_result(future, state, language, cache)

        finished.add_done_callback(store)


def _cache_result(
    future: asyncio.Future[GenerationResult],
    state: CursorState,
    language_id: str,
    cache: SuggestionCache,
) -> None:
    """Store a finished background generation's suggestion under the window it was made for."""
    if future.cancelled() or future.exception() is not None:
        return
    result = future.result()
    if result.stop_reason in (StopReason.CANCELLED, StopReason.FAILED):
        return
    text = finish(result.text, state, language_id, state.multiline)
    if text is not None:
        cache.store(state.cache_key.prefix, state.cache_key.suffix, text)


def _ms(start: float, end: float) -> float:
    return round((end - start) * 1000, 3)
