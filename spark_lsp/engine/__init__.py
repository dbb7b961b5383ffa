"""Inference engines: the interface every backend implements (``base``), the in-process llama.cpp
engine and its KV-reuse planner, prompt-lookup drafting, the streamed-answer buffer shared by
every backend, the inference worker thread, token counting, model loading, the remote backend
and its local fallback, and a fast fake for tests. Owns ``EngineSettings``."""

from spark_lsp.engine.base import (
    CancelToken,
    ChatPrompt,
    Engine,
    EngineCapabilities,
    EngineCounters,
    EngineError,
    GenerationRequest,
    GenerationResult,
    GenerationStats,
    InfillPrompt,
    Priority,
    Prompt,
    SegmentPrompt,
    StopReason,
    TextPrompt,
)

__all__ = [
    "CancelToken",
    "ChatPrompt",
    "Engine",
    "EngineCapabilities",
    "EngineCounters",
    "EngineError",
    "GenerationRequest",
    "GenerationResult",
    "GenerationStats",
    "InfillPrompt",
    "Priority",
    "Prompt",
    "SegmentPrompt",
    "StopReason",
    "TextPrompt",
]
