"""Inference engines: the interface every backend implements, and a fast fake for tests."""

from spark_lsp.engine.base import (
    CancelToken,
    ChatPrompt,
    Engine,
    EngineError,
    GenerationRequest,
    GenerationResult,
    GenerationStats,
    InfillPrompt,
    Priority,
    Prompt,
    StopReason,
    TextPrompt,
)

__all__ = [
    "CancelToken",
    "ChatPrompt",
    "Engine",
    "EngineError",
    "GenerationRequest",
    "GenerationResult",
    "GenerationStats",
    "InfillPrompt",
    "Priority",
    "Prompt",
    "StopReason",
    "TextPrompt",
]
