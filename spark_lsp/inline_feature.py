"""``textDocument/inlineCompletion`` (LSP 3.18) and the ``textDocument/completion`` fallback.

Handlers resolve the request's position in the negotiated encoding, ask the completion pipeline,
and convert its suggestion back. The completion fallback is advertised only to clients that do not
support inline completion, where its items are marked as AI suggestions and sort last.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer

from spark_lsp import convert
from spark_lsp.completion.pipeline import CompletionService, Suggestion
from spark_lsp.documents import DocumentSnapshot, InvalidChange
from spark_lsp.protocol import as_plain

if TYPE_CHECKING:
    from spark_lsp.engine.worker import InferenceWorker
    from spark_lsp.server import SparkLanguageServer

logger = logging.getLogger(__name__)

ACCEPT_COMMAND = "spark-lsp.didAcceptCompletionItem"
STATISTICS_COMMAND = "spark-lsp.showStatistics"
# copilot-language-server's names for what an editor shows and partially accepts.
DID_SHOW = "textDocument/didShowCompletion"
DID_PARTIALLY_ACCEPT = "textDocument/didPartiallyAcceptCompletion"
KEPT_ITEMS = 200
# sortText that puts the AI item after ("~" sorts after letters) or before ("!") other items.
FALLBACK_SORT_TEXT = {"last": "~spark", "first": "!spark"}


@dataclass(frozen=True)
class ShownItem:
    suggestion: Suggestion
    snapshot: DocumentSnapshot
    line: int
    column: int  # the cursor when the suggestion was made, code points


class ShownItems:
    """The suggestions handed out recently, by item id, for acceptance signals and prefetch."""

    def __init__(self) -> None:
        self._items: OrderedDict[int, ShownItem] = OrderedDict()
        self._ids = itertools.count(1)

    def add(self, item: ShownItem) -> int:
        item_id = next(self._ids)
        self._items[item_id] = item
        while len(self._items) > KEPT_ITEMS:
            self._items.popitem(last=False)
        return item_id

    def get(self, item_id: object) -> ShownItem | None:
        return self._items.get(item_id) if isinstance(item_id, int) else None

    def text(self, item_id: object) -> str | None:
        item = self.get(item_id)
        return item.suggestion.text if item is not None else None


def item_id_of(params: object) -> object:
    """The item id in a notification's ``{item: {command: {arguments: [id]}}}`` params."""
    plain = as_plain(params)
    item = plain.get("item") if isinstance(plain, dict) else None
    command = item.get("command") if isinstance(item, dict) else None
    arguments = command.get("arguments") if isinstance(command, dict) else None
    return arguments[0] if isinstance(arguments, list) and arguments else None


def build_service(server: SparkLanguageServer) -> CompletionService:
    async def worker_for(automatic: bool) -> InferenceWorker | None:
        if automatic and server.models.worker is None:
            await server.models.start()
            return None  # do not make a keystroke wait for the model to load
        return await server.models.ready_worker()

    def current_version(uri: str) -> int | None:
        return server.store.document(uri).version if uri in server.store else None

    return CompletionService(worker_for, current_version, context=server.context)


def resolve_position(
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
        started = time.perf_counter()
        snapshot = ls.snapshot(params.text_document.uri)
        line, column = resolve_position(ls, snapshot, params.position)
        automatic = params.context.trigger_kind == types.InlineCompletionTriggerKind.Automatic
        selected = None
        if (info := params.context.selected_completion_info) is not None:
            start_line, start_column = resolve_position(ls, snapshot, info.range.start)
            end_line, end_column = resolve_position(ls, snapshot, info.range.end)
            if start_line != line or end_line != line or end_column != column:
                raise JsonRpcInvalidParams("selectedCompletionInfo.range must end at the cursor")
            selected = (start_column, info.text)
        with ls.status.generating() as timing:
            suggestion = await ls.completions.suggest(snapshot, line, column, automatic, selected)
            if suggestion is None:
                return types.InlineCompletionList(items=[])
            timing["latencyMs"] = (time.perf_counter() - started) * 1000
        ls.usage.record_suggested(timing["latencyMs"])
        item_id = ls.shown_items.add(ShownItem(suggestion, snapshot, line, column))
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
        line, column = resolve_position(ls, snapshot, params.position)
        automatic = (
            params.context is None
            or params.context.trigger_kind != types.CompletionTriggerKind.Invoked
        )
        with ls.status.generating() as timing:
            started = time.perf_counter()
            suggestion = await ls.completions.suggest(snapshot, line, column, automatic)
            if suggestion is None:
                return types.CompletionList(is_incomplete=True, items=[])
            timing["latencyMs"] = (time.perf_counter() - started) * 1000
        label = suggestion.text.strip().split("\n", 1)[0][:60]
        item = types.CompletionItem(
            label=label,
            kind=types.CompletionItemKind.Snippet,
            detail="AI suggestion (spark-lsp)",
            label_details=types.CompletionItemLabelDetails(description="spark-lsp"),
            sort_text=FALLBACK_SORT_TEXT[ls.completions.settings.fallback_sort],
            filter_text=snapshot.line(line)[suggestion.start_column : column] + suggestion.text,
            text_edit=types.TextEdit(
                range=_lsp_range(ls, snapshot, line, suggestion, column),
                new_text=suggestion.text,
            ),
            insert_text_format=types.InsertTextFormat.PlainText,
        )
        return types.CompletionList(is_incomplete=True, items=[item])

    # pygls resolves a command's type hints at run time, so these name pygls' own class.
    @server.command(ACCEPT_COMMAND)
    async def accepted(ls: LanguageServer, *args: object) -> None:
        item = server.shown_items.get(args[0] if args else None)
        if item is None:
            logger.info("accept for an unknown or expired item %s", args)
            return
        server.usage.record_accepted(len(item.suggestion.text))
        await server.completions.prefetch_after_accept(
            item.snapshot, item.line, item.column, item.suggestion
        )

    @server.command(STATISTICS_COMMAND)
    def statistics(ls: LanguageServer, *args: object) -> dict[str, float | int | None]:
        return server.usage.stats.summary()

    @server.feature(DID_SHOW)
    def did_show(ls: LanguageServer, params: object) -> None:
        if server.shown_items.text(item_id_of(params)) is not None:
            server.usage.record_shown()

    @server.feature(DID_PARTIALLY_ACCEPT)
    def did_partially_accept(ls: LanguageServer, params: object) -> None:
        plain = as_plain(params)
        length = plain.get("acceptedLength") if isinstance(plain, dict) else None
        if server.shown_items.text(item_id_of(params)) is not None and isinstance(length, int):
            server.usage.record_partially_accepted(max(0, length))


def hidden_features(capabilities: types.ClientCapabilities) -> set[str]:
    """Features not to advertise to this client: the completion fallback when it has inline."""
    text_document = capabilities.text_document
    if text_document is not None and text_document.inline_completion is not None:
        return {types.TEXT_DOCUMENT_COMPLETION}
    return set()
