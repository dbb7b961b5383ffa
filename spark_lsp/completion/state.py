"""What the completion service keeps per document, as one record, and the service's counters.

A record exists only while its document is open: ``DocumentRecords.forget`` drops it whole
(arrival count, background answer, idle work, type-through cache), and a request that finishes
after the close finds no record and keeps nothing.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from spark_lsp.completion.cache import SuggestionCache
from spark_lsp.context.window import CursorWindow
from spark_lsp.engine import GenerationResult

# Documents whose type-through caches are kept (each at most 250 small entries).
CACHED_DOCUMENTS = 32

CONTEXT_REFRESH = "context refresh"  # fresh extra context after a pause
CELL_REFRESH = "cell refresh"  # the prefetch and stale cells after a pause


@dataclass
class DocumentState:
    """Everything the service keeps for one open document."""

    # The newest request's number: an older one still at work when a newer one arrives is
    # superseded by it, whichever of the two gets further first.
    arrivals: int = 0
    # A one-line answer still completing after it was shown early, and where it started.
    background: tuple[CursorWindow, asyncio.Future[GenerationResult]] | None = None
    # Work started when the user pauses, by job (CONTEXT_REFRESH, CELL_REFRESH): a newer
    # pause's replaces it.
    idle_work: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    cache: SuggestionCache = field(default_factory=SuggestionCache)
    # Progressive context: until its first request, the document is cold (its cells are not
    # in the engine's cache); that request's prompt is capped at ``window_cap`` tokens (what
    # the machine evaluates in about half a second), and the cap goes (None) once a pause
    # has warmed the whole window in the background.
    cold: bool = True
    window_cap: int | None = None

    def restart(self, job: str, work: Coroutine[Any, Any, None]) -> None:
        if (previous := self.idle_work.get(job)) is not None:
            previous.cancel()
        self.idle_work[job] = asyncio.ensure_future(work)

    def cancel_work(self) -> None:
        for task in self.idle_work.values():
            task.cancel()


class DocumentRecords:
    """The open documents' records, most recently used last; only the CACHED_DOCUMENTS most
    recently used keep a type-through cache."""

    def __init__(self, current_version: Callable[[str], int | None]) -> None:
        """``current_version(uri)``: the document's version now, None once it is closed."""
        self._current_version = current_version
        self._records: OrderedDict[str, DocumentState] = OrderedDict()
        self._evicted_hits = 0

    def __contains__(self, uri: str) -> bool:
        return uri in self._records

    def get(self, uri: str) -> DocumentState | None:
        """The record as it is, without creating one (None: closed or never used)."""
        return self._records.get(uri)

    def open(self, uri: str) -> DocumentState | None:
        """The document's record, now the most recently used; None once it is closed (nothing
        may be kept for it)."""
        if self._current_version(uri) is None:
            return None
        record = self._records.pop(uri, None) or DocumentState()
        self._records[uri] = record
        if len(self._records) <= CACHED_DOCUMENTS:
            return record
        cached = [r for r in self._records.values() if len(r.cache)]
        for oldest in cached[: max(0, len(cached) - CACHED_DOCUMENTS)]:
            self._evicted_hits += oldest.cache.hits
            oldest.cache = SuggestionCache()
        return record

    def cache(self, uri: str) -> SuggestionCache:
        """The document's cache; a closed document's is a detached one (kept nowhere)."""
        record = self.open(uri)
        return record.cache if record is not None else SuggestionCache()

    def forget(self, uri: str) -> None:
        if (record := self._records.pop(uri, None)) is not None:
            self._evicted_hits += record.cache.hits
            record.cancel_work()

    def capped(self) -> int:
        return sum(record.window_cap is not None for record in self._records.values())

    def forget_all(self) -> None:
        for uri in list(self._records):
            self.forget(uri)

    @property
    def cache_hits(self) -> int:
        return self._evicted_hits + sum(record.cache.hits for record in self._records.values())


@dataclass
class CompletionCounters:
    """What the service did, for ``spark/debug/counters``, tests and benchmarks."""

    model_calls: int = 0
    warmups: int = 0  # context warm-ups that finished
    tokens_evaluated: int = 0  # by the model calls of requests (not warm-ups or prefetches)
    cells_refreshed: int = 0  # stale cells recomputed while the user paused
    early_answers: int = 0  # one-line answers shown before they were complete
    cancelled_calls: int = 0  # model calls stopped before their answer (a newer keystroke)
    unshown_answers: int = 0  # answers that came too late: superseded or for an older text
