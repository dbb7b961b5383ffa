"""``textDocument/codeAction``, ``codeAction/resolve`` and the edit commands.

The menu comes back at once, with no model call; an action's edit is computed when the editor
resolves it (or when a command runs), with the model's chat template and the document's workspace
context. Edits are minimal (a diff's changed lines) and stamped with the document version they
were computed for; a document that changed meanwhile gets ContentModified and nothing applies.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer

from spark_lsp.actions import catalog, rewrite
from spark_lsp.completion.syntax import error_count
from spark_lsp.documents import DocumentSnapshot
from spark_lsp.engine import ChatPrompt, EngineError, GenerationRequest, Priority, StopReason
from spark_lsp.inline_feature import resolve_position
from spark_lsp.progress import begin_progress
from spark_lsp.protocol import as_plain

if TYPE_CHECKING:
    from spark_lsp.engine.worker import InferenceWorker
    from spark_lsp.server import SparkLanguageServer

logger = logging.getLogger(__name__)

EDIT_COMMAND = "spark-lsp.editWithInstruction"
EXPLAIN_COMMAND = "spark-lsp.explain"
ACTION_KINDS = [
    types.CodeActionKind.QuickFix,
    types.CodeActionKind.RefactorRewrite,
    types.CodeActionKind.Source,
]


class ContentModified(JsonRpcException):
    CODE = -32801


class RequestFailed(JsonRpcException):
    CODE = -32803


class RequestCancelled(JsonRpcException):
    CODE = -32800


@dataclass(frozen=True)
class Target:
    uri: str
    version: int
    first: int
    last: int
    action: str
    message: str = ""

    def as_data(self) -> dict[str, Any]:
        return {
            "uri": self.uri,
            "version": self.version,
            "first": self.first,
            "last": self.last,
            "action": self.action,
            "message": self.message,
        }

    @classmethod
    def from_data(cls, data: object) -> Target:
        data = as_plain(data)
        try:
            assert isinstance(data, dict)
            target = cls(
                data["uri"],
                data["version"],
                data["first"],
                data["last"],
                data["action"],
                data.get("message", ""),
            )
            assert isinstance(target.uri, str) and isinstance(target.action, str)
            assert all(isinstance(v, int) for v in (target.version, target.first, target.last))
        except (AssertionError, KeyError, TypeError):
            raise JsonRpcInvalidParams(f"not a spark-lsp code action: {data!r}") from None
        return target


def _check(server: SparkLanguageServer, target: Target) -> DocumentSnapshot:
    snapshot = server.snapshot(target.uri)
    if snapshot.version != target.version:
        raise ContentModified(
            f"{target.uri} changed (version {target.version} -> {snapshot.version}); "
            "ask for the action again"
        )
    if not 0 <= target.first < target.last <= snapshot.line_count:
        raise JsonRpcInvalidParams(f"lines {target.first}-{target.last} are outside the document")
    return snapshot


def _can_create_files(server: SparkLanguageServer) -> bool:
    capabilities = server.client_capabilities
    workspace = capabilities.workspace if capabilities else None
    edit = workspace.workspace_edit if workspace else None
    operations = edit.resource_operations if edit else None
    return bool(operations and types.ResourceOperationKind.Create in operations)


async def _generate(
    server: SparkLanguageServer,
    target: Target,
    messages: list[dict[str, str]],
    draft: str,
    title: str,
) -> str:
    """The model's answer, with work-done progress the user can cancel."""
    worker = await server.models.ready_worker()
    counter = server.models.counter
    if worker is None or counter is None:
        raise RequestFailed("spark-lsp: the model is not loaded (see the server log)")
    code_tokens = counter.count(draft or messages[-1]["content"])
    request = GenerationRequest(
        ChatPrompt.of(messages),
        max_tokens=min(4096, 2 * code_tokens + 256),
        priority=Priority.ACTION,
        key=f"{target.uri}#action",
        draft=draft,
    )
    with server.status.generating(title.removeprefix("spark-lsp: ")):
        return await _run_with_progress(server, worker, request, title)


