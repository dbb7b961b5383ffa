"""From a cursor position to a suggestion: cache, debounce, engine, post-processing.

The pipeline never returns a stale suggestion: a request superseded by a newer one for the same
document gets nothing, and so does one whose document changed while the model worked (its answer
still goes to the cache, where typing through it finds it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from asyncio import FIRST_COMPLETED
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from typing import Literal

from spark_lsp.completion.cache import SuggestionCache
from spark_lsp.completion.postprocess import (
    BLOCK_OPENERS,
    LEADING_BLANK_LINES,
    CursorContext,
    clean,
    wants_multiline,
)
from spark_lsp.completion.syntax import keeps_syntax, starts_empty_block
from spark_lsp.context.builder import BuiltPrompt
from spark_lsp.context.service import ContextService
from spark_lsp.context.window import CursorWindow, cursor_window
from spark_lsp.documents import DocumentSnapshot, line_content
from spark_lsp.engine import (
    EngineError,
    GenerationRequest,
    GenerationResult,
    InfillPrompt,
    Priority,
    StopReason,
)
from spark_lsp.engine.worker import InferenceWorker
from spark_lsp.settings import setting

logger = logging.getLogger(__name__)

# llama.vim's rule: with more than this many characters right of the cursor, do not auto-trigger.
MAX_TEXT_AFTER_CURSOR_AUTOMATIC = 8
LOCAL_LINES_ABOVE = 300
LOCAL_LINES_BELOW = 100


FALLBACK_SORTS = ("last", "first")


@dataclass(frozen=True)
class CompletionSettings:
    automatic: bool = setting(True, "suggest while typing (invoked requests always work)")
    debounce_ms: int = setting(40, "wait after a keystroke before asking the model", 0, 2000)
    max_tokens_line: int = setting(64, "token limit of a one-line suggestion", 1, 512)
    max_tokens_block: int = setting(128, "token limit of a multi-line suggestion", 1, 2048)
    predict_time_budget_ms: int = setting(
        2000, "stop generating after this long (0: no limit)", 0, 60000
    )
    fallback_sort: Literal["last", "first"] = setting(
        "last", "textDocument/completion items: after (last) or before (first) the others"
    )
    context_refresh_idle_ms: int = setting(
        1000, "pause after which extra context is refreshed and warmed", 100, 60000
    )


@dataclass(frozen=True)
class CursorState:
    """Everything the pipeline derives from the text and the cursor, before any model call."""

    context: CursorContext
    window: CursorWindow
    multiline: bool
    start_column: int  # where the suggestion's range starts (a selected popup item's start)
    head: str  # the selected popup item's text, which the suggestion extends
    extra_context: tuple[tuple[str, str], ...] = ()

    def request(self, settings: CompletionSettings, key: str, file_path: str) -> GenerationRequest:
        return GenerationRequest(
            InfillPrompt(
                self.window.prefix, self.window.suffix, file_path, extra_context=self.extra_context
            ),
            max_tokens=settings.max_tokens_block if self.multiline else settings.max_tokens_line,
            stop=() if self.multiline else ("\n",),
            stop_after_text=self.context.on_blank_line,
            priority=Priority.INTERACTIVE,
            key=key,
            predict_time_budget_ms=settings.predict_time_budget_ms,
        )


PromptWindow = Callable[[Sequence[str], int, int], BuiltPrompt | None]


def cursor_state(
    lines: Sequence[str],
    line: int,
    column: int,
    selected: tuple[int, str] | None = None,
    language_id: str = "",
    prompt_window: PromptWindow | None = None,
) -> CursorState:
    """``lines`` keep their terminators; columns count code points. ``selected`` is a popup
    item the suggestion must extend: (its start column, its text), as if already inserted.
    ``language_id`` picks the grammar that decides between one line and a block.
    ``prompt_window`` builds the prompt's text and extra context (default: the plain window)."""
    lines = list(lines)
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
        previous_line=_previous_code_line(lines, line),
    )
    built = prompt_window(lines, line, column) if prompt_window is not None else None
    window = built.window if built is not None else cursor_window(lines, line, column)
    empty_block = (
        starts_empty_block(language_id, *local_text(window)) if context.on_blank_line else None
    )
    return CursorState(
        context,
        window,
        wants_multiline(context, empty_block),
        start_column,
        content[start_column:column],
        built.extra_context if built is not None else (),
    )


