"""The connected editor as the features see it: the negotiated position encoding, what the client
can do, messages to it, edits and configuration asked of it, and work-done progress."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from spark_lsp.documents import PositionEncoding
from spark_lsp.lsp.convert import position_encoding
from spark_lsp.lsp.protocol import SparkProtocol

logger = logging.getLogger(__name__)

# The longest wait for a client's answer to a server request: a client that never answers must
# not stop the model from loading, an action from finishing, or options from applying.
CLIENT_ANSWER_TIMEOUT_S = 10.0


class Client:
    def __init__(self, server: LanguageServer, protocol: SparkProtocol) -> None:
        self._server = server
        self._protocol = protocol

    @property
    def encoding(self) -> PositionEncoding:
        """The position encoding chosen at initialize (utf-16 before it)."""
        return position_encoding(self._protocol.position_encoding)

    @property
    def capabilities(self) -> types.ClientCapabilities:
        return self._server.client_capabilities

    def can_pull_configuration(self) -> bool:
        workspace = self.capabilities.workspace if self.capabilities else None
        return bool(workspace and workspace.configuration)

    def can_resolve_code_action_edits(self) -> bool:
        """Whether the client asks codeAction/resolve for an action's edit (eglot 1.9 and
        other LSP 3.15 clients do not: they apply an action's edit or run its command)."""
        text_document = self.capabilities.text_document if self.capabilities else None
        code_action = text_document.code_action if text_document else None
        support = code_action.resolve_support if code_action else None
        return bool(support and "edit" in support.properties)

    def can_create_files(self) -> bool:
        workspace = self.capabilities.workspace if self.capabilities else None
        edit = workspace.workspace_edit if workspace else None
        operations = edit.resource_operations if edit else None
        return bool(operations and types.ResourceOperationKind.Create in operations)

    def show_message(self, kind: types.MessageType, message: str) -> None:
        self._server.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def log_message(self, kind: types.MessageType, message: str) -> None:
        self._server.window_log_message(types.LogMessageParams(type=kind, message=message))

    def notify(self, method: str, params: Any) -> None:
        self._protocol.notify(method, params)

    async def apply_edit(self, edit: types.WorkspaceEdit, label: str) -> bool:
        """Whether the client applied ``edit`` (False when it does not answer in time)."""
        request = self._server.workspace_apply_edit_async(
            types.ApplyWorkspaceEditParams(edit=edit, label=label)
        )
        try:
            result = await asyncio.wait_for(request, CLIENT_ANSWER_TIMEOUT_S)
        except TimeoutError:
            logger.warning("the client did not answer workspace/applyEdit in time")
            return False
        return bool(result and result.applied)

    async def configuration(self, section: str) -> object:
        """The client's settings under ``section`` (workspace/configuration); None when it does
        not answer in time or answers nothing usable."""
        request = self._server.workspace_configuration_async(
            types.ConfigurationParams(items=[types.ConfigurationItem(section=section)])
        )
        try:
            pulled = await asyncio.wait_for(request, CLIENT_ANSWER_TIMEOUT_S)
        except TimeoutError:
            logger.warning("the client did not answer workspace/configuration in time")
            return None
        except Exception as error:  # an error answer: the options stay as they are
            logger.warning("workspace/configuration failed: %s", error)
            return None
        return pulled[0] if isinstance(pulled, list | tuple) and pulled else None

    async def begin_progress(self, kind: str, begin: types.WorkDoneProgressBegin) -> str | None:
        """A new work-done progress token, begun, when the client supports work-done progress
        and accepts the token; None otherwise (the work then goes on without progress)."""
        window = self.capabilities.window if self.capabilities else None
        if not (window and window.work_done_progress):
            return None
        token = f"spark-lsp/{kind}/{uuid.uuid4()}"
        progress = self._server.work_done_progress
        try:
            await asyncio.wait_for(progress.create_async(token), CLIENT_ANSWER_TIMEOUT_S)
        except TimeoutError:
            logger.warning("the client did not answer window/workDoneProgress/create in time")
            return None
        except Exception as error:  # the client refused the token
            logger.info("no work-done progress: %s", error)
            return None
        progress.begin(token, begin)
        return token

    def report_progress(self, token: str, value: types.WorkDoneProgressReport) -> None:
        self._server.work_done_progress.report(token, value)

    def end_progress(self, token: str, value: types.WorkDoneProgressEnd) -> None:
        self._server.work_done_progress.end(token, value)

    def on_progress_cancelled(self, token: str, callback: Any) -> None:
        """Call ``callback()`` when the user cancels the progress (its cancel button)."""
        cancelled = self._server.work_done_progress.tokens.get(token)
        if cancelled is not None:
            cancelled.add_done_callback(lambda _future: callback())
