"""The pygls language server: wires LSP methods to the services, and nothing more.

Text synchronisation goes to the incremental DocumentStore (pygls' own workspace documents rebuild
the whole text on each change). Request handlers fetch a document snapshot, call a service and
convert the result; errors from the store become JSON-RPC errors the client can show.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer

from spark_lsp import __version__, actions_feature, convert, inline_feature
from spark_lsp.context.builder import PromptBuilder
from spark_lsp.context.service import ContextService, uri_to_path
from spark_lsp.context.tokens import TokenCounter
from spark_lsp.documents import (
    DocumentError,
    DocumentOutOfSync,
    DocumentSnapshot,
    DocumentStore,
    InvalidChange,
    PositionEncoding,
    UnknownDocument,
)
from spark_lsp.model_service import ModelService
from spark_lsp.options import SECTION, ServerOptions, merge_options, section_of, to_wire
from spark_lsp.protocol import SparkProtocol, UnreadableMessage, as_plain
from spark_lsp.settings import EngineSettings
from spark_lsp.stats import StatsStore
from spark_lsp.status import StatusReporter

if TYPE_CHECKING:
    from spark_lsp.engine.base import Engine

logger = logging.getLogger(__name__)

SERVER_NAME = "spark-lsp"
DEBUG_DOCUMENT_REQUEST = "spark/debug/document"
DEBUG_COUNTERS_REQUEST = "spark/debug/counters"
DEBUG_OPTIONS_REQUEST = "spark/debug/options"
DEBUG_PROMPT_REQUEST = "spark/debug/prompt"


class RequestFailed(JsonRpcException):
    """LSP's RequestFailed (-32803): the request was valid but the server cannot serve it now."""

    CODE = -32803


class SparkLanguageServer(LanguageServer):
    protocol: SparkProtocol

    def __init__(self, settings: EngineSettings) -> None:
        super().__init__(SERVER_NAME, __version__, protocol_cls=SparkProtocol)
        self.options = ServerOptions(engine=settings)
        self.store = DocumentStore()
        self.status = StatusReporter(self.protocol.notify)
        self.models = ModelService(self, settings, self.status)
        self.context = ContextService(self.store.snapshots)
        self.models.on_ready.append(self._attach_context)
        self.completions = inline_feature.build_service(self)
        self.shown_items = inline_feature.ShownItems()
        self.usage = StatsStore()

    @property
    def encoding(self) -> PositionEncoding:
        return convert.position_encoding(self.protocol.position_encoding)

    def snapshot(self, uri: str) -> DocumentSnapshot:
        """The document's current text, or a JSON-RPC error the client can show."""
        try:
            return self.store.snapshot(uri)
        except UnknownDocument as error:
            raise JsonRpcInvalidParams(str(error)) from None
        except DocumentOutOfSync as error:
            raise RequestFailed(str(error)) from None

    def on_unreadable_notification(self, message: UnreadableMessage) -> None:
        """A notification we could not read; a lost didChange leaves its document out of sync."""
        if message.method != types.TEXT_DOCUMENT_DID_CHANGE:
            return
        params = message.params if isinstance(message.params, dict) else {}
        text_document = params.get("textDocument")
        uri = text_document.get("uri") if isinstance(text_document, dict) else None
        if isinstance(uri, str) and self.store.mark_out_of_sync(uri, "unreadable didChange"):
            self.warn_client(f"{uri} is out of sync: a didChange could not be read")

    def hidden_features(self, capabilities: types.ClientCapabilities) -> set[str]:
        return inline_feature.hidden_features(capabilities)

    def _attach_context(self, engine: Engine, counter: TokenCounter) -> None:
        self.context.builder = PromptBuilder(counter, engine.template, engine.add_bos)
        self.context.context_size = engine.n_ctx

    def apply_options(self, raw: object, source: str) -> None:
        """Options from the client over the current ones; what was wrong with them is shown once
        and logged, and the rest still applies."""
        options, problems = merge_options(self.options, raw)
        if problems:
            message = f"spark-lsp: {source}: " + "; ".join(problems)
            logger.warning("%s", message)
            self.window_show_message(
                types.ShowMessageParams(type=types.MessageType.Warning, message=message)
            )
        if options.engine != self.options.engine and self.models.started:
            changed = [
                name
                for name, value in vars(options.engine).items()
                if getattr(self.options.engine, name) != value
            ]
            message = f"spark-lsp: restart the server to apply engine options: {', '.join(changed)}"
            logger.info("%s", message)
            self.window_show_message(
                types.ShowMessageParams(type=types.MessageType.Info, message=message)
            )
        else:
            self.models.settings = options.engine
        self.options = options
        self.completions.settings = options.completion
        if options.context != self.context.settings:
            self.context.set_settings(options.context)

    def warn_client(self, message: str) -> None:
        self.window_log_message(
            types.LogMessageParams(type=types.MessageType.Warning, message=message)
        )


def create_server(settings: EngineSettings | None = None) -> SparkLanguageServer:
    server = SparkLanguageServer(settings or EngineSettings(preload=False))
    _register_lifecycle(server)
    _register_text_sync(server)
    inline_feature.register(server)
    actions_feature.register(server)
    _register_debug_requests(server)
    return server