def local_text(window: CursorWindow) -> tuple[str, str]:
    """The window's text near the cursor, for syntax checks (a budget of 128k tokens can put
    whole files in the window; parsing them per keystroke would cost tens of milliseconds)."""
    prefix, suffix = window.prefix, window.suffix
    start = len(prefix)
    for _ in range(LOCAL_LINES_ABOVE):
        start = prefix.rfind("\n", 0, start)
        if start < 0:
            break
    end = -1
    for _ in range(LOCAL_LINES_BELOW):
        end = suffix.find("\n", end + 1)
        if end < 0:
            break
    return prefix[start + 1 :], suffix if end < 0 else suffix[: end + 1]


def _previous_code_line(lines: Sequence[str], line: int, limit: int = 16) -> str:
    for index in range(line - 1, max(-1, line - 1 - limit), -1):
        if (content := line_content(lines[index])).strip():
            return content
    return ""


def next_line_indent(line: str) -> str:
    """The indentation an editor gives the line after ``line``: the same, one level deeper after
    a block opener (a tab when the line is indented with tabs, else four spaces)."""
    indent = line[: len(line) - len(line.lstrip())]
    if line.rstrip().endswith(BLOCK_OPENERS):
        indent += "\t" if indent.startswith("\t") else "    "
    return indent


