"""Requests for tests and diagnosis: the server's view of a document, the options in effect, the
prompt a completion would send, and counters.

- ``spark/debug/document`` ``{uri}``: version, line count, sync state and text.
- ``spark/debug/options``: the options in effect, as a client would write them.
- ``spark/debug/prompt`` ``{textDocument: {uri}, position}``: the extra context chosen, the
  window's extent and the token count against the budget.
- ``spark/debug/counters``: model calls versus suggestions served from cache, tokens the engine
  evaluated (in all, and for requests' own model calls), and more.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer

from spark_lsp.completion.service import CompletionService
from spark_lsp.context.service import ContextService
from spark_lsp.documents import DocumentSnapshot, DocumentStore
from spark_lsp.engine.base import EngineCounters
from spark_lsp.engine.remote.transport import display_url
from spark_lsp.lsp import convert
from spark_lsp.lsp.client import Client
from spark_lsp.lsp.errors import RequestFailed, json_rpc_errors
from spark_lsp.lsp.model_service import ModelService
from spark_lsp.lsp.options import to_wire
from spark_lsp.lsp.protocol import as_plain
from spark_lsp.lsp.session import Session
from spark_lsp.stats import StatsStore

DEBUG_DOCUMENT_REQUEST = "spark/debug/document"
DEBUG_COUNTERS_REQUEST = "spark/debug/counters"
DEBUG_OPTIONS_REQUEST = "spark/debug/options"
DEBUG_PROMPT_REQUEST = "spark/debug/prompt"


class DebugRequests:
    def __init__(
        self,
        client: Client,
        store: DocumentStore,
        snapshot: Callable[[str], DocumentSnapshot],
        session: Session,
        models: ModelService,
        context: ContextService,
        completions: CompletionService,
        usage: StatsStore,
        next_edit_model: Callable[[], dict[str, Any]] = dict,
    ) -> None:
        """``next_edit_model()``: what answers next edits, for the counters."""
        self._next_edit_model = next_edit_model
        self._client = client
        self._store = store
        self._snapshot = snapshot
        self._session = session
        self._models = models
        self._context = context
        self._completions = completions
        self._usage = usage

    def register(self, server: LanguageServer) -> None:
        # pygls passes the server to a handler whose first parameter is named ``ls``; the
        # untyped params of commands and custom methods would otherwise be taken for it.
        @server.feature(DEBUG_DOCUMENT_REQUEST)
        def debug_document(ls: LanguageServer, params: Any) -> dict[str, Any]:
            return self.document(as_plain(params))

        @server.feature(DEBUG_OPTIONS_REQUEST)
        def debug_options(ls: LanguageServer, params: Any) -> dict[str, Any]:
            return shown_options(self._session.options)

        @server.feature(DEBUG_PROMPT_REQUEST)
        async def debug_prompt(ls: LanguageServer, params: Any) -> dict[str, Any]:
            return await self.prompt(as_plain(params))

        @server.feature(DEBUG_COUNTERS_REQUEST)
        def debug_counters(ls: LanguageServer, params: Any) -> dict[str, int]:
            return self.counters()

    def document(self, params: Any) -> dict[str, Any]:
        """The server's view of one document, to diagnose a suspected desync."""
        uri = params.get("uri") if isinstance(params, dict) else None
        if not isinstance(uri, str):
            raise JsonRpcInvalidParams(f"{DEBUG_DOCUMENT_REQUEST} needs params {{uri: string}}")
        with json_rpc_errors():
            document = self._store.document(uri)
        return {
            "uri": uri,
            "version": document.version,
            "lineCount": document.line_count,
            "inSync": document.out_of_sync_reason is None,
            "outOfSyncReason": document.out_of_sync_reason,
            "text": document.text,
        }

    async def prompt(self, params: Any) -> dict[str, Any]:
        """What a completion at a position would send the model."""
        uri, position = _text_document_position(params)
        snapshot = self._snapshot(uri)
        line, column = convert.to_code_points(snapshot, position, self._client.encoding)
        if not await self._context.prepare(snapshot, line):
            raise RequestFailed(f"{uri} is private: no prompt is built for it")
        max_new = self._completions.settings.max_new_tokens
        built = self._context.build(snapshot, line, column, max_new)
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

    def counters(self) -> dict[str, Any]:
        engine = self._models.loaded_engine
        engine_counters = engine.counters() if engine is not None else EngineCounters()
        return {
            "modelCalls": self._completions.model_calls,
            "contextWarmups": self._completions.warmups,
            "cacheHits": self._completions.cache_hits,
            "engineRequests": engine_counters.requests,
            "acceptedItems": self._usage.stats.accepted,
            "localFallbacks": engine_counters.fallbacks,
            "tokensEvaluated": engine_counters.tokens_evaluated,
            "requestTokensEvaluated": self._completions.tokens_evaluated,
            "cellsRefreshed": self._completions.cells_refreshed,
            "earlyAnswers": self._completions.early_answers,
            "cancelledModelCalls": self._completions.counters.cancelled_calls,
            "unshownAnswers": self._completions.counters.unshown_answers,
            "promptTokensPerS": self._completions.prompt_rate.tokens_per_s,
            "cappedWindows": self._completions.capped_windows,
            "lastPhasesMs": dict(self._completions.last_phases),
            **self._next_edit_model(),
        }


def _text_document_position(params: Any) -> tuple[str, types.Position]:
    """The uri and position of untyped ``{textDocument: {uri}, position}`` params."""
    params = params if isinstance(params, dict) else {}
    text_document = params.get("textDocument")
    uri = text_document.get("uri") if isinstance(text_document, dict) else None
    position = params.get("position")
    if not isinstance(uri, str) or not isinstance(position, dict):
        raise JsonRpcInvalidParams(
            f"{DEBUG_PROMPT_REQUEST} needs params {{textDocument: {{uri}}, position}}"
        )
    try:
        return uri, types.Position(line=position["line"], character=position["character"])
    except (KeyError, TypeError, ValueError) as error:
        raise JsonRpcInvalidParams(f"bad position: {error}") from None


def shown_options(options: Any) -> dict[str, Any]:
    """The options in effect as a client would write them, the endpoint in its display form
    (no user info, query or fragment: where credentials live)."""
    wire = to_wire(options)
    engine = wire.get("engine")
    if isinstance(engine, dict) and engine.get("endpoint"):
        engine["endpoint"] = display_url(engine["endpoint"])
    return wire
