"""The remote engine: the Engine interface over an OpenAI-compatible inference server.

Everything above the engine (prompt building, post-processing, LSP) stays the same: requests
arrive as GenerationRequests and leave as GenerationResults. Text streams back as server-sent
events and reaches ``on_text`` chunk by chunk; stop strings and time budgets are applied here as
the text arrives, and a cancellation closes the stream at once. The server keeps its own KV cache:
llama.cpp's server is asked for ``cache_prompt`` and a stable slot per document; vLLM's automatic
prefix caching needs nothing but the stable prompt layout the context builder already keeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import PurePosixPath

from spark_lsp import templates
from spark_lsp.engine.answer import StreamedAnswer
from spark_lsp.engine.base import (
    CancelToken,
    ChatPrompt,
    EngineCapabilities,
    EngineCounters,
    GenerationRequest,
    GenerationResult,
    GenerationStats,
    InfillPrompt,
    StopReason,
    TokenCallback,
)
from spark_lsp.engine.remote import counting, dialects
from spark_lsp.engine.remote.errors import (
    SERVER_FAULTS,
    RemoteError,
    RemoteMalformed,
    RemoteUnavailable,
)
from spark_lsp.engine.remote.server_info import LLAMA_CPP, ServerInfo, probe
from spark_lsp.engine.remote.transport import Cancelled, Transport, display_url
from spark_lsp.engine.settings import EngineSettings
from spark_lsp.token_counting import TokenCounter

logger = logging.getLogger(__name__)

# llama-cpp-python's server default; servers that do not report their context get this unless
# the user configures remote_context.
DEFAULT_CONTEXT = 2048

HealthCallback = Callable[[str | None], None]  # an error message, or None once it works again


def api_key(settings: EngineSettings) -> str | None:
    return os.environ.get(settings.api_key_env) or None


@dataclass
class _Progress:
    """One request's answer, shared between the I/O loop and the waiting worker thread."""

    answer: StreamedAnswer
    cancel: CancelToken
    finish: StopReason | None = None

    @property
    def request(self) -> GenerationRequest:
        return self.answer.request

    @property
    def stats(self) -> GenerationStats:
        return self.answer.stats

    def add(self, piece: str) -> bool:
        """Take a piece of text; True when the answer is complete (a stop string, the token
        limit, or the caller cancelled and takes nothing more)."""
        if self.cancel.cancelled:
            return True
        reason = self.answer.add(piece)
        if reason is not None and reason is not StopReason.CANCELLED:
            self.finish = reason
        return reason is not None

    def result(self, reason: StopReason) -> GenerationResult:
        return self.answer.result(reason)


async def _drain(events: AsyncIterator[str]) -> None:
    with contextlib.suppress(RemoteError):
        async for _ in events:
            pass