async def _run_with_progress(
    server: SparkLanguageServer, worker: InferenceWorker, request: GenerationRequest, title: str
) -> str:
    token = await begin_progress(
        server,
        "action",
        types.WorkDoneProgressBegin(title=title, message="generating", cancellable=True),
    )
    job = worker.submit(request)
    if token is not None:
        cancelled = server.work_done_progress.tokens.get(token)
        if cancelled is not None:
            cancelled.add_done_callback(lambda _future: job.cancel("cancelled by the user"))
    try:
        result = await asyncio.wrap_future(job.future)
    except asyncio.CancelledError:
        job.cancel("request cancelled")
        raise
    except EngineError as error:
        raise RequestFailed(f"spark-lsp: {error}") from None
    finally:
        if token is not None:
            server.work_done_progress.end(token, types.WorkDoneProgressEnd())
    if result.stop_reason is StopReason.CANCELLED:
        raise RequestCancelled("cancelled")
    return result.text


def _context(server: SparkLanguageServer, snapshot: DocumentSnapshot) -> list[tuple[str, str]]:
    chunks = server.context.frozen(snapshot.uri)
    if chunks is None:
        chunks = server.context.candidates(snapshot, 0)
    return [(chunk.path, chunk.text) for chunk in chunks if chunk.source == "definitions"][:4]


def _instruction(target: Target) -> str:
    if target.action == "fix":
        return f"Fix this problem reported by the editor: {target.message}"
    return rewrite.INSTRUCTIONS.get(target.action, target.action)


async def rewrite_edit(
    server: SparkLanguageServer, target: Target, instruction: str | None = None
) -> types.WorkspaceEdit:
    """The minimal, version-stamped edit for a rewrite of the target's lines."""
    snapshot = _check(server, target)
    code = "".join(snapshot.lines[target.first : target.last])
    path = server.context.display_path(target.uri)
    messages = rewrite.chat_messages(
        instruction or _instruction(target),
        code,
        snapshot.language_id,
        path,
        _context(server, snapshot),
    )
    answer = await _generate(server, target, messages, code, "spark-lsp: rewriting")
    _check(server, target)  # the document may have changed while the model worked
    new_code = rewrite.extract_code(answer)
    if new_code is None:
        raise RequestFailed("spark-lsp: the model's answer held no code; nothing was changed")
    new_code = rewrite.reindent(new_code, code)
    if not code.endswith("\n"):
        new_code = new_code.rstrip("\n")
    before = error_count(snapshot.language_id, snapshot.text)
    lines = snapshot.lines
    after_text = "".join(lines[: target.first]) + new_code + "".join(lines[target.last :])
    after = error_count(snapshot.language_id, after_text)
    if before is not None and after is not None and after > before:
        raise RequestFailed(
            "spark-lsp: the rewrite does not parse (it would add syntax errors); nothing was "
            "changed"
        )
    edits = [
        types.TextEdit(
            range=types.Range(
                start=types.Position(line=target.first + edit.first, character=0),
                end=types.Position(line=target.first + edit.last, character=0),
            ),
            new_text=edit.text,
        )
        for edit in rewrite.minimal_edits(code, new_code)
    ]
    return types.WorkspaceEdit(
        document_changes=[
            types.TextDocumentEdit(
                text_document=types.OptionalVersionedTextDocumentIdentifier(
                    uri=target.uri, version=target.version
                ),
                edits=edits,
            )
        ]
    )


async def unit_test_edit(server: SparkLanguageServer, target: Target) -> types.WorkspaceEdit:
    snapshot = _check(server, target)
    code = "".join(snapshot.lines[target.first : target.last])
    path = PurePosixPath(server.context.display_path(target.uri))
    messages = rewrite.chat_messages(
        rewrite.INSTRUCTIONS["unit_test"], code, snapshot.language_id, str(path)
    )
    answer = await _generate(server, target, messages, "", "spark-lsp: writing a test")
    test_code = rewrite.extract_code(answer)
    if test_code is None:
        raise RequestFailed("spark-lsp: the model's answer held no code; nothing was created")
    folder = target.uri.rsplit("/", 1)[0]
    test_uri = f"{folder}/test_{path.stem}{path.suffix}"
    return types.WorkspaceEdit(
        document_changes=[
            types.CreateFile(uri=test_uri, options=types.CreateFileOptions(ignore_if_exists=True)),
            types.TextDocumentEdit(
                text_document=types.OptionalVersionedTextDocumentIdentifier(
                    uri=test_uri, version=None
                ),
                edits=[
                    types.TextEdit(
                        range=types.Range(
                            start=types.Position(line=0, character=0),
                            end=types.Position(line=0, character=0),
                        ),
                        new_text=test_code,
                    )
                ],
            ),
        ]
    )


