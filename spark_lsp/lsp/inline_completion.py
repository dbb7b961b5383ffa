"""``textDocument/inlineCompletion`` (LSP 3.18), the ``textDocument/completion`` fallback, and the
acceptance signals.

Handlers resolve the request's position in the negotiated encoding, ask the completion service,
and convert its suggestion back. The completion fallback is advertised only to clients that do not
support inline completion, where its items are marked as AI suggestions and sort last. Accepts
(the item's command), shows and partial accepts (copilot-language-server's notifications) feed the
local statistics; an accept also prefetches the next line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer

from spark_lsp.completion.service import CompletionService, Suggestion
from spark_lsp.completion.shown import ShownItem, ShownItems
from spark_lsp.documents import DocumentError, DocumentSnapshot
from spark_lsp.lifecycle import DocumentHooks
from spark_lsp.lsp import convert
from spark_lsp.lsp.client import Client
from spark_lsp.lsp.next_edit import on_line_item
from spark_lsp.lsp.protocol import as_plain
from spark_lsp.lsp.status import StatusReporter
from spark_lsp.nextedit.service import NextEdit
from spark_lsp.stats import StatsStore

logger = logging.getLogger(__name__)

ACCEPT_COMMAND = "spark-lsp.didAcceptCompletionItem"
STATISTICS_COMMAND = "spark-lsp.showStatistics"
# copilot-language-server's names for what an editor shows and partially accepts.
DID_SHOW = "textDocument/didShowCompletion"
DID_PARTIALLY_ACCEPT = "textDocument/didPartiallyAcceptCompletion"
# sortText that puts the AI item after ("~" sorts after letters) or before ("!") other items.
FALLBACK_SORT_TEXT = {"last": "~spark", "first": "!spark"}

# The next edit known for a document version (invoked: computed if need be).
NextEditLookup = Callable[[DocumentSnapshot, bool], Awaitable[NextEdit | None]]


def item_id_of(params: object) -> object:
    """The item id in a notification's ``{item: {command: {arguments: [id]}}}`` params."""
    plain = as_plain(params)
    item = plain.get("item") if isinstance(plain, dict) else None
    command = item.get("command") if isinstance(item, dict) else None
    arguments = command.get("arguments") if isinstance(command, dict) else None
    return arguments[0] if isinstance(arguments, list) and arguments else None