def _register_lifecycle(server: SparkLanguageServer) -> None:
    @server.feature(types.INITIALIZE)
    def initialize(ls: SparkLanguageServer, params: types.InitializeParams) -> None:
        ls.apply_options(section_of(params.initialization_options), "initializationOptions")
        ls.context.set_roots(workspace_roots(params))

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(
        ls: SparkLanguageServer, params: types.DidChangeConfigurationParams
    ) -> None:
        raw = section_of(params.settings)
        if raw is None and _can_pull_configuration(ls):
            pulled = await ls.workspace_configuration_async(
                types.ConfigurationParams(items=[types.ConfigurationItem(section=SECTION)])
            )
            raw = pulled[0] if pulled else None
        ls.apply_options(raw, "workspace/didChangeConfiguration")

    @server.feature(types.INITIALIZED)
    async def initialized(ls: SparkLanguageServer, params: types.InitializedParams) -> None:
        if ls.models.settings.preload:
            await ls.models.start()


def workspace_roots(params: types.InitializeParams) -> list[Path]:
    """The workspace folders' paths (file URIs only), else the root URI's or root path's."""
    uris = [folder.uri for folder in params.workspace_folders or []]
    if not uris and params.root_uri:
        uris = [params.root_uri]
    roots = [path for path in map(uri_to_path, uris) if path is not None]
    if not roots and params.root_path:
        roots = [Path(params.root_path)]
    return roots


def _can_pull_configuration(server: SparkLanguageServer) -> bool:
    workspace = server.client_capabilities.workspace if server.client_capabilities else None
    return bool(workspace and workspace.configuration)


def _register_text_sync(server: SparkLanguageServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: SparkLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        item = params.text_document
        ls.store.open(item.uri, item.language_id, item.version, item.text)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: SparkLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        changes = [convert.to_text_change(change) for change in params.content_changes]
        try:
            ls.store.change(uri, params.text_document.version, changes, ls.encoding)
            for change in changes:
                if change.range is not None:
                    last = change.range.start.line + change.text.count("\n")
                    ls.context.record_edit(uri, change.range.start.line, last)
        except InvalidChange as error:
            if error.newly_out_of_sync:
                ls.warn_client(f"{uri} is out of sync: {error}")
        except UnknownDocument as error:
            logger.warning("didChange ignored: %s", error)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE, types.SaveOptions(include_text=False))
    def did_save(ls: SparkLanguageServer, params: types.DidSaveTextDocumentParams) -> None:
        if params.text_document.uri not in ls.store:
            logger.warning("didSave for %s, which is not open", params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: SparkLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        try:
            ls.store.close(uri)
        except DocumentError as error:
            logger.warning("didClose ignored: %s", error)
        ls.completions.forget(uri)


def _register_debug_requests(server: SparkLanguageServer) -> None:
    @server.feature(DEBUG_DOCUMENT_REQUEST)
    def debug_document(ls: SparkLanguageServer, params: Any) -> dict[str, Any]:
        """The server's view of one document, to diagnose a suspected desync."""
        params = as_plain(params)
        uri = params.get("uri") if isinstance(params, dict) else None
        if not isinstance(uri, str):
            raise JsonRpcInvalidParams(f"{DEBUG_DOCUMENT_REQUEST} needs params {{uri: string}}")
        try:
            document = ls.store.document(uri)
        except UnknownDocument as error:
            raise JsonRpcInvalidParams(str(error)) from None
        return {
            "uri": uri,
            "version": document.version,
            "lineCount": document.line_count,
            "inSync": document.out_of_sync_reason is None,
            "outOfSyncReason": document.out_of_sync_reason,
            "text": document.text,
        }

    @server.feature(DEBUG_OPTIONS_REQUEST)
    def debug_options(ls: SparkLanguageServer, params: Any) -> dict[str, Any]:
        """The options in effect, as a client would write them."""
        return to_wire(ls.options)

    @server.feature(DEBUG_PROMPT_REQUEST)
    def debug_prompt(ls: SparkLanguageServer, params: Any) -> dict[str, Any]:
        """What a completion at a position would send the model: the extra context chosen, the
        window's extent and the token count against the budget."""
        params = as_plain(params)
        uri = params.get("textDocument", {}).get("uri") if isinstance(params, dict) else None
        position = params.get("position") if isinstance(params, dict) else None
        if not isinstance(uri, str) or not isinstance(position, dict):
            raise JsonRpcInvalidParams(
                f"{DEBUG_PROMPT_REQUEST} needs params {{textDocument: {{uri}}, position}}"
            )
        snapshot = ls.snapshot(uri)
        try:
            position = types.Position(line=position["line"], character=position["character"])
        except (KeyError, TypeError) as error:
            raise JsonRpcInvalidParams(f"bad position: {error}") from None
        line, column = inline_feature.resolve_position(ls, snapshot, position)
        settings = ls.completions.settings
        max_new = max(settings.max_tokens_line, settings.max_tokens_block)
        built = ls.context.build(snapshot, line, column, max_new)
        if built is None:
            raise RequestFailed("the model is not loaded yet: its tokenizer sets the budget")
        return {
            "tokens": built.tokens,
            "budget": built.budget,
            "nearTokens": built.near_tokens,
            "firstLine": built.window.first_line,
            "lastLine": built.window.last_line,
            "extraContext": [{"path": path, "text": text} for path, text in built.extra_context],
        }

    @server.feature(DEBUG_COUNTERS_REQUEST)
    def debug_counters(ls: SparkLanguageServer, params: Any) -> dict[str, int]:
        """Counters for tests and diagnosis: model calls versus suggestions served from cache."""
        loaded = ls.models.engine.done() and ls.models.engine.exception() is None
        engine = ls.models.engine.result() if loaded else None
        return {
            "modelCalls": ls.completions.model_calls,
            "contextWarmups": ls.completions.warmups,
            "cacheHits": ls.completions.cache_hits,
            "engineRequests": getattr(engine, "requests", 0),
            "acceptedItems": ls.usage.stats.accepted,
            "localFallbacks": getattr(engine, "fallbacks", 0),
        }