async def explain(server: SparkLanguageServer, target: Target) -> str:
    snapshot = _check(server, target)
    code = "".join(snapshot.lines[target.first : target.last])
    messages = rewrite.chat_messages(
        rewrite.INSTRUCTIONS["explain"],
        code,
        snapshot.language_id,
        server.context.display_path(target.uri),
        system=rewrite.EXPLAIN_SYSTEM,
    )
    return (await _generate(server, target, messages, "", "spark-lsp: explaining")).strip()


def register(server: SparkLanguageServer) -> None:
    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=ACTION_KINDS, resolve_provider=True),
    )
    def code_action(
        ls: SparkLanguageServer, params: types.CodeActionParams
    ) -> list[types.CodeAction]:
        snapshot = ls.snapshot(params.text_document.uri)
        start = resolve_position(ls, snapshot, params.range.start)
        end = resolve_position(ls, snapshot, params.range.end)
        if end < start:
            raise JsonRpcInvalidParams("the range's end is before its start")
        diagnostics = [(d.range.start.line, d.message) for d in params.context.diagnostics]
        found = catalog.offers(
            snapshot.language_id, snapshot.lines, start, end, diagnostics, _can_create_files(ls)
        )
        actions = []
        for offer in found:
            target = Target(
                snapshot.uri,
                snapshot.version,
                offer.first_line,
                offer.last_line,
                offer.action,
                offer.message,
            )
            action = types.CodeAction(title=offer.title, kind=offer.kind, data=target.as_data())
            if offer.action == "fix":
                action.diagnostics = [
                    d for d in params.context.diagnostics if d.message == offer.message
                ]
            if offer.action == "explain":
                action.data = None
                action.command = types.Command(
                    title=offer.title, command=EXPLAIN_COMMAND, arguments=[target.as_data()]
                )
            actions.append(action)
        if found:
            first, last = catalog.target_lines(snapshot.language_id, snapshot.lines, start, end)
            target = Target(snapshot.uri, snapshot.version, first, last, "edit")
            actions.append(
                types.CodeAction(
                    title="spark-lsp: Edit with instruction...",
                    kind=types.CodeActionKind.RefactorRewrite,
                    command=types.Command(
                        title="Edit with instruction...",
                        command=EDIT_COMMAND,
                        arguments=[target.as_data()],
                    ),
                )
            )
        return actions

    @server.feature(types.CODE_ACTION_RESOLVE)
    async def resolve(ls: SparkLanguageServer, action: types.CodeAction) -> types.CodeAction:
        if action.data is None and action.command is not None:
            return action  # Explain and Edit with instruction run as commands: nothing to resolve
        target = Target.from_data(action.data)
        if target.action == "unit_test":
            action.edit = await unit_test_edit(ls, target)
        else:
            action.edit = await rewrite_edit(ls, target)
        return action

    # pygls resolves a command's type hints at run time, so these name pygls' own class.
    @server.command(EDIT_COMMAND)
    async def edit_with_instruction(ls: LanguageServer, *args: object) -> dict[str, object]:
        """Arguments: the action's target, then the instruction. Applies the edit through
        workspace/applyEdit and answers whether the client applied it."""
        if len(args) < 2 or not isinstance(args[1], str) or not args[1].strip():
            raise JsonRpcInvalidParams(f"{EDIT_COMMAND} needs [target, instruction]")
        target = Target.from_data(args[0])
        edit = await rewrite_edit(server, target, instruction=args[1].strip())
        result = await server.workspace_apply_edit_async(
            types.ApplyWorkspaceEditParams(edit=edit, label="spark-lsp: edit with instruction")
        )
        return {"applied": bool(result and result.applied)}

    @server.command(EXPLAIN_COMMAND)
    async def explain_command(ls: LanguageServer, *args: object) -> dict[str, str]:
        """Returns ``{"markdown": ...}`` for the editor to show."""
        if not args:
            raise JsonRpcInvalidParams(f"{EXPLAIN_COMMAND} needs [target]")
        return {"markdown": await explain(server, Target.from_data(args[0]))}
