"""The code-action service: the menu for a range, and the edit, test file or explanation for a
picked action, computed by the model. No LSP types: the LSP layer converts requests into these
calls and the results into workspace edits.

An edit is computed for the document version the action was offered for; a document that changed
meanwhile (before or while the model worked) raises DocumentChanged and nothing applies. Edits
are minimal (a diff's changed lines), and a rewrite that would add syntax errors is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from spark_lsp.actions import catalog, rewrite
from spark_lsp.actions.errors import ActionCancelled, ActionFailed, DocumentChanged, InvalidTarget
from spark_lsp.actions.registry import ACTIONS, ActionSpec, Offered, Outcome, spec_of
from spark_lsp.actions.rewrite import LineEdit
from spark_lsp.actions.settings import ActionSettings
from spark_lsp.actions.target import Target
from spark_lsp.context.files import Unreadable, inside, read_regular_file
from spark_lsp.context.service import ContextService
from spark_lsp.documents import DocumentSnapshot, line_content, split_lines
from spark_lsp.engine import CancelToken, ChatPrompt, GenerationRequest, Priority, StopReason
from spark_lsp.engine.base import Lane, cache_key
from spark_lsp.engine.worker import InferenceWorker, run_job
from spark_lsp.syntax import error_count, parse_document, snapshot_error_count
from spark_lsp.token_counting import TokenCounter
from spark_lsp.uris import uri_to_path

MAX_EXISTING_BYTES = 16 * 1024 * 1024  # of a test file appended to
WORKSPACE_CONTEXT_CHUNKS = 4

# Around the model's work: the user sees it (progress, status) and may cancel it through the
# token it yields. The argument is the work's title ("spark-lsp: rewriting").
Progress = Callable[[str], AbstractAsyncContextManager[CancelToken]]


@contextlib.asynccontextmanager
async def no_progress(title: str) -> AsyncIterator[CancelToken]:
    """Progress for callers without a user interface: nothing shown, never cancelled."""
    yield CancelToken()


@dataclass(frozen=True)
class MenuItem:
    title: str
    kind: str  # an LSP CodeActionKind value
    target: Target
    command: str | None = None  # an action run as a command (its key), nothing to resolve
    diagnostic: str | None = None  # the message of the diagnostic a fix is for


@dataclass(frozen=True)
class DocumentEdit:
    uri: str
    version: int | None  # None: whatever the file holds (a file the edit creates)
    edits: tuple[LineEdit, ...]  # absolute line ranges of the document
    create: bool = False  # create the file first (keeping it when it exists)
    generation: int | None = None  # the opening of the open document the edit was computed on


class ActionService:
    # What it can make of an action: the registry's outcomes (registry.check at start-up).
    OUTCOMES = frozenset({Outcome.REWRITE, Outcome.TEST_FILE, Outcome.EXPLANATION})

    def __init__(
        self,
        snapshot: Callable[[str], DocumentSnapshot],
        worker: Callable[[], Awaitable[InferenceWorker | None]],
        counter: Callable[[], TokenCounter | None],
        context: ContextService,
        open_document: Callable[[str], DocumentSnapshot | None] = lambda uri: None,
        settings: ActionSettings | None = None,
    ) -> None:
        """``snapshot(uri)`` raises the document store's errors for unknown or out-of-sync
        documents; ``worker()`` waits for the model (None when it failed to load);
        ``open_document(uri)`` is an open document's snapshot, else None."""
        self._open_document = open_document
        self.settings = settings or ActionSettings()
        self._snapshot = snapshot
        self._worker = worker
        self._counter = counter
        self._context = context

    def menu(
        self,
        snapshot: DocumentSnapshot,
        start: tuple[int, int],
        end: tuple[int, int],
        diagnostics: Sequence[tuple[int, str]],
        can_create_files: bool,
    ) -> list[MenuItem]:
        """What the menu offers for a range (code points), at once, with no model call."""
        language, lines = snapshot.language_id, snapshot.lines
        syntax = catalog.Syntax(language, lines, parse_document(snapshot))
        found = catalog.offers(language, lines, start, end, diagnostics, can_create_files, syntax)
        items = [
            MenuItem(
                offer.title,
                offer.kind,
                Target(
                    snapshot.uri,
                    snapshot.version,
                    offer.first_line,
                    offer.last_line,
                    offer.action,
                    offer.message,
                    snapshot.generation,
                ),
                command=offer.action if runs_as_command(ACTIONS[offer.action]) else None,
                diagnostic=offer.message or None,
            )
            for offer in found
        ]
        if found:
            first, last = catalog.target_lines(language, lines, start, end, syntax)
            for spec in ACTIONS.values():
                if spec.offered is Offered.LAST:
                    target = Target(
                        snapshot.uri,
                        snapshot.version,
                        first,
                        last,
                        spec.key,
                        "",
                        snapshot.generation,
                    )
                    items.append(MenuItem(spec.title, spec.kind, target, command=spec.key))
        return items

    async def edit_for(self, target: Target, progress: Progress = no_progress) -> DocumentEdit:
        """The edit of a resolved action, by its outcome."""
        spec = spec_of(target)
        if spec.outcome is Outcome.TEST_FILE:
            return await self.unit_test(target, progress)
        if spec.outcome is Outcome.REWRITE:
            return await self.rewrite(target, progress=progress)
        raise InvalidTarget(f"the {spec.key} action runs as a command; it has no edit")

    async def rewrite(
        self, target: Target, instruction: str | None = None, progress: Progress = no_progress
    ) -> DocumentEdit:
        """The minimal, version-stamped edit for a rewrite of the target's lines."""
        spec = spec_of(target)
        if spec.outcome is not Outcome.REWRITE:
            raise InvalidTarget(f"the {spec.key} action is not a rewrite")
        wanted = spec.instruction_for(target, instruction)
        if not wanted:
            raise InvalidTarget(f"the {spec.key} action needs an instruction")
        snapshot = self._check(target)
        code = "".join(snapshot.lines[target.first : target.last])
        messages = rewrite.chat_messages(
            wanted,
            code,
            snapshot.language_id,
            self._context.display_path(target.uri),
            await self._workspace_context(snapshot),
        )
        answer = await self._generate(target, messages, code, "spark-lsp: rewriting", progress)
        self._check(target)  # the document may have changed while the model worked
        new_code = rewrite.extract_code(answer)
        if new_code is None:
            raise ActionFailed("spark-lsp: the model's answer held no code; nothing was changed")
        new_code = rewrite.reindent(new_code, code)
        if spec.refine is not None and instruction is None:
            new_code = spec.refine(snapshot.language_id, code, new_code)
            if new_code is None:
                raise ActionFailed(f"spark-lsp: {spec.refused}")
        lines = snapshot.lines
        edits, intended = rewrite.rewrite_edits(lines, target.first, target.last, new_code)
        # What the client will hold after applying the edits, checked before they leave.
        applied = rewrite.apply_line_edits(lines, edits)
        if applied != intended:
            raise ActionFailed(
                "spark-lsp: internal error: the edits would not give the rewrite; nothing was "
                "changed (please report this with the file)"
            )
        _check_syntax(snapshot, applied)
        return DocumentEdit(target.uri, target.version, edits, generation=target.generation)

    async def unit_test(self, target: Target, progress: Progress = no_progress) -> DocumentEdit:
        """A test file for the target's code, beside its file (``test_<name>``)."""
        spec = _expect(target, Outcome.TEST_FILE)
        snapshot = self._check(target)
        code = "".join(snapshot.lines[target.first : target.last])
        await self._allowed(snapshot)
        path = PurePosixPath(self._context.display_path(target.uri))
        messages = rewrite.chat_messages(
            spec.instruction_for(target), code, snapshot.language_id, str(path), system=spec.system
        )
        answer = await self._generate(target, messages, "", "spark-lsp: writing a test", progress)
        test_code = rewrite.extract_code(answer)
        if test_code is None:
            raise ActionFailed("spark-lsp: the model's answer held no code; nothing was created")
        folder = target.uri.rsplit("/", 1)[0]
        test_uri = f"{folder}/test_{path.stem}{path.suffix}"
        return await self._append_to(test_uri, test_code)

    async def _append_to(self, uri: str, code: str) -> DocumentEdit:
        """An edit that adds ``code`` at the end of the file (an open one at its version),
        creating the file when it does not exist: an existing test file is never overwritten
        or prepended to."""
        open_document = self._open_document(uri)
        if open_document is not None:
            lines: Sequence[str] | None = open_document.lines
            version: int | None = open_document.version
            generation: int | None = open_document.generation
        else:
            path = uri_to_path(uri)
            roots = self._context.workspace.roots
            text = await asyncio.to_thread(_existing_text, path, roots) if path else None
            lines, version = (split_lines(text) if text is not None else None), None
            generation = None
        if lines is None:
            return DocumentEdit(uri, None, (LineEdit(0, 0, code),), create=True)
        ending = rewrite.line_ending(lines)
        code = rewrite.with_line_ending(code, ending)
        last = len(lines) - 1
        if lines[last]:  # the file does not end with a line break: end its last line first
            edit = LineEdit(last, last + 1, lines[last] + ending + ending + code)
        else:
            separator = ending if last > 0 and line_content(lines[last - 1]).strip() else ""
            edit = LineEdit(last, last, separator + code)
        return DocumentEdit(uri, version, (edit,), generation=generation)

    async def explain(self, target: Target, progress: Progress = no_progress) -> str:
        """Markdown that explains the target's code."""
        spec = _expect(target, Outcome.EXPLANATION)
        snapshot = self._check(target)
        await self._allowed(snapshot)
        code = "".join(snapshot.lines[target.first : target.last])
        messages = rewrite.chat_messages(
            spec.instruction_for(target),
            code,
            snapshot.language_id,
            self._context.display_path(target.uri),
            system=spec.system,
        )
        answer = await self._generate(target, messages, "", "spark-lsp: explaining", progress)
        return answer.strip()

    async def _allowed(self, snapshot: DocumentSnapshot) -> None:
        """Refuse a private document: nothing of it may enter a prompt."""
        if not await self._context.prepare(snapshot, 0):
            raise ActionFailed(
                f"spark-lsp: {self._context.display_path(snapshot.uri)} is private (ignored by "
                "git or on the context.privateFiles list); nothing of it is sent to the model"
            )

    def _check(self, target: Target) -> DocumentSnapshot:
        snapshot = self._snapshot(target.uri)
        if snapshot.generation != target.generation:
            raise DocumentChanged(
                f"{target.uri} was closed and opened again since the action was offered; "
                "ask for the action again"
            )
        if snapshot.version != target.version:
            raise DocumentChanged(
                f"{target.uri} changed (version {target.version} -> {snapshot.version}); "
                "ask for the action again"
            )
        if not 0 <= target.first < target.last <= snapshot.line_count:
            raise InvalidTarget(f"lines {target.first}-{target.last} are outside the document")
        return snapshot

    async def _workspace_context(self, snapshot: DocumentSnapshot) -> list[tuple[str, str]]:
        await self._allowed(snapshot)
        chunks = self._context.frozen(snapshot.uri) or ()
        chosen = [(chunk.path, chunk.text) for chunk in chunks if chunk.source == "definitions"]
        return chosen[:WORKSPACE_CONTEXT_CHUNKS]

    async def _generate(
        self,
        target: Target,
        messages: list[dict[str, str]],
        draft: str,
        title: str,
        progress: Progress,
    ) -> str:
        """The model's answer; ``progress`` shows the work and can cancel it."""
        worker = await self._worker()
        counter = self._counter()
        if worker is None or counter is None:
            raise ActionFailed("spark-lsp: the model is not loaded (see the server log)")
        code_tokens = counter.count(draft or messages[-1]["content"])
        request = GenerationRequest(
            ChatPrompt.of(messages),
            max_tokens=min(self.settings.max_tokens, 2 * code_tokens + 256),
            priority=Priority.ACTION,
            key=cache_key(target.uri, Lane.ACTION),
            predict_time_budget_ms=self.settings.time_budget_ms,
            draft=draft,
            supersedes=False,  # a second action on the document waits for the first
        )
        async with progress(title) as cancel:
            job = worker.submit(request)
            cancel.on_cancel(lambda: job.cancel("cancelled by the user"))
            result = await run_job(job)
        if result.stop_reason is StopReason.FAILED and result.overflow:
            raise ActionFailed(
                f"spark-lsp: the code is too long for the model's context ({result.overflow} "
                "tokens too many with the instructions and the answer's room); select less and "
                "try again"
            )
        if result.stop_reason is StopReason.FAILED:
            raise ActionFailed(f"spark-lsp: {result.error}")
        if result.stop_reason is StopReason.CANCELLED:
            raise ActionCancelled("cancelled")
        if result.stop_reason is StopReason.TIME_BUDGET:
            seconds = self.settings.time_budget_ms / 1000
            raise ActionFailed(
                f"spark-lsp: the model took longer than actions.timeBudgetMs ({seconds:.0f} s); "
                "nothing was changed"
            )
        return result.text


