"""``textDocument/codeAction``, ``codeAction/resolve`` and the edit commands.

The menu comes back at once, with no model call; an action's edit is computed when the editor
resolves it (or when a command runs) by the action service. A client that cannot resolve an
action's edit gets the action as a command instead, which applies the edit through
workspace/applyEdit. Edits are minimal and stamped with the document version they were
computed for; a document that changed meanwhile gets ContentModified and nothing applies.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams, JsonRpcRequestCancelled
from pygls.lsp.server import LanguageServer

from spark_lsp.actions import registry
from spark_lsp.actions.service import ActionService, MenuItem, runs_as_command
from spark_lsp.actions.target import Target
from spark_lsp.documents import DocumentSnapshot
from spark_lsp.lsp import convert
from spark_lsp.lsp.client import Client
from spark_lsp.lsp.errors import json_rpc_errors
from spark_lsp.lsp.progress import action_progress
from spark_lsp.lsp.protocol import as_plain
from spark_lsp.lsp.status import StatusReporter

logger = logging.getLogger(__name__)

EDIT_COMMAND = "spark-lsp.editWithInstruction"
EXPLAIN_COMMAND = "spark-lsp.explain"
APPLY_COMMAND = "spark-lsp.applyCodeAction"  # for clients without codeAction/resolve
# The actions that run as commands (service.runs_as_command), by key: the command, its title.
COMMANDS = {"edit": (EDIT_COMMAND, "Edit with instruction..."), "explain": (EXPLAIN_COMMAND, "")}
ACTION_KINDS = [
    types.CodeActionKind.QuickFix,
    types.CodeActionKind.RefactorRewrite,
    types.CodeActionKind.Source,
]


def check_actions() -> None:
    """Refuse to start with a registry entry this layer or the service could not serve."""
    registry.check({kind.value for kind in ACTION_KINDS}, ActionService.OUTCOMES)
    for spec in registry.ACTIONS.values():
        if runs_as_command(spec) and spec.key not in COMMANDS:
            raise ValueError(f"code action {spec.key!r} runs as a command but has none")


def target_of(data: object) -> Target:
    with json_rpc_errors():
        return Target.from_data(as_plain(data))


class CodeActions:
    def __init__(
        self,
        client: Client,
        snapshot: Callable[[str], DocumentSnapshot],
        actions: ActionService,
        status: StatusReporter,
    ) -> None:
        self._client = client
        self._snapshot = snapshot
        self._actions = actions
        self._progress = action_progress(client, status)
        self._applying: set[asyncio.Future[None]] = set()  # commands still computing their edit

    def register(self, server: LanguageServer) -> None:
        check_actions()

        # pygls passes the server to a handler whose first parameter is named ``ls``; the
        # untyped params of commands and custom methods would otherwise be taken for it.
        @server.feature(
            types.TEXT_DOCUMENT_CODE_ACTION,
            types.CodeActionOptions(code_action_kinds=ACTION_KINDS, resolve_provider=True),
        )
        def code_action(params: types.CodeActionParams) -> list[types.CodeAction]:
            return self.menu(params)

        @server.feature(types.CODE_ACTION_RESOLVE)
        async def resolve(action: types.CodeAction) -> types.CodeAction:
            return await self.resolve(action)

        @server.command(EDIT_COMMAND)
        async def edit_with_instruction(ls: LanguageServer, *args: object) -> dict[str, object]:
            """Arguments: the action's target, then the instruction. Applies the edit through
            workspace/applyEdit and answers whether the client applied it."""
            if len(args) < 2 or not isinstance(args[1], str) or not args[1].strip():
                raise JsonRpcInvalidParams(f"{EDIT_COMMAND} needs [target, instruction]")
            target = target_of(args[0])
            with json_rpc_errors():
                edit = await self._actions.rewrite(target, args[1].strip(), self._progress)
            label = "spark-lsp: edit with instruction"
            applied = await self._client.apply_edit(convert.workspace_edit([edit]), label)
            return {"applied": applied}

        @server.command(APPLY_COMMAND)
        def apply_code_action(ls: LanguageServer, *args: object) -> None:
            """Argument: the action's target. Answers at once, then computes the edit as
            resolve would and applies it through workspace/applyEdit: a model call outlasts
            the request timeout of clients such as eglot (10 s), and the edit is stamped with
            the document's version, so a change meanwhile makes the client refuse it."""
            if not args:
                raise JsonRpcInvalidParams(f"{APPLY_COMMAND} needs [target]")
            task = asyncio.ensure_future(self._apply(target_of(args[0])))
            self._applying.add(task)
            task.add_done_callback(self._applying.discard)

        @server.command(EXPLAIN_COMMAND)
        async def explain(ls: LanguageServer, *args: object) -> dict[str, str]:
            """Returns ``{"markdown": ...}`` for the editor to show."""
            if not args:
                raise JsonRpcInvalidParams(f"{EXPLAIN_COMMAND} needs [target]")
            target = target_of(args[0])
            with json_rpc_errors():
                return {"markdown": await self._actions.explain(target, self._progress)}

    def menu(self, params: types.CodeActionParams) -> list[types.CodeAction]:
        snapshot = self._snapshot(params.text_document.uri)
        encoding = self._client.encoding
        start = convert.to_code_points(snapshot, params.range.start, encoding)
        end = convert.to_code_points(snapshot, params.range.end, encoding)
        if end < start:
            raise JsonRpcInvalidParams("the range's end is before its start")
        diagnostics = [(d.range.start.line, d.message) for d in params.context.diagnostics]
        items = self._actions.menu(
            snapshot, start, end, diagnostics, self._client.can_create_files()
        )
        resolvable = self._client.can_resolve_code_action_edits()
        return [self._code_action(item, params.context.diagnostics, resolvable) for item in items]

    async def resolve(self, action: types.CodeAction) -> types.CodeAction:
        if action.data is None and action.command is not None:
            return action  # Explain and Edit with instruction run as commands: nothing to resolve
        action.edit = await self._edit(target_of(action.data))
        return action

    async def _apply(self, target: Target) -> None:
        try:
            edit = await self._edit(target)
        except JsonRpcException as error:
            if error.code != JsonRpcRequestCancelled.CODE:
                message = f"spark-lsp: the {target.action} action failed: {error.message}"
                self._client.show_message(types.MessageType.Error, message)
            return
        except Exception:  # nobody awaits this task: say so, keep serving
            logger.exception("the %s action failed", target.action)
            message = f"spark-lsp: the {target.action} action failed (see the server log)"
            self._client.show_message(types.MessageType.Error, message)
            return
        if not await self._client.apply_edit(edit, "spark-lsp"):
            logger.info("the client did not apply the %s edit", target.action)

    async def _edit(self, target: Target) -> types.WorkspaceEdit:
        with json_rpc_errors():
            edit = await self._actions.edit_for(target, self._progress)
        return convert.workspace_edit([edit])

    @staticmethod
    def _code_action(
        item: MenuItem, diagnostics: list[types.Diagnostic], resolvable: bool
    ) -> types.CodeAction:
        action = types.CodeAction(title=item.title, kind=item.kind)
        if item.command is None and resolvable:
            action.data = item.target.as_data()
        elif item.command is None:
            arguments = [item.target.as_data()]
            action.command = types.Command(
                title=item.title, command=APPLY_COMMAND, arguments=arguments
            )
        else:
            command, title = COMMANDS[item.command]
            action.command = types.Command(
                title=title or item.title, command=command, arguments=[item.target.as_data()]
            )
        if item.diagnostic is not None:
            action.diagnostics = [d for d in diagnostics if d.message == item.diagnostic]
        return action
