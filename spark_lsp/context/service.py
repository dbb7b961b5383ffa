"""Chooses each document's extra context and builds prompts within the budget.

The extra chunks a document's prompts carry are frozen between refreshes: recomputing them per
keystroke would change the prompt's head and throw away the KV cache behind it. A refresh (when
the user is idle, see ``CompletionService``) computes new candidates; they replace the frozen ones
only once the engine has evaluated a prompt with them (warm-up), so the next keystroke finds them
cached.

Everything that touches the disk (which files are private, workspace definitions, the documents'
real paths) runs on a worker thread: ``prepare`` does it before a document's first prompt and
keeps the answers, which the event loop then reads.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from spark_lsp.context import sources
from spark_lsp.context.builder import BuiltPrompt, Placement, PromptBuilder
from spark_lsp.context.builder import effective_budget as budget_for
from spark_lsp.context.definitions import ImportedDefinitions
from spark_lsp.context.recent import EditedBlock, RecentEdits
from spark_lsp.context.settings import ContextSettings
from spark_lsp.context.similar import SimilarSnippets
from spark_lsp.context.sources import SOURCES, ExtraChunk, Gathering
from spark_lsp.context.view import ContextView
from spark_lsp.context.workspace import Workspace
from spark_lsp.documents import DocumentSnapshot
from spark_lsp.engine.base import Engine
from spark_lsp.lifecycle import DocumentHooks
from spark_lsp.token_counting import TokenCounter

logger = logging.getLogger(__name__)


class ContextService(DocumentHooks):
    """Owned by the event loop: only the loop reads or replaces its attributes and per-document
    maps. A gathering thread (``candidates``) gets copies taken on the loop (the open documents,
    the recent edits, a ``ContextView``); the similar-snippet and definitions caches it fills
    have locks of their own."""

    def __init__(
        self,
        open_documents: Callable[[], Iterable[DocumentSnapshot]],
        settings: ContextSettings | None = None,
        is_open: Callable[[str], bool] | None = None,
    ) -> None:
        """``is_open(uri)``: whether the document is open now (default: among
        ``open_documents``); what is kept of a document is written only while it is, so a
        handler that finishes after didClose leaves nothing behind."""
        sources.check()  # a source list the builder cannot order stops the server here
        self._open_documents = open_documents
        self._is_open = is_open or (lambda uri: any(d.uri == uri for d in open_documents()))
        self.settings = settings or ContextSettings()
        self.recent = RecentEdits(self.settings.recent_edits)
        self.similar = SimilarSnippets(is_open=self._is_open)
        self.builder: PromptBuilder | None = None  # set once the model (its tokenizer) is loaded
        self.context_size: int | None = None
        self._frozen: dict[str, tuple[ExtraChunk, ...]] = {}
        self._placements: dict[str, Placement] = {}  # where each document's last prompt sat
        self._private: dict[str, bool] = {}  # by URI, filled by prepare()
        self._paths: dict[str, str] = {}  # display paths by URI, filled by prepare()
        self._set_workspace(Workspace([], self.settings.private_files))
        # candidates() runs on a thread during refreshes; its caches are not thread-safe.
        self._gathering = threading.Lock()

    def _set_workspace(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.definitions = ImportedDefinitions(workspace)
        self._private.clear()
        self._paths.clear()
        self._frozen.clear()

    def set_roots(self, roots: Iterable[Path]) -> None:
        self._set_workspace(Workspace(list(roots), self.settings.private_files))

    def set_settings(self, settings: ContextSettings) -> None:
        previous, self.settings = self.settings, settings
        self.recent.capacity = settings.recent_edits
        self._frozen.clear()
        if settings.private_files != previous.private_files:
            self._set_workspace(Workspace(self.workspace.roots, settings.private_files))

    def record_edit(self, uri: str, first_line: int, last_line: int) -> None:
        if self._is_open(uri):
            self.recent.record(uri, first_line, last_line)

    def changed(self, uri: str, first_line: int, last_line: int) -> None:
        self.record_edit(uri, first_line, last_line)

    def model_ready(self, engine: Engine, counter: TokenCounter) -> None:
        """The model has loaded: prompts are built with its tokenizer, template and context."""
        self.builder = PromptBuilder(counter, engine.template, engine.add_bos)
        self.context_size = engine.n_ctx

    def snapshot(self, uri: str) -> DocumentSnapshot | None:
        """The open document's current text (None: closed or out of sync)."""
        return next((s for s in self._open_documents() if s.uri == uri), None)

    def closed(self, uri: str) -> None:
        self.forget(uri)

    def forget(self, uri: str) -> None:
        self.recent.forget(uri)
        self.similar.forget(uri)
        self._frozen.pop(uri, None)
        self._placements.pop(uri, None)
        self._private.pop(uri, None)
        self._paths.pop(uri, None)

    def view(self, with_paths: bool = True) -> ContextView:
        """The state a gathering thread reads, as it is now (taken on the event loop);
        ``with_paths``: with a copy of the known display paths (not needed to judge privacy)."""
        paths = dict(self._paths) if with_paths else {}
        return ContextView(self.workspace, self.definitions, self.settings, paths)

    def check_private(self, uri: str) -> bool:
        """Whether the document must stay out of prompts (``ContextView.check_private``)."""
        return self.view(with_paths=False).check_private(uri)

    async def prepare(self, snapshot: DocumentSnapshot, line: int) -> bool:
        """Get a document ready for prompts off the event loop: whether it is private, its path
        and its extra context (unless frozen already). False when it is private."""
        uri = snapshot.uri
        private = self._private.get(uri)
        if private is None:
            view = self.view()
            private, path = await asyncio.to_thread(_locate, view, uri)
            if self._is_open(uri):  # closed meanwhile: keep nothing of it
                self._private[uri], self._paths[uri] = private, path
        if private:
            return False
        if uri not in self._frozen:
            extra = await self.gather(snapshot, line)
            if self._is_open(uri):
                self._frozen.setdefault(uri, extra)
        return True

    async def gather(self, snapshot: DocumentSnapshot, line: int) -> tuple[ExtraChunk, ...]:
        """``candidates`` off the event loop: what it reads of the loop's state (the open
        documents, the recent edits) is copied here first, on the loop."""
        documents = list(self._open_documents())
        blocks = self.recent.blocks()
        view = self.view()
        return await asyncio.to_thread(self.candidates, snapshot, line, documents, blocks, view)

    def display_path(self, uri: str) -> str:
        """The document's path relative to its workspace root (its name outside the roots)."""
        known = self._paths.get(uri)  # on the loop: no copy of the paths for every prompt
        if known is not None:
            return known
        return self.view(with_paths=False).path_on_disk(uri, touch_disk=False)

    def candidates(
        self,
        snapshot: DocumentSnapshot,
        line: int,
        documents: Sequence[DocumentSnapshot] | None = None,
        blocks: Sequence[EditedBlock] | None = None,
        view: ContextView | None = None,
    ) -> tuple[ExtraChunk, ...]:
        """All extra chunks on offer for a cursor on ``line``, in priority order; none from a
        private document. Reads files: on a thread, pass the open ``documents`` and recent
        ``blocks`` taken on the loop (``gather`` does)."""
        if documents is None:
            documents = list(self._open_documents())
        if blocks is None:
            blocks = self.recent.blocks()
        with self._gathering:
            return self._candidates(snapshot, line, documents, blocks, view or self.view())

    def _candidates(
        self,
        snapshot: DocumentSnapshot,
        line: int,
        open_documents: Sequence[DocumentSnapshot],
        blocks: Sequence[EditedBlock],
        view: ContextView,
    ) -> tuple[ExtraChunk, ...]:
        documents = {
            document.uri: document
            for document in open_documents
            if document.uri == snapshot.uri or not view.check_private(document.uri)
        }
        found = Gathering(
            snapshot,
            line,
            documents,
            blocks,
            view.settings,
            self.similar,
            view.definitions,
            view.display_path,
        )
        return tuple(chunk for source in SOURCES for chunk in source.gather(found))

    def frozen(self, uri: str) -> tuple[ExtraChunk, ...] | None:
        return self._frozen.get(uri)

    def freeze(self, uri: str, chunks: tuple[ExtraChunk, ...]) -> None:
        if self._is_open(uri):
            self._frozen[uri] = chunks

    def full_budget(self, max_new_tokens: int) -> int:
        """The prompt budget without a cap: the configured one, within the model's context."""
        return budget_for(self.settings, self.context_size, max_new_tokens)

    def build(
        self,
        snapshot: DocumentSnapshot,
        line: int,
        column: int,
        max_new_tokens: int,
        extra: tuple[ExtraChunk, ...] | None = None,
        budget_cap: int | None = None,
    ) -> BuiltPrompt | None:
        """The prompt for a cursor, with the document's frozen extra context (none before
        ``prepare`` gathered it), or None before the model's tokenizer is known. With the
        frozen context the document's last placement is kept while it fits; a prompt with
        other ``extra`` chunks (a warm-up's) is placed afresh. ``budget_cap``: a smaller budget
        than the configured one (a cold document's first window, see completion/prompt_rate.py)."""
        if self.builder is None:
            return None
        frozen = extra is None
        if extra is None:
            extra = self._frozen.get(snapshot.uri, ())
        budget = budget_for(self.settings, self.context_size, max_new_tokens)
        if budget_cap is not None:
            budget = min(budget, budget_cap)
        built = self.builder.build(
            snapshot.lines,
            line,
            column,
            self.display_path(snapshot.uri),
            extra,
            budget,
            self.settings,
            self._placements.get(snapshot.uri) if frozen else None,
        )
        if frozen and self._is_open(snapshot.uri):
            self._placements[snapshot.uri] = Placement.of(built, len(snapshot.lines), extra)
        return built


def _locate(view: ContextView, uri: str) -> tuple[bool, str]:
    return view.check_private(uri), view.path_on_disk(uri)
