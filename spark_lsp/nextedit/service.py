"""Next-edit suggestions for open documents: the user's edit since the last request (from the
per-document history), a prediction for the region around it, and the suggestion as minimal
line edits stamped with the document version. One answer per document version is kept.

The service's state is the event loop's. The prediction's steps (the substitution, the prompt,
reading the model's answer, the syntax gate, the line edits) run in threads on an immutable
EditContext; the model's job is awaited on the loop with ``run_job``, so closing the document or
asking for a newer version cancels it, and an engine failure is an error (NextEditFailed), not
an empty answer. After every await the answer is dropped unless it is still the one asked for
its document: nothing of a closed document is computed further or kept.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from spark_lsp.actions.rewrite import LineEdit, rewrite_edits
from spark_lsp.documents import DocumentSnapshot
from spark_lsp.engine import StopReason
from spark_lsp.engine.base import Lane, cache_key
from spark_lsp.engine.worker import InferenceWorker, run_job
from spark_lsp.lifecycle import DocumentHooks
from spark_lsp.nextedit import predictor
from spark_lsp.nextedit.context import EditContext, Prediction, window_around
from spark_lsp.nextedit.formats import format_for
from spark_lsp.nextedit.history import EditHistory, UserEdit
from spark_lsp.uris import uri_to_path

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NextEdit:
    uri: str
    version: int
    edits: tuple[LineEdit, ...]  # absolute line ranges of that version
    source: str  # the rule or format that answered: "substitution", "model:sweep" ...


class NextEditFailed(Exception):
    """The model failed to answer (the engine's error says why)."""


class NextEditService(DocumentHooks):
    """Owned by the event loop: the history and the answers are only touched there."""

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
        self.forget(snapshot.uri)
        self.history.opened(snapshot.uri, snapshot.lines)

    def closed(self, uri: str) -> None:
        self.forget(uri)

    def forget(self, uri: str) -> None:
        self.history.forget(uri)
        self._drop_answer(uri)

    def _drop_answer(self, uri: str) -> None:
        known = self._answers.pop(uri, None)
        if known is not None:
            known[1].cancel()  # stops its model job; a finished answer is unaffected

    def tracked(self) -> int:
        """How many documents the service keeps anything of (for tests and diagnosis)."""
        return len(self._answers.keys() | self.history.documents())

    def _known(self, snapshot: DocumentSnapshot) -> asyncio.Task[NextEdit | None] | None:
        """The answer (being) computed for this version of the document, if any."""
        known = self._answers.get(snapshot.uri)
        return known[1] if known is not None and known[0] == snapshot.version else None

    async def suggest(self, snapshot: DocumentSnapshot) -> NextEdit | None:
        """The suggestion for this version of the document (computed once per version); None
        when the document is not open, or closes or moves on to another version meanwhile."""
        if not self.history.is_open(snapshot.uri):
            return None
        task = self._known(snapshot)
        if task is None:
            self._drop_answer(snapshot.uri)
            # The history settles when a version is asked, not when its answer starts: an
            # answer a newer request cancels before it ran still ends its edit there (else
            # that edit and the next merge into one span no single change explains).
            path = uri_to_path(snapshot.uri)
            name = path.name if path is not None else snapshot.uri
            edit = self.history.settle(snapshot.uri, name, snapshot.lines)
            task = asyncio.ensure_future(self._answer(snapshot, name, edit))
            self._answers[snapshot.uri] = (snapshot.version, task)
        try:
            answer = await asyncio.shield(task)
        except asyncio.CancelledError:
            caller = asyncio.current_task()
            if task.cancelled() and (caller is None or not caller.cancelling()):
                return None  # the answer was dropped, not this request
            raise
        return answer if self._known(snapshot) is task else None

    def answered(self, snapshot: DocumentSnapshot) -> NextEdit | None:
        """The suggestion already computed for this version, if any (never computes one)."""
        task = self._known(snapshot)
        if task is None or not task.done() or task.cancelled() or task.exception() is not None:
            return None
        return task.result()

    def _still_asked(self, snapshot: DocumentSnapshot) -> bool:
        """Whether the running answer is still the one wanted for its document (it is open and
        at that version): checked after every await."""
        return self._known(snapshot) is asyncio.current_task()

    async def _answer(
        self, snapshot: DocumentSnapshot, name: str, edit: UserEdit | None
    ) -> NextEdit | None:
        if edit is None:
            return None
        edited = (edit.first, max(edit.last, edit.first + 1))  # a deletion leaves one line
        context = EditContext(
            path=name,
            language=snapshot.language_id,
            lines=snapshot.lines,
            edited=edited,
            before=edit.before,
            after=edit.after,
            region=window_around(snapshot.lines, edited),
            history=self.history.earlier(snapshot.uri),
        )
        if not predictor.within_bounds(context):
            return None
        # As predictor.predict, a step per thread and awaits between.
        found = await asyncio.to_thread(predictor.by_rules, context)
        if found is None and self._still_asked(snapshot):
            found = await self._by_model(snapshot, context)
        if found is None or not self._still_asked(snapshot):
            return None
        edits = await asyncio.to_thread(_shown_edits, context, found)
        if not edits or not self._still_asked(snapshot):
            return None
        return NextEdit(snapshot.uri, snapshot.version, edits, found.source)

    async def _by_model(
        self, snapshot: DocumentSnapshot, context: EditContext
    ) -> Prediction | None:
        """The model's rewrite of the region, when the model is loaded and the document is not
        private."""
        worker = await self._worker()
        if worker is None or not self._still_asked(snapshot):
            return None
        private = await asyncio.to_thread(self._private, snapshot.uri)
        if private or not self._still_asked(snapshot):
            return None
        key = cache_key(snapshot.uri, Lane.NEXT_EDIT)
        format_ = format_for(worker.engine)
        request = await asyncio.to_thread(predictor.model_request, context, key, format_)
        if not self._still_asked(snapshot):
            return None
        result = await run_job(worker.submit(request))
        if result.stop_reason is StopReason.FAILED:
            logger.warning("next edit for %s failed: %s", snapshot.uri, result.error)
            raise NextEditFailed(f"the model failed: {result.error}")
        if result.stop_reason is StopReason.CANCELLED or not self._still_asked(snapshot):
            return None  # superseded by a newer request, or the queue was full
        return await asyncio.to_thread(predictor.from_model, context, result, format_)


def _shown_edits(context: EditContext, found: Prediction) -> tuple[LineEdit, ...]:
    """The prediction as line edits of the document, when the gate lets it be shown."""
    shown = predictor.gated(context, found)
    if shown is None:
        return ()
    first, last = shown.rewritten(context)
    edits, _ = rewrite_edits(context.lines, first, last, "".join(shown.lines))
    return edits
