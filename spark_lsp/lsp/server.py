"""The pygls language server: builds the services and the LSP features, and wires them together.

Each feature module registers its own methods and answers for its own capabilities; the
services below (documents, context, completion, actions, the model) know nothing of LSP.
"""

from __future__ import annotations

from pygls.lsp.server import LanguageServer

from spark_lsp import __version__
from spark_lsp.actions.service import ActionService
from spark_lsp.completion.service import CompletionService
from spark_lsp.context.service import ContextService
from spark_lsp.documents import DocumentSnapshot, DocumentStore
from spark_lsp.engine.base import Engine
from spark_lsp.engine.loader import open_engine
from spark_lsp.engine.settings import EngineSettings
from spark_lsp.lifecycle import Lifecycle
from spark_lsp.lsp.client import Client
from spark_lsp.lsp.code_actions import CodeActions
from spark_lsp.lsp.debug import DebugRequests
from spark_lsp.lsp.errors import json_rpc_errors
from spark_lsp.lsp.inline_completion import InlineCompletion
from spark_lsp.lsp.model_service import EngineOpener, ModelService
from spark_lsp.lsp.next_edit import NextEdits
from spark_lsp.lsp.next_edit_model import NextEditModel
from spark_lsp.lsp.protocol import SparkProtocol, strict_converter
from spark_lsp.lsp.session import Session
from spark_lsp.lsp.status import StatusReporter
from spark_lsp.lsp.text_sync import TextSync
from spark_lsp.nextedit.service import NextEditService
from spark_lsp.stats import StatsStore
from spark_lsp.token_counting import TokenCounter

SERVER_NAME = "spark-lsp"


class SparkLanguageServer(LanguageServer):
    protocol: SparkProtocol

    def __init__(self, settings: EngineSettings, opener: EngineOpener = open_engine) -> None:
        super().__init__(
            SERVER_NAME, __version__, protocol_cls=SparkProtocol, converter_factory=strict_converter
        )
        self.client = Client(self, self.protocol)
        self.store = DocumentStore()
        self.status = StatusReporter(self.protocol.notify)
        self.models = ModelService(self.client, settings, self.status, opener)
        self.context = ContextService(self.store.snapshots, is_open=self.store.__contains__)
        self.models.on_ready.append(self.context.model_ready)
        self.completions = CompletionService(
            self.models.worker_for, self._current_version, context=self.context
        )
        self.models.on_ready.append(self._measure_prompt_rate)
        self.actions = ActionService(
            self.snapshot,
            self.models.ready_worker,
            lambda: self.models.counter,
            self.context,
            self._open_document,
        )
        self.usage = StatsStore()
        # The features told of documents and of the shutdown, in this order; create_server
        # adds the LSP features'.
        self.lifecycle = Lifecycle([self.context, self.completions, self.models])
        self.session = Session(
            self.client, settings, self.models, self.completions, self.context, self.actions
        )

    def snapshot(self, uri: str) -> DocumentSnapshot:
        """The document's current text, or a JSON-RPC error the client can show."""
        with json_rpc_errors():
            return self.store.snapshot(uri)

    def close(self) -> None:
        """End the session's work: every feature's shutdown hook (the inference worker stops,
        the model is closed, the last statistics save finishes)."""
        self.lifecycle.shutdown()
        self.usage.close()

    def _open_document(self, uri: str) -> DocumentSnapshot | None:
        document = self.store.get(uri)
        return None if document is None or document.out_of_sync_reason else document.snapshot()

    def _current_version(self, uri: str) -> int | None:
        return self.store.document(uri).version if uri in self.store else None

    def _measure_prompt_rate(self, engine: Engine, counter: TokenCounter) -> None:
        if self.models.worker is not None:
            self.completions.model_loaded(self.models.worker)


def create_server(
    settings: EngineSettings | None = None, opener: EngineOpener = open_engine
) -> SparkLanguageServer:
    """The server with every feature registered; ``opener`` makes its engine."""
    server = SparkLanguageServer(settings or EngineSettings(preload=False), opener)
    client = server.client

    # Next edits are background work: they never start or wait for a model load (until a
    # model is there, or without one allowed, only the deterministic rules answer).
    next_edit_model = NextEditModel(
        server.models.settings,
        client,
        lambda: server.models.worker,
        lambda: server.completions.settings.next_edit_model,
    )
    next_edits = NextEditService(next_edit_model.worker, server.context.check_private)
    next_edit_feature = NextEdits(server.snapshot, next_edits)
    inline = InlineCompletion(
        client,
        server.snapshot,
        server.completions,
        server.status,
        server.usage,
        next_edit_feature.for_inline,
    )

    server.lifecycle.add(inline)
    server.lifecycle.add(next_edits)
    server.lifecycle.add(next_edit_model)
    text_sync = TextSync(client, server.store, server.lifecycle)
    features = (
        server.session,
        text_sync,
        inline,
        CodeActions(client, server.snapshot, server.actions, server.status),
        next_edit_feature,
        DebugRequests(
            client,
            server.store,
            server.snapshot,
            server.session,
            server.models,
            server.context,
            server.completions,
            server.usage,
            next_edit_model.describe,
        ),
    )
    for feature in features:
        feature.register(server)
    server.protocol.capability_filters.append(inline.hidden_features)
    server.protocol.unreadable_notification_handlers.append(text_sync.on_unreadable_notification)
    return server
