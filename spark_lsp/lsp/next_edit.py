"""Next-edit suggestions over LSP: ``spark/nextEdit`` and copilot-language-server's
``textDocument/copilotInlineEdit`` (same params, ``{textDocument, position}``; the answer
``{edits: [{text, range, textDocument: {uri, version}, command}]}``), and the accept command.

An answer is for the version the client named; a document that has moved on since gets
ContentModified, so a client never applies an edit computed for other text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from lsprotocol import types
from pygls.exceptions import JsonRpcContentModified, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer

from spark_lsp.documents import DocumentSnapshot, PositionEncoding, line_content
from spark_lsp.lsp import convert
from spark_lsp.lsp.errors import RequestFailed
from spark_lsp.lsp.protocol import as_plain
from spark_lsp.nextedit.service import NextEdit, NextEditFailed, NextEditService

logger = logging.getLogger(__name__)

NEXT_EDIT = "spark/nextEdit"
COPILOT_INLINE_EDIT = "textDocument/copilotInlineEdit"
ACCEPT_COMMAND = "spark-lsp.didAcceptNextEdit"


def requested_document(params: object) -> tuple[str, int | None]:
    """The ``textDocument`` of the params: its uri, and its version when given."""
    plain = as_plain(params)
    document = plain.get("textDocument") if isinstance(plain, dict) else None
    uri = document.get("uri") if isinstance(document, dict) else None
    if not isinstance(uri, str):
        raise JsonRpcInvalidParams("params.textDocument.uri must be a string")
    version = document.get("version") if isinstance(document, dict) else None
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
        raise JsonRpcInvalidParams("params.textDocument.version must be an integer")
    return uri, version


def _accept_argument(answer: NextEdit, index: int) -> str:
    return f"{answer.uri}@{answer.version}#{index}"


def on_line_item(
    answer: NextEdit, snapshot: DocumentSnapshot, line: int, encoding: PositionEncoding
) -> types.InlineCompletionItem | None:
    """The answer's edit of ``line`` as an inline completion item whose range is the whole
    line, when that edit replaces the line alone with one line; None otherwise."""
    if answer.version != snapshot.version or not 0 <= line < len(snapshot.lines):
        return None
    for index, edit in enumerate(answer.edits):
        if not edit.first <= line < max(edit.last, edit.first + 1):
            continue
        new_text, old_text = line_content(edit.text), snapshot.line(line)
        if (edit.first, edit.last) != (line, line + 1) or "\n" in new_text or "\r" in new_text:
            return None  # more than the line: for spark/nextEdit and copilotInlineEdit
        return types.InlineCompletionItem(
            insert_text=new_text,
            range=convert.line_range(snapshot, line, 0, len(old_text), encoding),
            command=types.Command(
                title="Accept next edit",
                command=ACCEPT_COMMAND,
                arguments=[_accept_argument(answer, index)],
            ),
        )
    return None


def as_edits(answer: NextEdit | None) -> dict[str, object]:
    """The answer in copilot-language-server's shape (whole-line ranges: any encoding)."""
    if answer is None:
        return {"edits": []}
    edits = []
    for index, edit in enumerate(answer.edits):
        edits.append(
            {
                "text": edit.text,
                "range": {
                    "start": {"line": edit.first, "character": 0},
                    "end": {"line": edit.last, "character": 0},
                },
                "textDocument": {"uri": answer.uri, "version": answer.version},
                "command": {
                    "title": "Accept next edit",
                    "command": ACCEPT_COMMAND,
                    "arguments": [_accept_argument(answer, index)],
                },
            }
        )
    return {"edits": edits, "source": answer.source}


class NextEdits:
    def __init__(
        self, snapshot: Callable[[str], DocumentSnapshot], service: NextEditService
    ) -> None:
        self._snapshot = snapshot
        self._service = service

    def register(self, server: LanguageServer) -> None:
        @server.feature(NEXT_EDIT)
        async def next_edit(ls: LanguageServer, params: object) -> dict[str, object]:
            return await self.next_edit(params)

        @server.feature(COPILOT_INLINE_EDIT)
        async def copilot_inline_edit(ls: LanguageServer, params: object) -> dict[str, object]:
            return await self.next_edit(params)

        @server.command(ACCEPT_COMMAND)
        def accepted(ls: LanguageServer, *args: object) -> None:
            # Clients built for copilot-language-server call it on accept; it only logs.
            logger.info("next edit accepted: %s", args[0] if args else "")

    async def for_inline(self, snapshot: DocumentSnapshot, invoked: bool) -> NextEdit | None:
        """The answer for an inline completion request that has no completion: the one known
        for this version; an invoked request has it computed if need be (None when the model
        failed: the service logged why, and the completion request itself succeeded)."""
        if not invoked:
            return self._service.answered(snapshot)
        try:
            return await self._service.suggest(snapshot)
        except NextEditFailed:
            return None

    async def next_edit(self, params: object) -> dict[str, object]:
        uri, version = requested_document(params)
        snapshot = self._snapshot(uri)
        if version is not None and version != snapshot.version:
            raise JsonRpcContentModified(f"{uri} is at version {snapshot.version}, not {version}")
        try:
            answer = await self._service.suggest(snapshot)
        except NextEditFailed as error:
            raise RequestFailed(str(error)) from None
        if self._snapshot(uri).version != snapshot.version:  # and still open: it raises if not
            raise JsonRpcContentModified(f"{uri} changed while its next edit was computed")
        return as_edits(answer)
