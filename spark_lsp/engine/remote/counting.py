"""Token counts for a remote model, for prompt budgets.

The remote model's tokenizer is not here, so text is counted with tiktoken's ``cl100k_base``
(shipped offline) and scaled up to an upper estimate of the model's count: by the worst ratio
measured against the server's own tokenize endpoint when it has one (llama.cpp, llama-cpp-python
and vLLM all do), plus a margin; otherwise by a fixed margin per model family.
"""

from __future__ import annotations

import logging

from spark_lsp import templates
from spark_lsp.engine.remote.errors import RemoteError
from spark_lsp.engine.remote.server_info import ServerInfo, server_tokens
from spark_lsp.engine.remote.transport import Transport
from spark_lsp.token_counting import (
    TokenCounter,
    calibration_texts,
    fallback_encoding,
    measure_agreement,
)

logger = logging.getLogger(__name__)

MEASURED_MARGIN = 1.05
CALIBRATION_FILES = 8
CALIBRATION_CHARS = 12_000
# Without a tokenize endpoint: cl100k_base against the family's tokenizer, erring high. Qwen's
# byte-level BPE descends from cl100k's (this package's sources: within 2 % of Qwen2.5-Coder's
# count); for the others we know no measurement, so the margin is wide.
FAMILY_SCALE = {"qwen2.5-coder": 1.1, "qwen-style": 1.1}
UNKNOWN_FAMILY_SCALE = 1.3


def remote_counter(
    transport: Transport, info: ServerInfo | None, template: templates.FimTemplate
) -> TokenCounter:
    encoding = fallback_encoding()
    scale = FAMILY_SCALE.get(template.family, UNKNOWN_FAMILY_SCALE)
    if info is not None and info.tokenize_path is not None:
        try:
            scale = measured_scale(transport, info) * MEASURED_MARGIN
        except RemoteError as error:
            logger.warning("cannot calibrate token counts against the server: %s", error)
    logger.info("remote token counts: cl100k_base x %.3f", scale)
    return TokenCounter(encoding, exact=False, scale=scale)


class ServerTokenizer:
    """The server's tokenize endpoint as a Tokenizer."""

    def __init__(self, transport: Transport, info: ServerInfo) -> None:
        assert info.tokenize_path is not None
        self._transport = transport
        self._path = info.tokenize_path
        self._models = info.models

    def tokenize(self, text: str) -> list[int]:
        return server_tokens(self._transport, self._path, text, self._models)


def measured_scale(transport: Transport, info: ServerInfo) -> float:
    """The worst ratio of the server's count to cl100k_base's over a sample of code (at least 1)."""
    samples = [text[:CALIBRATION_CHARS] for text in calibration_texts()[:CALIBRATION_FILES]]
    samples = [sample for sample in samples if sample.strip()]
    agreement = measure_agreement(fallback_encoding(), ServerTokenizer(transport, info), samples)
    return max(1.0, agreement.worst_ratio)
