"""A remote engine that falls back to the in-process model while the server fails.

After a remote failure the local model serves requests for a while (no connection attempt per
keystroke against a dead server); then the server gets the next request again. The local model
loads on the first fallback, so a healthy server never costs its memory.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from spark_lsp import templates
from spark_lsp.engine.base import (
    CancelToken,
    Engine,
    EngineCapabilities,
    EngineCounters,
    EngineError,
    GenerationRequest,
    GenerationResult,
    TokenCallback,
)
from spark_lsp.engine.remote import RemoteEngine
from spark_lsp.engine.remote.errors import SERVER_FAULTS
from spark_lsp.token_counting import TokenCounter

logger = logging.getLogger(__name__)

RETRY_REMOTE_AFTER_S = 15.0


class FallbackEngine:
    capabilities = EngineCapabilities()  # the remote server's: it serves when it can

    def __init__(
        self,
        remote: RemoteEngine,
        load_local: Callable[[], Engine],
        retry_after_s: float = RETRY_REMOTE_AFTER_S,
    ) -> None:
        self.remote = remote
        self._load_local = load_local
        self._local: Engine | None = None
        self._local_error: str | None = None
        self._lock = threading.Lock()
        self._retry_after_s = retry_after_s
        self._remote_down_until = 0.0
        self.fallbacks = 0  # requests the local model served

    @property
    def name(self) -> str:
        return f"{self.remote.name} (local fallback)"

    @property
    def model_name(self) -> str:
        return self.remote.model_name

    @property
    def template(self) -> templates.FimTemplate:
        # Until the server has named its model, the local model's template is the known one.
        if self.remote.info is None and self._local is not None:
            return self._local.template
        return self.remote.template

    @property
    def add_bos(self) -> bool:
        return self.remote.add_bos

    @property
    def n_ctx(self) -> int:
        # Prompts are budgeted for whichever model serves them; the local one trims the rest.
        return min(self.remote.n_ctx, self.remote.settings.n_ctx)

    def token_counter(self) -> TokenCounter:
        return self.remote.token_counter()

    def counters(self) -> EngineCounters:
        """The server's requests and the local model's work while it stood in."""
        local = self._local.counters() if self._local is not None else EngineCounters()
        return EngineCounters(
            requests=self.remote.requests + local.requests,
            tokens_evaluated=local.tokens_evaluated,
            fallbacks=self.fallbacks,
        )

    def mark_remote_down(self) -> None:
        self._remote_down_until = time.monotonic() + self._retry_after_s

    def generate(
        self,
        request: GenerationRequest,
        cancel: CancelToken,
        on_text: TokenCallback | None = None,
    ) -> GenerationResult:
        if time.monotonic() >= self._remote_down_until:
            shown: list[str] = []

            def forward(text: str) -> None:
                shown.append(text)
                if on_text is not None:
                    on_text(text)

            try:
                return self.remote.generate(request, cancel, forward)
            except SERVER_FAULTS as error:
                logger.warning("using the local model for %.0f s: %s", self._retry_after_s, error)
                self.mark_remote_down()
                if shown:  # the caller has part of the server's answer: not mixed with another
                    raise
        self.fallbacks += 1
        return self.local().generate(request, cancel, on_text)

    def local(self) -> Engine:
        """The local model, loaded at the first call; a load that failed is not tried again."""
        with self._lock:
            if self._local_error is not None:
                raise EngineError(f"the local fallback is unavailable: {self._local_error}")
            if self._local is None:
                try:
                    self._local = self._load_local()
                except Exception as error:  # ModelError, or llama.cpp refusing the file
                    self._local_error = str(error)
                    raise EngineError(f"the local fallback is unavailable: {error}") from None
            return self._local

    def close(self) -> None:
        self.remote.close()
        if self._local is not None:
            self._local.close()