def finish(
    raw: str,
    state: CursorState,
    language_id: str,
    multiline: bool,
    disabled: frozenset[str] = frozenset(),
) -> str | None:
    """The text to show for raw model output, or None: the rules of ``postprocess``, then the
    syntax check (a suggestion may not add syntax errors around the cursor). ``disabled`` names
    rules to skip, ``"syntax_check"`` included."""
    text = clean(raw, state.context, multiline, disabled)
    if text is None:
        return None
    prefix, suffix = local_text(state.window)
    if "syntax_check" not in disabled and not keeps_syntax(language_id, prefix, text, suffix):
        return None
    return text


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
        context: ContextService | None = None,
    ) -> None:
        self._worker = worker
        self._current_version = current_version
        self.settings = settings or CompletionSettings()
        self.context = context
        self._caches: dict[str, SuggestionCache] = {}
        self._background: dict[str, tuple[CursorWindow, asyncio.Future[GenerationResult]]] = {}
        self._refreshes: dict[str, asyncio.Task[None]] = {}
        self.model_calls = 0
        self.warmups = 0

    @property
    def cache_hits(self) -> int:
        return sum(cache.hits for cache in self._caches.values())

    def forget(self, uri: str) -> None:
        self._caches.pop(uri, None)
        if (task := self._refreshes.pop(uri, None)) is not None:
            task.cancel()
        if self.context is not None:
            self.context.forget(uri)

    def _prompt_window(
        self, snapshot: DocumentSnapshot, lines_changed: bool = False
    ) -> PromptWindow | None:
        """Builds prompts with the context service; ``lines_changed``: the lines it will get
        differ from the snapshot's (a popup item inserted, a prefetch's next line)."""
        context = self.context
        if context is None:
            return None
        max_new = max(self.settings.max_tokens_line, self.settings.max_tokens_block)

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
        """A suggestion at (line, column) in code points; see ``cursor_state``."""
        state = cursor_state(
            snapshot.lines,
            line,
            column,
            selected,
            snapshot.language_id,
            self._prompt_window(snapshot, lines_changed=selected is not None),
        )
        context, window = state.context, state.window
        if automatic and (
            not self.settings.automatic
            or len(context.line_after.strip()) > MAX_TEXT_AFTER_CURSOR_AUTOMATIC
        ):
            return None
        cache = self._caches.setdefault(snapshot.uri, SuggestionCache())
        cached = cache.lookup(window.prefix, window.suffix)
        if cached is not None:
            return Suggestion(state.head + cached, state.start_column, from_cache=True)
        if (pending := self._continuation_for(snapshot.uri, window)) is not None:
            # A block is still generating for text this request extends: wait for it rather
            # than superseding it, then serve from the cache.
            with contextlib.suppress(Exception):
                await asyncio.shield(pending)
            cached = cache.lookup(window.prefix, window.suffix)
            if cached is None:
                return None
            return self._fresh(snapshot, state, cached, from_cache=True)
        worker = await self._worker(automatic)
        if worker is None:
            return None
        if automatic and self.settings.debounce_ms:
            await asyncio.sleep(self.settings.debounce_ms / 1000)
            if self._current_version(snapshot.uri) != snapshot.version:
                return None  # the user kept typing; a newer request will come
        language = snapshot.language_id
        request = state.request(self.settings, snapshot.uri, self._file_path(snapshot.uri))
        self.model_calls += 1
        first_line = FirstLine(asyncio.get_running_loop()) if state.multiline else None
        job = worker.submit(request, first_line.feed if first_line else None)
        finished = asyncio.wrap_future(job.future)
        try:
            if first_line is not None:
                # A block answers with its first line as soon as it is decoded; the rest keeps
                # generating in the background and lands in the cache for the next request.
                await asyncio.wait((first_line.ready, finished), return_when=FIRST_COMPLETED)
                if not finished.done():
                    self._complete_in_background(snapshot.uri, finished, state, language, cache)
                    line_text = finish(first_line.ready.result(), state, language, multiline=False)
                    return self._fresh(snapshot, state, line_text)
            result = await finished
        except asyncio.CancelledError:
            job.cancel("request cancelled")
            raise
        except EngineError as error:
            logger.warning("no suggestion for %s: %s", snapshot.uri, error)
            return None
        if result.stop_reason is StopReason.CANCELLED:
            return None
        self._refresh_context_when_idle(snapshot, line, column)
        text = finish(result.text, state, language, state.multiline)
        if text is not None:
            cache.store(window.prefix, window.suffix, text)
        return self._fresh(snapshot, state, text)

    def _refresh_context_when_idle(
        self, snapshot: DocumentSnapshot, line: int, column: int
    ) -> None:
        if self.context is None or self.context.builder is None:
            return
        if (previous := self._refreshes.get(snapshot.uri)) is not None:
            previous.cancel()
        task = asyncio.ensure_future(self._refresh_context(snapshot, line, column))
        self._refreshes[snapshot.uri] = task

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
        candidates = await asyncio.to_thread(context.candidates, snapshot, line)
        if candidates == context.frozen(snapshot.uri):
            return
        worker = await self._worker(True)
        max_new = max(self.settings.max_tokens_line, self.settings.max_tokens_block)
        built = context.build(snapshot, line, column, max_new, extra=candidates)
        if worker is None or built is None:
            return
        request = GenerationRequest(
            InfillPrompt(
                built.window.prefix,
                built.window.suffix,
                self._file_path(snapshot.uri),
                extra_context=built.extra_context,
            ),
            max_tokens=1,
            priority=Priority.WARMUP,
            key=snapshot.uri + "#warm-up",
            adopt_as=snapshot.uri,
        )
        job = worker.submit(request)
        try:
            result = await asyncio.wrap_future(job.future)
        except asyncio.CancelledError:
            job.cancel("warm-up cancelled")
            raise
        except EngineError as error:
            logger.info("context warm-up failed for %s: %s", snapshot.uri, error)
            return
        if result.stop_reason is not StopReason.CANCELLED:
            context.freeze(snapshot.uri, candidates)
            self.warmups += 1

    async def prefetch_after_accept(
        self, snapshot: DocumentSnapshot, line: int, column: int, suggestion: Suggestion
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
        request = replace(
            state.request(self.settings, snapshot.uri, self._file_path(snapshot.uri)),
            priority=Priority.SPECULATIVE,
        )
        job = worker.submit(request)
        cache = self._caches.setdefault(snapshot.uri, SuggestionCache())

        job.future.add_done_callback(
            lambda future: _cache_result(future, state, snapshot.language_id, cache)
        )

    def _fresh(
        self,
        snapshot: DocumentSnapshot,
        state: CursorState,
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
        entry = self._background.get(uri)
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
        cache: SuggestionCache,
    ) -> None:
        self._background[uri] = (state.window, finished)

        def store(future: asyncio.Future[GenerationResult]) -> None:
            if self._background.get(uri, (None, None))[1] is future:
                del self._background[uri]
            _cache_result(future, state, language, cache)

        finished.add_done_callback(store)


def _cache_result(
    future: Future[GenerationResult] | asyncio.Future[GenerationResult],
    state: CursorState,
    language_id: str,
    cache: SuggestionCache,
) -> None:
    """Store a finished background generation's suggestion under the window it was made for."""
    if future.cancelled() or future.exception() is not None:
        return
    result = future.result()
    if result.stop_reason is StopReason.CANCELLED:
        return
    text = finish(result.text, state, language_id, state.multiline)
    if text is not None:
        cache.store(state.window.prefix, state.window.suffix, text)


class FirstLine:
    """Collects streamed text from the worker thread; ``ready`` resolves with the text up to the
    end of the first non-blank line once its newline arrives."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._text = ""
        self.ready: asyncio.Future[str] = loop.create_future()

    def feed(self, piece: str) -> None:
        self._text += piece
        blank = LEADING_BLANK_LINES.match(self._text)
        start = blank.end() if blank else 0
        end = self._text.find("\n", start)
        if end >= 0 and self._text[start:end].strip() and not self._loop.is_closed():
            line = self._text[:end]  # blank lines before it kept: post-processing handles them
            with contextlib.suppress(RuntimeError):  # the loop closed in between: nobody waits
                self._loop.call_soon_threadsafe(self._resolve, line)

    def _resolve(self, line: str) -> None:
        if not self.ready.done():
            self.ready.set_result(line)