def _existing_text(path: Path, roots: Sequence[Path]) -> str | None:
    """An existing file's text, None when there is none (off the event loop). Only a regular
    file is read, without following a symlink, inside a workspace root (or its own folder): a
    FIFO must not hang the action, nor a symlink bring in text from elsewhere."""
    root = next((root for root in roots if inside(path, root)), path.parent)
    try:
        data = read_regular_file(path, root, MAX_EXISTING_BYTES)
    except Unreadable as error:
        raise ActionFailed(f"spark-lsp: cannot add to {path.name}: {error}") from None
    return None if data is None else data.decode("utf-8", "replace")


def _expect(target: Target, outcome: Outcome) -> ActionSpec:
    spec = spec_of(target)
    if spec.outcome is not outcome:
        raise InvalidTarget(f"the {spec.key} action does not make a {outcome}")
    return spec


def runs_as_command(spec: ActionSpec) -> bool:
    """Whether the client runs the action as a command (an explanation to show, or an edit
    that needs the user's words) rather than resolving its edit."""
    return spec.outcome is Outcome.EXPLANATION or spec.offered is Offered.LAST


def _check_syntax(snapshot: DocumentSnapshot, after_text: str) -> None:
    """Refuse a rewrite that leaves the document with more syntax errors than it had."""
    before = snapshot_error_count(snapshot)
    after = error_count(snapshot.language_id, after_text)
    if before is not None and after is not None and after > before:
        raise ActionFailed(
            "spark-lsp: the rewrite does not parse (it would add syntax errors); nothing was "
            "changed"
        )
