"""``textDocument/inlineCompletion`` (LSP 3.18) and the ``textDocument/completion`` fallback.

Handlers resolve the request's position in the negotiated encoding, ask the completion pipeline,
and convert its suggestion back. The completion fallback is advertised only to clients that do not
support inline completion, where its items are marked as AI suggestions and sort last.
"""

from __future__ import annotations

import itertools
import logging
from typing import TYPE_CHECKING

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer

from spark_lsp import convert
from spark_lsp.completion.pipeline import CompletionService, Suggestion
from spark_lsp.documents import DocumentSnapshot, InvalidChange

if TYPE_CHECKING:
    from spark_lsp.server import SparkLanguageServer

logger = logging.getLogger(__name__)

ACCEPT_COMMAND = "spark-lsp.didAcceptCompletionItem"
_item_ids = itertools.count(1)


def build_service(server: SparkLanguageServer) -> CompletionService:
    async def worker_for(automatic: bool):  # noqa: ANN202 - a coroutine returning the worker
        if automatic and server.models.worker is None:
            await server.models.start()
            return None  # do not make a keystroke wait for the model to load
        return await server.models.ready_worker()

    def current_version(uri: str) -> int | None:
        return server.store.document(uri).version if uri in server.store else None

    return CompletionService(worker_for, current_version)


def _resolve(
    server: SparkLanguageServer, snapshot: DocumentSnapshot, position: types.Position
) -> tuple[int, int]:
    try:
        return snapshot.to_code_points(convert.to_position(position), server.encoding)
    except InvalidChange as error:
        raise JsonRpcInvalidParams(f"bad position: {error}") from None


def _lsp_range(
    server: SparkLanguageServer,
    snapshot: DocumentSnapshot,
    line: int,
    suggestion: Suggestion,
    cursor_column: int,
) -> types.Range:
    """From the suggestion's start to the cursor, in the negotiated encoding (a cursor past the
    end of the line was clamped, so the range uses the resolved column, not the request's)."""
    start = snapshot.to_units(line, suggestion.start_column, server.encoding)
    end = snapshot.to_units(line, cursor_column, server.encoding)
    return types.Range(
        start=types.Position(line=line, character=start),
        end=types.Position(line=line, character=end),
    )


def register(server: SparkLanguageServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(
        ls: SparkLanguageServer, params: types.InlineCompletionParams
    ) -> types.InlineCompletionList:
        snapshot = ls.snapshot(params.text_document.uri)
        line, column = _resolve(ls, snapshot, params.position)
        automatic = params.context.trigger_kind == types.InlineCompletionTriggerKind.Automatic
        selected = None
        if (info := params.context.selected_completion_info) is not None:
            start_line, start_column = _resolve(ls, snapshot, info.range.start)
            end_line, end_column = _resolve(ls, snapshot, info.range.end)
            if start_line != line or end_line != line or end_column != column:
                raise JsonRpcInvalidParams("selectedCompletionInfo.range must end at the cursor")
            selected = (start_column, info.text)
        suggestion = await ls.completions.suggest(snapshot, line, column, automatic, selected)
        if suggestion is None:
            return types.InlineCompletionList(items=[])
        item_id = next(_item_ids)
        return types.InlineCompletionList(
            items=[
                types.InlineCompletionItem(
                    insert_text=suggestion.text,
                    range=_lsp_range(ls, snapshot, line, suggestion, column),
                    command=types.Command(
                        title="Accept suggestion", command=ACCEPT_COMMAND, arguments=[item_id]
                    ),
                )
            ]
        )

    @server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions())
    async def completion(
        ls: SparkLanguageServer, params: types.CompletionParams
    ) -> types.CompletionList:
        snapshot = ls.snapshot(params.text_document.uri)
        line, column = _resolve(ls, snapshot, params.position)
        automatic = (
            params.context is None
            or params.context.trigger_kind != types.CompletionTriggerKind.Invoked
        )
        suggestion = await ls.completions.suggest(snapshot, line, column, automatic)
        if suggestion is None:
            return types.CompletionList(is_incomplete=True, items=[])
        label = suggestion.text.strip().split("\n", 1)[0][:60]
        item = types.CompletionItem(
            label=label,
            kind=types.CompletionItemKind.Snippet,
            detail="AI suggestion (spark-lsp)",
            label_details=types.CompletionItemLabelDetails(description="spark-lsp"),
            sort_text="~spark",  # after the language server's own items
            filter_text=snapshot.line(line)[suggestion.start_column : column] + suggestion.text,
            text_edit=types.TextEdit(
                range=_lsp_range(ls, snapshot, line, suggestion, column),
                new_text=suggestion.text,
            ),
            insert_text_format=types.InsertTextFormat.PlainText,
        )
        return types.CompletionList(is_incomplete=True, items=[item])

    # pygls resolves a command's type hints at run time, so this one names pygls' own class.
    @server.command(ACCEPT_COMMAND)
    def accepted(ls: LanguageServer, *args: object) -> None:
        server.accepted_items += 1
        logger.debug("suggestion %s accepted", args)


def hidden_features(capabilities: types.ClientCapabilities) -> set[str]:
    """Features not to advertise to this client: the completion fallback when it has inline."""
    text_document = capabilities.text_document
    if text_document is not None and text_document.inline_completion is not None:
        return {types.TEXT_DOCUMENT_COMPLETION}
    return set()
