"""From a cursor position to a suggestion: cache, debounce, engine, post-processing.

The pipeline never returns a stale suggestion: a request superseded by a newer one for the same
document gets nothing, and so does one whose document changed while the model worked (its answer
still goes to the cache, where typing through it finds it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from spark_lsp.completion.cache import SuggestionCache
from spark_lsp.completion.postprocess import CursorContext, clean, wants_multiline
from spark_lsp.context.window import cursor_window
from spark_lsp.documents import DocumentSnapshot, line_content
from spark_lsp.engine import GenerationRequest, InfillPrompt, Priority, StopReason
from spark_lsp.engine.worker import InferenceWorker

# llama.vim's rule: with more than this many characters right of the cursor, do not auto-trigger.
MAX_TEXT_AFTER_CURSOR_AUTOMATIC = 8


@dataclass(frozen=True)
class CompletionSettings:
    debounce_ms: int = 40
    max_tokens_line: int = 48
    max_tokens_block: int = 128
    predict_time_budget_ms: int = 2000


@dataclass(frozen=True)
class Suggestion:
    text: str  # replaces [start_column, cursor column) of the line, code points
    start_column: int
    from_cache: bool


class CompletionService:
    def __init__(
        self,
        worker: Callable[[bool], Awaitable[InferenceWorker | None]],
        current_version: Callable[[str], int | None],
        settings: CompletionSettings | None = None,
    ) -> None:
        self._worker = worker
        self._current_version = current_version
        self.settings = settings or CompletionSettings()
        self._caches: dict[str, SuggestionCache] = {}
        self.model_calls = 0

    @property
    def cache_hits(self) -> int:
        return sum(cache.hits for cache in self._caches.values())

    def forget(self, uri: str) -> None:
        self._caches.pop(uri, None)

    async def suggest(
        self,
        snapshot: DocumentSnapshot,
        line: int,
        column: int,
        automatic: bool,
        selected: tuple[int, str] | None = None,
    ) -> Suggestion | None:
        """A suggestion at (line, column) in code points. ``selected`` is a popup item the
        suggestion must extend: (its start column, its text), as if it were already inserted."""
        lines = list(snapshot.lines)
        start_column = column
        if selected is not None:
            start_column, selected_text = selected
            entry = lines[line]
            lines[line] = entry[:start_column] + selected_text + entry[column:]
            column = start_column + len(selected_text)
        content = line_content(lines[line])
        context = CursorContext(
            line_before=content[:column],
            line_after=content[column:],
            next_lines=tuple(line_content(e) for e in lines[line + 1 : line + 4]),
            previous_line=line_content(lines[line - 1]) if line > 0 else "",
        )
        if automatic and len(context.line_after.strip()) > MAX_TEXT_AFTER_CURSOR_AUTOMATIC:
            return None
        window = cursor_window(lines, line, column)
        head = content[start_column:column]  # the selected item's text, if any
        cache = self._caches.setdefault(snapshot.uri, SuggestionCache())
        cached = cache.lookup(window.prefix, window.suffix)
        if cached is not None:
            return Suggestion(head + cached, start_column, from_cache=True)
        worker = await self._worker(automatic)
        if worker is None:
            return None
        if automatic and self.settings.debounce_ms:
            await asyncio.sleep(self.settings.debounce_ms / 1000)
            if self._current_version(snapshot.uri) != snapshot.version:
                return None  # the user kept typing; a newer request will come
        multiline = wants_multiline(context)
        request = GenerationRequest(
            InfillPrompt(window.prefix, window.suffix, file_path=snapshot.uri.rsplit("/", 1)[-1]),
            max_tokens=self.settings.max_tokens_block
            if multiline
            else self.settings.max_tokens_line,
            stop=() if multiline else ("\n",),
            priority=Priority.INTERACTIVE,
            key=snapshot.uri,
            predict_time_budget_ms=self.settings.predict_time_budget_ms,
        )
        self.model_calls += 1
        job = worker.submit(request)
        try:
            result = await asyncio.wrap_future(job.future)
        except asyncio.CancelledError:
            job.cancel("request cancelled")
            raise
        if result.stop_reason is StopReason.CANCELLED:
            return None
        text = clean(result.text, context, multiline)
        if text is None:
            return None
        cache.store(window.prefix, window.suffix, text)
        if self._current_version(snapshot.uri) != snapshot.version:
            return None
        return Suggestion(head + text, start_column, from_cache=False)
