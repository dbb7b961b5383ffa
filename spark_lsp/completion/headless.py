"""The inline-completion service without an editor: the server's own document store, context
service and completion service around an engine, so that ``spark-lsp complete`` and
``bench infill`` answer exactly what an Invoked request over LSP answers (same window, same
block decision, same alternatives, same predict budget, same progressive context on a document
just opened). Run it inside one event loop; ``stop`` ends its worker."""

from __future__ import annotations

import asyncio
from typing import Any

from spark_lsp.completion.service import CompletionService, Suggestion
from spark_lsp.completion.settings import CompletionSettings
from spark_lsp.context.service import ContextService
from spark_lsp.documents import (
    DocumentStore,
    Position,
    PositionEncoding,
    Range,
    TextChange,
    line_content,
)
from spark_lsp.engine import CancelToken, GenerationRequest, GenerationResult
from spark_lsp.engine.base import Engine, TokenCallback, cache_key
from spark_lsp.engine.worker import InferenceWorker

IDLE_POLL_S = 0.05
GENERATION_WAIT_S = 120.0


class RecordingEngine:
    """The engine, keeping each finished generation (what the model wrote before any rule)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.results: list[tuple[GenerationRequest, GenerationResult]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    def generate(
        self, request: GenerationRequest, cancel: CancelToken, on_text: TokenCallback | None = None
    ) -> GenerationResult:
        result = self._engine.generate(request, cancel, on_text)
        self.results.append((request, result))
        return result


class HeadlessCompletion:
    def __init__(self, engine: Engine, settings: CompletionSettings | None = None) -> None:
        self.engine = RecordingEngine(engine)
        self.store = DocumentStore()
        self.worker = InferenceWorker(self.engine)  # type: ignore[arg-type]
        self.context = ContextService(self.store.snapshots, is_open=self.store.__contains__)
        self.context.model_ready(engine, engine.token_counter())
        self.service = CompletionService(
            self._worker_for, self._current_version, settings, self.context
        )
        self._loaded = False
        self._current: str | None = None  # the document ``switch_to`` opened last

    async def _worker_for(self, automatic: bool) -> InferenceWorker:
        return self.worker

    def _current_version(self, uri: str) -> int | None:
        return self.store.document(uri).version if uri in self.store else None

    def open(self, uri: str, language_id: str, text: str) -> None:
        """As didOpen (the first call also measures the prompt rate, as the server does once
        the model has loaded)."""
        if not self._loaded:
            self._loaded = True
            self.service.model_loaded(self.worker)
        self.store.open(uri, language_id, 1, text)
        snapshot = self.store.snapshot(uri)
        self.context.opened(snapshot)
        self.service.opened(snapshot)

    def replace_line(self, uri: str, line: int, text: str) -> None:
        """As a didChange that replaces line ``line``'s content (its terminator kept)."""
        self.replace_lines(uri, line, line + 1, text)

    def replace_lines(self, uri: str, first: int, end: int, text: str) -> None:
        """As a didChange that replaces the content of lines ``first`` to ``end`` (exclusive;
        the last one's terminator kept) with ``text``, which may hold line breaks."""
        document = self.store.document(uri)
        last = line_content(document.snapshot().lines[end - 1])
        change = TextChange(text, Range(Position(first, 0), Position(end - 1, len(last))))
        self.store.change(uri, document.version + 1, [change], PositionEncoding.UTF32)
        last_line = first + text.count("\n")
        self.context.changed(uri, first, last_line)
        self.service.changed(uri, first, last_line)

    def switch_to(self, uri: str, language_id: str, text: str) -> None:
        """The user moves to ``uri``: the document switched to before is closed, this one is
        opened with ``text`` (unless it is the one open already)."""
        if self._current == uri:
            return
        if self._current is not None:
            self.close(self._current)
        self.open(uri, language_id, text)
        self._current = uri

    def close(self, uri: str) -> None:
        self.store.close(uri)
        self.context.closed(uri)
        self.service.closed(uri)

    async def suggest(
        self, uri: str, line: int, column: int, automatic: bool = False
    ) -> Suggestion | None:
        """An Invoked (or ``automatic``) request at (line, column), column in code points."""
        snapshot = self.store.snapshot(uri)
        return await self.service.suggest(snapshot, line, column, automatic=automatic)

    async def generation_behind(
        self, uri: str, since: int, wait_s: float = GENERATION_WAIT_S
    ) -> GenerationResult | None:
        """The model's output behind the newest request on ``uri``: the document's first
        generation recorded after ``since`` results (the worker runs one at a time; a cell
        refresh or a prefetch may follow it). An early answer's generation finishes in the
        background (within the predict budgets): it is waited for, up to ``wait_s``."""
        key = cache_key(uri)
        deadline = asyncio.get_running_loop().time() + wait_s
        while True:
            results = self.engine.results[since:]
            asked = [r for q, r in results if q.key == key and not q.refresh]
            if asked or asyncio.get_running_loop().time() > deadline:
                return asked[0] if asked else None
            await asyncio.sleep(IDLE_POLL_S)

    async def settle(self, limit_s: float) -> None:
        """Wait (up to ``limit_s``) until the document windows are no longer capped: the pause
        a user makes before invoking again, during which progressive context grows."""
        deadline = asyncio.get_running_loop().time() + limit_s
        while self.service.capped_windows and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(IDLE_POLL_S)

    def stop(self) -> None:
        self.service.shutdown()
        self.worker.stop()
