"""Resolve the configured model and start the engine: in-process, or a remote server."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from spark_lsp import models
from spark_lsp.engine.settings import EngineSettings

if TYPE_CHECKING:  # importing llama_cpp is slow: the real import waits for load_engine
    from spark_lsp.engine.base import Engine
    from spark_lsp.engine.fallback import FallbackEngine
    from spark_lsp.engine.llama import LlamaEngine
    from spark_lsp.engine.remote import RemoteEngine, RemoteError
    from spark_lsp.engine.remote.engine import HealthCallback

logger = logging.getLogger(__name__)


def load_engine(
    settings: EngineSettings, progress: models.ProgressCallback | None = None
) -> LlamaEngine:
    """Resolve the model (assembling the embedded one on first use) and load it.

    Raises models.ModelError with a message that names the fix.
    """
    from spark_lsp.engine.llama import LlamaEngine

    path = models.resolve(settings.model, settings.hf_repo, settings.hf_file, progress)
    models.check_gguf_header(path)
    try:
        engine = LlamaEngine(path, settings)
    except ValueError as error:  # llama-cpp-python's "Failed to load model from file"
        raise models.ModelError(f"llama.cpp cannot load {path}: {error}") from error
    logger.info(
        "loaded %s (%s template, context %d tokens)",
        path.name,
        engine.template.family,
        engine.n_ctx,
    )
    return engine


def open_engine(
    settings: EngineSettings,
    progress: models.ProgressCallback | None = None,
    on_health: HealthCallback | None = None,
) -> Engine:
    """The configured backend. A remote server that cannot be reached is a ModelError, unless
    the local fallback is on: then the local model serves until the server answers."""
    if settings.backend != "remote":
        return load_engine(settings, progress)
    from spark_lsp.engine.fallback import FallbackEngine
    from spark_lsp.engine.remote import RemoteEngine, RemoteError
    from spark_lsp.engine.remote.transport import display_url, plain_http_warning

    if settings.endpoint and (warning := plain_http_warning(settings.endpoint)):
        logger.warning("%s", warning)
    if progress is not None:
        progress(0.0, f"connecting to {display_url(settings.endpoint or '')}")
    try:
        remote = RemoteEngine.for_settings(settings, on_health)
    except RemoteError as error:  # no connection can be set up (a bad SSL_CERT_FILE, say)
        raise models.ModelError(str(error)) from None
    try:
        remote.connect()
    except RemoteError as error:
        if settings.fallback == "local":
            return _local_until_the_server_answers(remote, error, settings, progress)
        remote.close()
        raise models.ModelError(
            f"{error}. Start the server or correct the endpoint, then restart spark-lsp "
            "(or turn on the local fallback)"
        ) from None
    except BaseException:
        remote.close()
        raise
    if settings.fallback == "local":
        return FallbackEngine(remote, lambda: load_engine(settings))
    return remote


def _local_until_the_server_answers(
    remote: RemoteEngine,
    error: RemoteError,
    settings: EngineSettings,
    progress: models.ProgressCallback | None,
) -> FallbackEngine:
    from spark_lsp.engine.base import EngineError
    from spark_lsp.engine.fallback import FallbackEngine

    remote.report_unreachable(error)
    engine = FallbackEngine(remote, lambda: load_engine(settings, progress))
    engine.mark_remote_down()
    try:
        engine.local()  # needed now, not at the first keystroke
    except EngineError as local_error:
        remote.close()
        raise models.ModelError(f"{error}; and {local_error}") from None
    return engine