class InlineCompletion(DocumentHooks):
    def __init__(
        self,
        client: Client,
        snapshot: Callable[[str], DocumentSnapshot],
        completions: CompletionService,
        status: StatusReporter,
        usage: StatsStore,
        next_edit: NextEditLookup | None = None,
    ) -> None:
        self._client = client
        self._next_edit = next_edit
        self._snapshot = snapshot
        self._completions = completions
        self._status = status
        self._usage = usage
        self.shown = ShownItems()

    def hidden_features(self, capabilities: types.ClientCapabilities) -> set[str]:
        """The completion fallback is not advertised to a client with inline completion."""
        text_document = capabilities.text_document
        if text_document is not None and text_document.inline_completion is not None:
            return {types.TEXT_DOCUMENT_COMPLETION}
        return set()

    def closed(self, uri: str) -> None:
        self.shown.forget(uri)

    def register(self, server: LanguageServer) -> None:
        # pygls passes the server to a handler whose first parameter is named ``ls``; the
        # untyped params of commands and custom methods would otherwise be taken for it.
        @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
        async def inline_completion(
            params: types.InlineCompletionParams,
        ) -> types.InlineCompletionList:
            return await self.inline_completion(params)

        @server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions())
        async def completion(params: types.CompletionParams) -> types.CompletionList:
            return await self.completion(params)

        @server.command(ACCEPT_COMMAND)
        async def accepted(ls: LanguageServer, *args: object) -> None:
            await self.accepted(args[0] if args else None)

        @server.command(STATISTICS_COMMAND)
        def statistics(ls: LanguageServer, *args: object) -> dict[str, float | int | None]:
            return self._usage.stats.summary()

        @server.feature(DID_SHOW)
        def did_show(ls: LanguageServer, params: object) -> None:
            if self.shown.text(item_id_of(params)) is not None:
                self._usage.record_shown()

        @server.feature(DID_PARTIALLY_ACCEPT)
        def did_partially_accept(ls: LanguageServer, params: object) -> None:
            plain = as_plain(params)
            length = plain.get("acceptedLength") if isinstance(plain, dict) else None
            if self.shown.text(item_id_of(params)) is not None:
                self._usage.record_partially_accepted(length)

    async def inline_completion(
        self, params: types.InlineCompletionParams
    ) -> types.InlineCompletionList:
        started = time.perf_counter()
        snapshot = self._snapshot(params.text_document.uri)
        line, column = self._cursor(snapshot, params.position)
        automatic = params.context.trigger_kind == types.InlineCompletionTriggerKind.Automatic
        selected = self._selected(snapshot, line, column, params.context.selected_completion_info)
        with self._status.generating() as timing:
            suggestion = await self._completions.suggest(
                snapshot, line, column, automatic, selected
            )
            if suggestion is None:
                items = await self._next_edit_items(snapshot, line, automatic)
                return types.InlineCompletionList(items=items if self._holds(snapshot) else [])
            if not self._holds(snapshot):
                return types.InlineCompletionList(items=[])
            timing["latencyMs"] = (time.perf_counter() - started) * 1000
        self._usage.record_suggested(timing["latencyMs"])
        return types.InlineCompletionList(
            items=self._inline_items(snapshot, line, column, suggestion)
        )

    async def _next_edit_items(
        self, snapshot: DocumentSnapshot, line: int, automatic: bool
    ) -> list[types.InlineCompletionItem]:
        """With no completion at the cursor: the next edit of the cursor's line, as an item
        whose range is the line (LSP 3.18 lets an item replace a range)."""
        if self._next_edit is None:
            return []
        answer = await self._next_edit(snapshot, not automatic)
        item = on_line_item(answer, snapshot, line, self._client.encoding) if answer else None
        return [item] if item is not None else []

    def _inline_items(
        self, snapshot: DocumentSnapshot, line: int, column: int, suggestion: Suggestion
    ) -> list[types.InlineCompletionItem]:
        """The suggestion and its alternatives as items, each remembered as shown."""
        others = [
            replace(suggestion, text=text, alternatives=()) for text in suggestion.alternatives
        ]
        items = []
        for index, shown in enumerate((replace(suggestion, alternatives=()), *others)):
            item_id = self.shown.add(ShownItem(shown, snapshot, line, column), alongside=index > 0)
            items.append(
                types.InlineCompletionItem(
                    insert_text=shown.text,
                    range=self._range(snapshot, line, shown, column),
                    command=types.Command(
                        title="Accept suggestion", command=ACCEPT_COMMAND, arguments=[item_id]
                    ),
                )
            )
        return items

    async def completion(self, params: types.CompletionParams) -> types.CompletionList:
        snapshot = self._snapshot(params.text_document.uri)
        line, column = self._cursor(snapshot, params.position)
        automatic = (
            params.context is None
            or params.context.trigger_kind != types.CompletionTriggerKind.Invoked
        )
        with self._status.generating() as timing:
            started = time.perf_counter()
            suggestion = await self._completions.suggest(snapshot, line, column, automatic)
            if suggestion is None or not self._holds(snapshot):
                return types.CompletionList(is_incomplete=True, items=[])
            timing["latencyMs"] = (time.perf_counter() - started) * 1000
        item = self._completion_item(snapshot, line, column, suggestion)
        return types.CompletionList(is_incomplete=True, items=[item])

    def _completion_item(
        self, snapshot: DocumentSnapshot, line: int, column: int, suggestion: Suggestion
    ) -> types.CompletionItem:
        label = suggestion.text.strip().split("\n", 1)[0][:60]
        return types.CompletionItem(
            label=label,
            kind=types.CompletionItemKind.Snippet,
            detail="AI suggestion (spark-lsp)",
            label_details=types.CompletionItemLabelDetails(description="spark-lsp"),
            sort_text=FALLBACK_SORT_TEXT[self._completions.settings.fallback_sort],
            filter_text=snapshot.line(line)[suggestion.start_column : column] + suggestion.text,
            text_edit=types.TextEdit(
                range=self._range(snapshot, line, suggestion, column),
                new_text=suggestion.text,
            ),
            insert_text_format=types.InsertTextFormat.PlainText,
        )

    async def accepted(self, item_id: object) -> None:
        item = self.shown.get(item_id)
        if item is None:
            logger.info("accept for an unknown or expired item %s", item_id)
            return
        self._usage.record_accepted(len(item.suggestion.text))
        if item.snapshot is not None:  # an older item of its document: no prefetch
            await self._completions.prefetch_after_accept(
                item.snapshot, item.line, item.column, item.suggestion
            )

    def _holds(self, snapshot: DocumentSnapshot) -> bool:
        """Whether the document is still the text ``snapshot`` was taken of (same version, same
        opening): items carry ranges, which on other text would replace the wrong characters."""
        try:
            now = self._snapshot(snapshot.uri)
        except (DocumentError, JsonRpcException):  # closed, or out of sync
            return False
        return (now.version, now.generation) == (snapshot.version, snapshot.generation)

    def _cursor(self, snapshot: DocumentSnapshot, position: types.Position) -> tuple[int, int]:
        return convert.to_code_points(snapshot, position, self._client.encoding)

    def _selected(
        self,
        snapshot: DocumentSnapshot,
        line: int,
        column: int,
        info: types.SelectedCompletionInfo | None,
    ) -> tuple[int, str] | None:
        """The popup item the suggestion must extend: (its start column, its text)."""
        if info is None:
            return None
        start_line, start_column = self._cursor(snapshot, info.range.start)
        end_line, end_column = self._cursor(snapshot, info.range.end)
        if start_line != line or end_line != line or end_column != column:
            raise JsonRpcInvalidParams("selectedCompletionInfo.range must end at the cursor")
        return start_column, info.text

    def _range(
        self, snapshot: DocumentSnapshot, line: int, suggestion: Suggestion, cursor: int
    ) -> types.Range:
        """From the suggestion's start to the cursor (a cursor past the end of the line was
        clamped, so the range uses the resolved column, not the request's)."""
        encoding = self._client.encoding
        return convert.line_range(snapshot, line, suggestion.start_column, cursor, encoding)
