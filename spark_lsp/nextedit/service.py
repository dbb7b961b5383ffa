"""Next-edit suggestions for open documents: the user's edit since the last request (from the
per-document history), a prediction for the region around it, and the suggestion as minimal
line edits stamped with the document version. One answer per document version is kept."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent import futures
from dataclasses import dataclass

from spark_lsp.actions.rewrite import LineEdit, rewrite_edits
from spark_lsp.documents import DocumentSnapshot
from spark_lsp.engine import GenerationRequest, GenerationResult, StopReason
from spark_lsp.engine.base import EngineError, Lane, cache_key
from spark_lsp.engine.worker import InferenceWorker
from spark_lsp.lifecycle import DocumentHooks
from spark_lsp.nextedit import predictor
from spark_lsp.nextedit.history import EditHistory
from spark_lsp.uris import uri_to_path

REGION_LINES = 30


@dataclass(frozen=True)
class NextEdit:
    uri: str
    version: int
    edits: tuple[LineEdit, ...]  # absolute line ranges of that version
    source: str  # "substitution" or "model"


class NextEditService(DocumentHooks):
    def __init__(
        self,
        worker: Callable[[], Awaitable[InferenceWorker | None]],
        private: Callable[[str], bool],
    ) -> None:
        """``worker()``: the inference worker once the model is loaded, or None;
        ``private(uri)``: whether the document must stay out of prompts (blocking: run in a
        thread). A private document still gets the substitution, which no model sees."""
        self.history = EditHistory()
        self._worker = worker
        self._private = private
        # Per document: the version last asked for, and its answer (being) computed; two
        # requests for one version share it (the history settles once).
        self._answers: dict[str, tuple[int, asyncio.Task[NextEdit | None]]] = {}

    def opened(self, snapshot: DocumentSnapshot) -> None:
        self.history.opened(snapshot.uri, snapshot.lines)
        self._answers.pop(snapshot.uri, None)

    def closed(self, uri: str) -> None:
        self.forget(uri)

    def forget(self, uri: str) -> None:
        self.history.forget(uri)
        self._answers.pop(uri, None)

    def _known(self, snapshot: DocumentSnapshot) -> asyncio.Task[NextEdit | None] | None:
        """The answer (being) computed for this version of the document, if any."""
        known = self._answers.get(snapshot.uri)
        return known[1] if known is not None and known[0] == snapshot.version else None

    async def suggest(self, snapshot: DocumentSnapshot) -> NextEdit | None:
        """The suggestion for this version of the document (computed once per version)."""
        task = self._known(snapshot)
        if task is None:
            task = asyncio.ensure_future(self._answer(snapshot))
            self._answers[snapshot.uri] = (snapshot.version, task)
        return await asyncio.shield(task)

    def answered(self, snapshot: DocumentSnapshot) -> NextEdit | None:
        """The suggestion already computed for this version, if any (never computes one)."""
        task = self._known(snapshot)
        if task is None or not task.done() or task.cancelled() or task.exception() is not None:
            return None
        return task.result()

    async def _answer(self, snapshot: DocumentSnapshot) -> NextEdit | None:
        path = uri_to_path(snapshot.uri)
        name = path.name if path is not None else snapshot.uri
        edit = self.history.settle(snapshot.uri, name, snapshot.lines)
        if edit is None:
            return None
        context = predictor.EditContext(
            path=name,
            language=snapshot.language_id,
            lines=snapshot.lines,
            edited=(edit.first, max(edit.last, edit.first + 1)),
            before=edit.before,
            after=edit.after,
            region=predictor.region_around(snapshot.lines, (edit.first, edit.last), REGION_LINES),
            history=self.history.earlier(snapshot.uri),
        )
        return await self._predict(snapshot, context)

    async def _predict(
        self, snapshot: DocumentSnapshot, context: predictor.EditContext
    ) -> NextEdit | None:
        """``predictor.predict`` off the event loop (it diffs and parses the document), with
        the model when it is loaded and the document is not private."""
        worker = await self._worker()
        generate = None
        if worker is not None and not await asyncio.to_thread(self._private, snapshot.uri):
            generate = _blocking_generate(worker)
        key = cache_key(snapshot.uri, Lane.NEXT_EDIT)
        shown = await asyncio.to_thread(predictor.predict, context, generate, key)
        if shown is None:
            return None
        first, last = context.region
        edits, _ = rewrite_edits(snapshot.lines, first, last, "".join(shown.lines))
        return NextEdit(snapshot.uri, snapshot.version, edits, shown.source) if edits else None


def _blocking_generate(worker: InferenceWorker) -> predictor.Generate:
    """Generation on the worker, waited for in a thread; a superseded or failed job gives an
    empty answer (no suggestion)."""

    def generate(request: GenerationRequest) -> GenerationResult:
        try:
            return worker.submit(request).future.result()
        except (futures.CancelledError, EngineError) as error:
            return GenerationResult("", StopReason.CANCELLED, error=str(error))

    return generate
