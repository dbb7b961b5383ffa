"""Loads the model in the background when a session starts, with work-done progress.

Assembling the embedded model (first start only) and loading it take seconds; the server keeps
answering meanwhile. Progress goes to the client as ``$/progress`` when it supports work-done
progress; a failure becomes one ``window/showMessage`` with the fix, and is logged. The loader
thread only hands results to the event loop (``call_soon_threadsafe``): everything here is
touched on the loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future

from lsprotocol import types

from spark_lsp import models
from spark_lsp.engine.base import Engine
from spark_lsp.engine.loader import open_engine
from spark_lsp.engine.settings import EngineSettings
from spark_lsp.engine.worker import InferenceWorker
from spark_lsp.lifecycle import DocumentHooks
from spark_lsp.lsp.client import Client
from spark_lsp.lsp.status import StatusReporter
from spark_lsp.token_counting import TokenCounter

logger = logging.getLogger(__name__)

EngineOpener = Callable[
    [EngineSettings, models.ProgressCallback | None, Callable[[str | None], None] | None], Engine
]


class ModelService(DocumentHooks):
    def __init__(
        self,
        client: Client,
        settings: EngineSettings,
        status: StatusReporter,
        opener: EngineOpener = open_engine,
    ) -> None:
        """``opener`` makes the engine (the configured backend; a fake one in protocol tests)."""
        self._opener = opener
        self._client = client
        self._status = status
        self.settings = settings
        self.engine: Future[Engine] = Future()
        self.worker: InferenceWorker | None = None
        self.counter: TokenCounter | None = None  # token counts for prompt budgets
        self.on_ready: list[Callable[[Engine, TokenCounter], None]] = []
        self._started = False
        self._closed = False
        self._progress_token: str | None = None
        self._loaded_message: str | None = None  # once loading ended (success or failure)

    @property
    def started(self) -> bool:
        """Whether loading began: settings changed after this apply at the next start only."""
        return self._started

    @property
    def loaded_engine(self) -> Engine | None:
        """The engine once it loaded, else None (still loading, or it failed)."""
        if self.engine.done() and self.engine.exception() is None:
            return self.engine.result()
        return None

    async def ready_worker(self) -> InferenceWorker | None:
        """The worker once the model is loaded (starting the load if needed); None on failure."""
        await self.start()
        try:
            await asyncio.wrap_future(self.engine)
        except Exception:  # the failure was already shown to the user
            return None
        return self.worker

    async def worker_for(self, automatic: bool) -> InferenceWorker | None:
        """The worker for a completion: an automatic one never waits for the model to load (the
        load starts, the keystroke gets nothing); an invoked one does."""
        if automatic and self.worker is None:
            await self.start()
            return None
        return await self.ready_worker()

    def announce_lazy_load(self) -> None:
        """Without preloading, say so at once: a status bar waiting for the load would spin."""
        self._status.not_loaded("the model loads at the first suggestion")

    async def start(self) -> None:
        """Begin loading in a thread; progress starts once the client accepted its token."""
        if self._started:
            return
        self._started = True
        loop = asyncio.get_running_loop()
        if self.settings.backend == "remote" and self.settings.endpoint:
            from spark_lsp.engine.remote.transport import plain_http_warning

            if warning := plain_http_warning(self.settings.endpoint):
                self._client.show_message(types.MessageType.Warning, warning)
        self._status.loading(0, "loading the model")
        report = self._progress_reporter(loop)

        def on_health(failure: str | None) -> None:
            loop.call_soon_threadsafe(self._remote_health, failure)

        def load() -> None:
            try:
                engine = self._opener(self.settings, report, on_health)
                try:
                    counter = engine.token_counter()
                except BaseException:
                    engine.close()
                    raise
            except Exception as error:  # reported to the user below, and to engine's waiters
                loop.call_soon_threadsafe(self._finish, None, None, error)
            else:
                loop.call_soon_threadsafe(self._finish, engine, counter, None)

        # Loading starts at once; the progress follows once the client accepted its token (a
        # client that never answers gets none, after a timeout, and the model loads anyway).
        threading.Thread(target=load, name="spark-model-loader", daemon=True).start()
        token = await self._client.begin_progress(
            "model",
            types.WorkDoneProgressBegin(
                title="spark-lsp: loading the model", percentage=0, cancellable=False
            ),
        )
        if token is not None and self._loaded_message is not None:
            self._client.end_progress(
                token, types.WorkDoneProgressEnd(message=self._loaded_message)
            )
        else:
            self._progress_token = token

    def _progress_reporter(self, loop: asyncio.AbstractEventLoop) -> models.ProgressCallback:
        """A progress callback for the loader thread: whole percents, sent from the loop."""
        last_percent = [-1]

        def report(fraction: float, message: str) -> None:
            percent = int(fraction * 100)
            if percent == last_percent[0]:
                return
            last_percent[0] = percent
            loop.call_soon_threadsafe(self._report, percent, message)

        return report

    def _report(self, percent: int, message: str) -> None:
        self._status.loading(percent, message)
        if self._progress_token is not None:
            value = types.WorkDoneProgressReport(message=message, percentage=percent)
            self._client.report_progress(self._progress_token, value)

    def shutdown(self) -> None:
        self.close()

    def close(self) -> None:
        """Stop the worker and close the engine; a load still running is closed when it ends."""
        self._closed = True
        if self.worker is not None:
            self.worker.stop()
        if (engine := self.loaded_engine) is not None:
            engine.close()

    def _finish(
        self, engine: Engine | None, counter: TokenCounter | None, error: BaseException | None
    ) -> None:
        if self._closed:  # the session ended while the model loaded
            if engine is not None:
                engine.close()
            return
        if error is None:
            assert engine is not None and counter is not None
            self.counter = counter
            self.worker = InferenceWorker(engine)
            for callback in self.on_ready:
                callback(engine, self.counter)
            self.engine.set_result(engine)
            message = f"{engine.model_name} ready ({engine.template.family})"
            self._status.model_ready(engine.model_name)
        else:
            self.engine.set_exception(error)
            message = f"cannot load the model: {error}"
            self._status.model_failed(message)
            level = models.ModelError if isinstance(error, models.ModelError) else Exception
            logger.error(message, exc_info=level is Exception)
            self._client.show_message(types.MessageType.Error, f"spark-lsp: {message}")
        self._loaded_message = message
        if self._progress_token is not None:
            end = types.WorkDoneProgressEnd(message=message)
            self._client.end_progress(self._progress_token, end)
            self._progress_token = None

    def _remote_health(self, failure: str | None) -> None:
        """The inference server started failing (one message; each failure is logged by the
        engine) or answers again."""
        loaded = self.loaded_engine
        if failure is None:
            logger.info("the inference server answers again")
            if loaded is not None:
                self._status.model_ready(loaded.model_name)
            return
        fallback = "; the local model serves meanwhile" if self.settings.fallback == "local" else ""
        if loaded is not None and not fallback:
            self._status.model_failed(failure)
        self._client.show_message(
            types.MessageType.Warning if fallback else types.MessageType.Error,
            f"spark-lsp: {failure}{fallback}",
        )