class RemoteEngine:
    # A server's stream cannot be paused (preemption waits for it) nor its cells refreshed.
    capabilities = EngineCapabilities()

    def __init__(
        self,
        settings: EngineSettings,
        transport: Transport,
        info: ServerInfo | None = None,
        on_health: HealthCallback | None = None,
    ) -> None:
        self.settings = settings
        self.transport = transport
        self.info = info
        self.on_health = on_health
        self._failing: str | None = None
        self._lock = threading.Lock()
        self.requests = 0

    @classmethod
    def for_settings(
        cls, settings: EngineSettings, on_health: HealthCallback | None = None
    ) -> RemoteEngine:
        """An engine for ``settings.endpoint``; it asks the server about itself at ``connect``
        (or at its first request)."""
        assert settings.endpoint is not None
        transport = Transport(
            settings.endpoint,
            api_key(settings),
            settings.remote_timeout_ms / 1000,
            settings.remote_retries,
        )
        return cls(settings, transport, None, on_health)

    def connect(self) -> ServerInfo:
        """Ask the server about itself. Raises RemoteError when it cannot be reached (after the
        configured retries)."""
        self.info = probe(self.transport)
        logger.info(
            "connected to %s: %s", display_url(self.transport.base_url), self.info.describe()
        )
        return self.info

    # -- what the layers above ask of an engine ---------------------------------------------

    @property
    def name(self) -> str:
        return f"remote:{display_url(self.transport.base_url)}"

    @property
    def model_name(self) -> str:
        # llama.cpp's server names its model by the GGUF's path: the file name is enough.
        return (
            PurePosixPath(self.model).name if self.model else display_url(self.transport.base_url)
        )

    @property
    def model(self) -> str:
        """The model name sent with each request ('' lets the server use its only model)."""
        if self.settings.remote_model:
            return self.settings.remote_model
        return self.info.models[0] if self.info and self.info.models else ""

    @property
    def template(self) -> templates.FimTemplate:
        if self.settings.remote_template:
            return templates.by_family(self.settings.remote_template)
        return templates.guess_from_name(self.model)

    @property
    def add_bos(self) -> bool:
        return True  # counted as one more token: an upper bound either way

    @property
    def n_ctx(self) -> int:
        """The server's context when it reports one, capped by the configured one."""
        known = [
            n for n in (self.info.n_ctx if self.info else None, self.settings.remote_context) if n
        ]
        return min(known) if known else DEFAULT_CONTEXT

    @property
    def uses_infill(self) -> bool:
        api = self.settings.remote_api
        return api == "infill" or (api == "auto" and self._is_llama_cpp)

    @property
    def _is_llama_cpp(self) -> bool:
        return self.info is not None and self.info.kind == LLAMA_CPP

    def counters(self) -> EngineCounters:
        return EngineCounters(requests=self.requests)

    def token_counter(self) -> TokenCounter:
        return counting.remote_counter(self.transport, self.info, self.template)

    def close(self) -> None:
        self.transport.close()

    # -- generation ---------------------------------------------------------------------------

    def generate(
        self,
        request: GenerationRequest,
        cancel: CancelToken,
        on_text: TokenCallback | None = None,
    ) -> GenerationResult:
        started = time.perf_counter()
        self.requests += 1
        answer = StreamedAnswer(
            request, on_text, started, GenerationStats(), self._template_stops(request)
        )
        progress = _Progress(answer, cancel)
        try:
            if self.info is None:
                self.info = probe(self.transport, cancel)
            call = dialects.build(request, self._options(request))
            self.transport.io.run(self._stream(call, progress), cancel)
        except Cancelled:
            return progress.result(StopReason.CANCELLED)
        except SERVER_FAULTS as error:
            if isinstance(error, RemoteUnavailable):
                self.info = None  # ask again once it answers: it may have restarted differently
            self._health(str(error))
            raise
        self._health(None)
        if cancel.cancelled:  # the stream ended just as the cancellation came
            return progress.result(StopReason.CANCELLED)
        return progress.result(progress.finish or StopReason.EOS)

    def _template_stops(self, request: GenerationRequest) -> tuple[str, ...]:
        if isinstance(request.prompt, InfillPrompt):
            return self.template.stop_tokens + self.template.stop_strings
        return ()

    def _options(self, request: GenerationRequest) -> dialects.Options:
        key = request.adopt_as or request.key
        pin = self.settings.remote_pin_slots and not isinstance(request.prompt, ChatPrompt)
        slots = self.info.slots if self.info and pin else 0
        # Stop strings that count only after some text are applied here, not by the server.
        server_stops = () if request.stop_after_text else request.stop
        return dialects.Options(
            model=self.model,
            template=self.template,
            use_infill=self.uses_infill,
            llama_cpp=self._is_llama_cpp,
            slot=zlib.crc32(key.encode()) % slots if key and slots else None,
            server_stops=server_stops,
        )

    async def _stream(self, call: dialects.Call, progress: _Progress) -> None:
        prompt_budget = progress.request.prompt_time_budget_ms
        try:
            async with asyncio.timeout(None) as limit:
                if prompt_budget:
                    limit.reschedule(asyncio.get_running_loop().time() + prompt_budget / 1000)
                async with self.transport.events(call.path, call.body) as events:
                    allowed = 8 * progress.request.max_tokens + 256  # events, text or not
                    async for data in events:
                        allowed -= 1
                        if allowed < 0:
                            where = self.transport.url(call.path)
                            raise RemoteMalformed(f"{where} streamed far more events than tokens")
                        chunk = dialects.parse(data, call.path)
                        if self._take(chunk, progress, limit):
                            if chunk.done:  # read the body's end: the connection is reused
                                await _drain(events)
                                if progress.finish is None and not progress.answer.text:
                                    where = self.transport.url(call.path)
                                    raise RemoteMalformed(f"{where} ended the stream empty")
                            return  # a stop string: closing the stream tells the server to stop
        except TimeoutError:
            if not limit.expired():
                raise
            progress.finish = StopReason.TIME_BUDGET
            return
        except RemoteUnavailable:
            if progress.finish is None:  # the answer was complete before the connection broke
                raise
            return
        if progress.finish is None:
            raise RemoteUnavailable(f"{self.transport.url(call.path)}: the stream ended early")

    def _take(self, chunk: dialects.Chunk, progress: _Progress, limit: asyncio.Timeout) -> bool:
        """Take one chunk; True when the answer is complete."""
        self._note(chunk, progress.stats)
        if chunk.text:
            if not progress.stats.tokens_generated:  # the first text: the predict budget starts
                budget = progress.request.predict_time_budget_ms
                now = asyncio.get_running_loop().time()
                limit.reschedule(now + budget / 1000 if budget else None)
            if progress.add(chunk.text):
                return True
        if chunk.finish is not None:
            progress.finish = chunk.finish
        return chunk.done

    @staticmethod
    def _note(chunk: dialects.Chunk, stats: GenerationStats) -> None:
        if chunk.prompt_tokens is not None:
            stats.prompt_tokens = chunk.prompt_tokens
        if chunk.evaluated_tokens is not None:
            stats.tokens_evaluated = chunk.evaluated_tokens

    def report_unreachable(self, error: RemoteError) -> None:
        """Tell the owner about a failure outside a request (the first connection)."""
        self._health(str(error))

    def _health(self, failure: str | None) -> None:
        """Every failure is logged; the owner hears when the server starts failing and when it
        works again, not about every request in between."""
        with self._lock:
            was_failing = self._failing is not None
            self._failing = failure
        if failure is not None:
            logger.warning("%s", failure)
        if (failure is not None) != was_failing and self.on_health is not None:
            self.on_health(failure)
