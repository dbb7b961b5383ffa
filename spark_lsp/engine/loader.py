"""Resolve the configured model and start the in-process engine."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from spark_lsp import models
from spark_lsp.settings import EngineSettings

if TYPE_CHECKING:  # importing llama_cpp is slow: the real import waits for load_engine
    from spark_lsp.engine.llama import LlamaEngine

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
