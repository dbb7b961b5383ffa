"""Text synchronisation: ``didOpen``, ``didChange``, ``didSave``, ``didClose`` into the incremental
document store (pygls' own workspace documents rebuild the whole text on every change).

A change that cannot be applied leaves its document out of sync (one warning to the client);
so does a didChange whose params could not even be read. Edits also feed the recent-edits context.
"""

from __future__ import annotations

import logging

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from spark_lsp.documents import (
    DocumentError,
    DocumentRefused,
    DocumentStore,
    InvalidChange,
    UnknownDocument,
)
from spark_lsp.lifecycle import Lifecycle
from spark_lsp.lsp import convert
from spark_lsp.lsp.client import Client
from spark_lsp.lsp.protocol import UnreadableMessage

logger = logging.getLogger(__name__)


class TextSync:
    def __init__(
        self,
        client: Client,
        store: DocumentStore,
        lifecycle: Lifecycle,
    ) -> None:
        """``lifecycle``: the features told of each document opened, changed and closed."""
        self._client = client
        self._store = store
        self._lifecycle = lifecycle

    def register(self, server: LanguageServer) -> None:
        @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
        def did_open(params: types.DidOpenTextDocumentParams) -> None:
            item = params.text_document
            try:
                self._store.open(item.uri, item.language_id, item.version, item.text)
            except DocumentRefused as error:
                logger.warning("didOpen refused: %s", error)
                self._client.show_message(types.MessageType.Warning, f"spark-lsp: {error}")
            else:
                self._lifecycle.opened(self._store.snapshot(item.uri))

        @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
        def did_change(params: types.DidChangeTextDocumentParams) -> None:
            self.change(params)

        @server.feature(types.TEXT_DOCUMENT_DID_SAVE, types.SaveOptions(include_text=False))
        def did_save(params: types.DidSaveTextDocumentParams) -> None:
            if params.text_document.uri not in self._store:
                logger.warning("didSave for %s, which is not open", params.text_document.uri)

        @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
        def did_close(params: types.DidCloseTextDocumentParams) -> None:
            uri = params.text_document.uri
            try:
                self._store.close(uri)
            except DocumentError as error:
                logger.warning("didClose ignored: %s", error)
            self._lifecycle.closed(uri)

    def change(self, params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        changes = [convert.to_text_change(change) for change in params.content_changes]
        try:
            self._store.change(uri, params.text_document.version, changes, self._client.encoding)
            for change in changes:
                if change.range is not None:
                    last = change.range.start.line + change.text.count("\n")
                    self._lifecycle.changed(uri, change.range.start.line, last)
        except InvalidChange as error:
            if error.newly_out_of_sync:
                self._warn(f"{uri} is out of sync: {error}")
        except UnknownDocument as error:
            logger.warning("didChange ignored: %s", error)

    def on_unreadable_notification(self, message: UnreadableMessage) -> None:
        """A notification we could not read; a lost didChange leaves its document out of sync."""
        if message.method != types.TEXT_DOCUMENT_DID_CHANGE:
            return
        params = message.params if isinstance(message.params, dict) else {}
        text_document = params.get("textDocument")
        uri = text_document.get("uri") if isinstance(text_document, dict) else None
        if isinstance(uri, str) and self._store.mark_out_of_sync(uri, "unreadable didChange"):
            self._warn(f"{uri} is out of sync: a didChange could not be read")

    def _warn(self, message: str) -> None:
        self._client.log_message(types.MessageType.Warning, message)
