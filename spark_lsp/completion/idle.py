"""Work done while the user pauses, never on a keystroke's path: the next line prefetched as if
the shown suggestion were accepted, the stale cells recomputed, and fresh extra context
evaluated aside. The next keystroke supersedes all of it (lowest priorities, own KV lanes)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace

from spark_lsp.completion.cursor import (
    infill_request,
    natural_boundary,
    next_line_indent,
    quick_state,
)
from spark_lsp.completion.model_call import cache_result
from spark_lsp.completion.prompts import CursorFacts
from spark_lsp.completion.settings import CompletionSettings
from spark_lsp.completion.state import (
    CELL_REFRESH,
    CONTEXT_REFRESH,
    CompletionCounters,
    DocumentRecords,
)
from spark_lsp.context.sources import ExtraChunk
from spark_lsp.documents import DocumentSnapshot, line_content
from spark_lsp.engine import GenerationRequest, Priority, StopReason, TextPrompt
from spark_lsp.engine.base import Lane, cache_key
from spark_lsp.engine.worker import InferenceWorker, run_job

logger = logging.getLogger(__name__)

WorkerFor = Callable[[bool], Awaitable[InferenceWorker | None]]
# A cold document's capped window grows this many times at each warm-up step (see
# ``IdleWork._refresh_context``): each step is adopted as soon as it is warm.
GROWTH_FACTOR = 4


class IdleWork:
    def __init__(
        self,
        worker: WorkerFor,
        current_version: Callable[[str], int | None],
        documents: DocumentRecords,
        facts: CursorFacts,
        counters: CompletionCounters,
        settings: Callable[[], CompletionSettings],
    ) -> None:
        self._worker = worker
        self._current_version = current_version
        self._documents = documents
        self._facts = facts
        self._counters = counters
        self._settings = settings

    def after_answer(
        self,
        worker: InferenceWorker,
        snapshot: DocumentSnapshot,
        line: int,
        column: int,
        shown: tuple[int, str] | None,
    ) -> None:
        """After ``completion.suffixRefreshIdleMs`` without a keystroke: the next line is
        prefetched as if the shown one-line suggestion, (start column, text), were accepted (an
        accept then finds it in the cache), and the engine recomputes the cells it reused from
        older text (lowest priority): the cache converges to the exact state, so keystrokes
        can refresh only a few tokens (engine/reuse.py)."""
        idle_ms = self._settings().suffix_refresh_idle_ms
        if not idle_ms:
            return
        if (document := self._documents.open(snapshot.uri)) is not None:
            work = self._paused(worker, snapshot, line, column, shown, idle_ms)
            document.restart(CELL_REFRESH, work)

    async def _paused(
        self,
        worker: InferenceWorker,
        snapshot: DocumentSnapshot,
        line: int,
        column: int,
        shown: tuple[int, str] | None,
        idle_ms: int,
    ) -> None:
        await asyncio.sleep(idle_ms / 1000)
        if self._current_version(snapshot.uri) != snapshot.version:
            return
        if shown is not None:  # as a warm-up: it must not cancel a context warm-up
            await self.prefetch_after_accept(snapshot, line, column, shown, Priority.WARMUP)
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
        self._counters.cells_refreshed += result.stats.tokens_evaluated

    def refresh_context(self, snapshot: DocumentSnapshot, line: int, column: int) -> None:
        """When the user pauses, offer the document's prompts fresh extra context (recent edits,
        similar snippets, definitions), and grow a cold document's capped window to the whole
        budget: see ``_refresh_context``."""
        context = self._facts.context
        if context is None or context.builder is None:
            return
        if (document := self._documents.open(snapshot.uri)) is not None:
            document.restart(CONTEXT_REFRESH, self._refresh_when_paused(snapshot, line, column))

    def grow_after_edit(self, uri: str, line: int) -> None:
        """An edit in a document whose window is still capped: once the user pauses, grow the
        window around the edited line (without it, only a pause right after an answer grew it,
        and a user who invoked, then typed on, kept the small first window)."""
        document = self._documents.get(uri)
        if document is None or document.cold or document.window_cap is None:
            return
        document.restart(CONTEXT_REFRESH, self._grow_when_paused(uri, line))

    async def _refresh_when_paused(
        self, snapshot: DocumentSnapshot, line: int, column: int
    ) -> None:
        await asyncio.sleep(self._settings().context_refresh_idle_ms / 1000)
        await self._refresh_context(snapshot, line, column)

    async def _grow_when_paused(self, uri: str, line: int) -> None:
        """After the pause, at the end of the edited line of the text as it is then."""
        context = self._facts.context
        assert context is not None
        await asyncio.sleep(self._settings().context_refresh_idle_ms / 1000)
        snapshot = context.snapshot(uri)
        if snapshot is None or not snapshot.lines:
            return
        line = min(line, len(snapshot.lines) - 1)
        await self._refresh_context(snapshot, line, len(line_content(snapshot.lines[line])))

    async def _refresh_context(self, snapshot: DocumentSnapshot, line: int, column: int) -> None:
        """The engine evaluates the new prompt at the lowest priority under a key of its own;
        only once that finished do requests switch to it, so a keystroke never pays for it (a
        keystroke preempts it). A capped window grows GROWTH_FACTOR times at each step, each
        step adopted as soon as it is warm, until it is the whole budget."""
        context = self._facts.context
        assert context is not None
        settings = self._settings()
        # Reading workspace files and scanning open documents can take a few hundred
        # milliseconds in a large workspace: off the event loop.
        candidates = await context.gather(snapshot, line)
        full = context.full_budget(settings.max_new_tokens)
        while self._current_version(snapshot.uri) == snapshot.version:
            document = self._documents.get(snapshot.uri)
            cap = document.window_cap if document is not None else None
            if candidates == context.frozen(snapshot.uri) and cap is None:
                return
            target = cap * GROWTH_FACTOR if cap is not None else None
            target = target if target is not None and target < full else None
            if not await self._warm_up(snapshot, line, column, candidates, target):
                return
            if document is not None:
                document.window_cap = target  # requests use the larger window from now on

    async def _warm_up(
        self,
        snapshot: DocumentSnapshot,
        line: int,
        column: int,
        candidates: tuple[ExtraChunk, ...],
        budget_cap: int | None,
    ) -> bool:
        """Evaluate the prompt with ``candidates`` within ``budget_cap`` aside, then hand its
        cells to the document; whether that finished."""
        context = self._facts.context
        assert context is not None
        worker = await self._worker(True)
        max_new = self._settings().max_new_tokens
        built = context.build(snapshot, line, column, max_new, candidates, budget_cap)
        if worker is None or built is None:
            return False
        window, _ = natural_boundary(
            built.window, quick_state(snapshot.lines, line, column).context
        )
        request = infill_request(
            window,
            built.extra_context,
            self._facts.file_path(snapshot.uri),
            cache_key(snapshot.uri, Lane.WARM_UP),
            max_tokens=1,
            priority=Priority.WARMUP,
            adopt_as=cache_key(snapshot.uri),
        )
        result = await run_job(worker.submit(request))
        if result.stop_reason is StopReason.FAILED:
            logger.info("context warm-up failed for %s: %s", snapshot.uri, result.error)
            return False
        if result.stop_reason is StopReason.CANCELLED:
            return False
        context.freeze(snapshot.uri, candidates)
        self._counters.warmups += 1
        return True

    async def prefetch_after_accept(
        self,
        snapshot: DocumentSnapshot,
        line: int,
        column: int,
        accepted: tuple[int, str],
        priority: Priority = Priority.SPECULATIVE,
    ) -> None:
        """After a one-line suggestion, (start column, text), is accepted at the end of its
        line, compute the next one for the state the user most likely reaches next: Enter
        pressed, indentation kept (one level deeper after an opener). It waits in the cache; a
        keystroke supersedes it."""
        start_column, text = accepted
        if "\n" in text or line_content(snapshot.lines[line])[column:].strip():
            return
        worker = await self._worker(True)  # only a loaded model: a prefetch never waits
        if worker is None:
            return
        lines = list(snapshot.lines)
        content = line_content(lines[line])
        accepted_line = content[:start_column] + text
        indent = next_line_indent(accepted_line)
        ending = lines[line][len(content) :] or "\n"
        lines[line : line + 1] = [accepted_line + ending, indent + lines[line][len(content) :]]
        settings = self._settings()
        document = self._documents.get(snapshot.uri)
        cap = document.window_cap if document is not None else None
        state = self._facts.at(
            snapshot, line + 1, len(indent), settings.max_new_tokens, lines=lines, budget_cap=cap
        )
        cache = self._documents.cache(snapshot.uri)
        if cache.lookup(state.cache_key.prefix, state.cache_key.suffix) is not None:
            return  # prefetched while the user paused
        request = replace(state.request(settings, cache_key(snapshot.uri)), priority=priority)
        finished = asyncio.ensure_future(run_job(worker.submit(request)))
        finished.add_done_callback(lambda done: cache_result(done, state, cache))
