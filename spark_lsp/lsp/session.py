"""The session's lifecycle and options: ``initialize`` (initializationOptions, workspace roots),
``initialized`` (the model starts loading) and ``workspace/didChangeConfiguration``.

Options are untrusted: what was wrong with them is shown once (showMessage) and logged, and the
rest still applies. Engine options apply when the model loads; once it has, a change asks for a
restart.
"""

from __future__ import annotations

import logging
from pathlib import Path

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from spark_lsp.actions.service import ActionService
from spark_lsp.completion.service import CompletionService
from spark_lsp.context.service import ContextService
from spark_lsp.engine.settings import EngineSettings
from spark_lsp.lsp.client import Client
from spark_lsp.lsp.model_service import ModelService
from spark_lsp.lsp.options import SECTION, ServerOptions, merge_options, section_of
from spark_lsp.uris import uri_to_path

logger = logging.getLogger(__name__)


class Session:
    def __init__(
        self,
        client: Client,
        settings: EngineSettings,
        models: ModelService,
        completions: CompletionService,
        context: ContextService,
        actions: ActionService,
    ) -> None:
        self._client = client
        self._actions = actions
        self._models = models
        self._completions = completions
        self._context = context
        self.options = ServerOptions(engine=settings)

    def register(self, server: LanguageServer) -> None:
        @server.feature(types.INITIALIZE)
        def initialize(params: types.InitializeParams) -> None:
            self.apply_options(section_of(params.initialization_options), "initializationOptions")
            self._context.set_roots(workspace_roots(params))

        @server.feature(types.INITIALIZED)
        async def initialized(params: types.InitializedParams) -> None:
            if self._models.settings.preload:
                await self._models.start()
            else:
                self._models.announce_lazy_load()

        @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
        async def did_change_configuration(params: types.DidChangeConfigurationParams) -> None:
            raw = section_of(params.settings)
            if raw is None and self._client.can_pull_configuration():
                raw = await self._client.configuration(SECTION)
            self.apply_options(raw, "workspace/didChangeConfiguration")

    def apply_options(self, raw: object, source: str) -> None:
        """Options from the client over the current ones."""
        options, problems = merge_options(self.options, raw)
        if problems:
            message = f"spark-lsp: {source}: " + "; ".join(problems)
            logger.warning("%s", message)
            self._client.show_message(types.MessageType.Warning, message)
        if options.engine != self.options.engine and self._models.started:
            changed = [
                name
                for name, value in vars(options.engine).items()
                if getattr(self.options.engine, name) != value
            ]
            message = f"spark-lsp: restart the server to apply engine options: {', '.join(changed)}"
            logger.info("%s", message)
            self._client.show_message(types.MessageType.Info, message)
        else:
            self._models.settings = options.engine
        self.options = options
        self._actions.settings = options.actions
        self._completions.settings = options.completion
        if options.context != self._context.settings:
            self._context.set_settings(options.context)


def workspace_roots(params: types.InitializeParams) -> list[Path]:
    """The workspace folders' paths (file URIs only), else the root URI's or root path's."""
    uris = [folder.uri for folder in params.workspace_folders or []]
    if not uris and params.root_uri:
        uris = [params.root_uri]
    roots = [path for path in map(uri_to_path, uris) if path is not None]
    if not roots and params.root_path:
        roots = [Path(params.root_path)]
    return roots
