"""Which model answers next edits: a dedicated GGUF (``--next-edit-model``: Sweep's next-edit
models, a preset, a Hugging Face file) loaded in-process beside the completion model, or the
completion model itself when ``completion.nextEditModel`` is on.

The dedicated model loads in a thread at its first use (next edits are background work: they
never wait for a load, the deterministic rules answer meanwhile). When it resolves to the
completion model's own file, that model's worker serves both. A load that fails is logged and
shown once; next edits then keep to the rules.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from lsprotocol import types

from spark_lsp import models
from spark_lsp.engine.base import Engine
from spark_lsp.engine.loader import load_engine
from spark_lsp.engine.settings import EngineSettings
from spark_lsp.engine.worker import InferenceWorker
from spark_lsp.lifecycle import DocumentHooks
from spark_lsp.lsp.client import Client
from spark_lsp.nextedit.formats import format_for

logger = logging.getLogger(__name__)

EngineLoader = Callable[[EngineSettings], Engine]


def _load(settings: EngineSettings) -> Engine:
    return load_engine(settings)


class NextEditModel(DocumentHooks):
    """Owned by the event loop; the loader thread only hands its result to the loop."""

    def __init__(
        self,
        settings: EngineSettings,
        client: Client,
        completion_worker: Callable[[], InferenceWorker | None],
        allowed: Callable[[], bool],
        loader: EngineLoader = _load,
    ) -> None:
        """``settings``: the session's engine settings (the completion model's and the
        next-edit model's); ``completion_worker()``: the completion model's, once loaded;
        ``allowed()``: whether completion.nextEditModel lets the completion model answer next
        edits (a dedicated model answers them either way)."""
        self._settings = settings
        self._client = client
        self._completion_worker = completion_worker
        self._allowed = allowed
        self._loader = loader
        self._state = "unloaded"  # loading, dedicated, shared (the completion model's), failed
        self._engine: Engine | None = None
        self._worker: InferenceWorker | None = None
        self._closed = False
        self._heeded: set[InferenceWorker] = set()  # completion workers that stop ours

    @property
    def dedicated(self) -> bool:
        return self._settings.dedicated_next_edit_model

    async def worker(self) -> InferenceWorker | None:
        """The worker that answers next edits now, or None (rules only): never waits."""
        if not self.dedicated:
            return self._completion_worker() if self._allowed() else None
        if self._state == "shared":
            return self._completion_worker()
        if self._state == "unloaded":
            self._start(asyncio.get_running_loop())
        completion = self._completion_worker()
        if self._worker is not None and completion is not None and completion not in self._heeded:
            completion.on_interactive(self._worker.yield_running)
            self._heeded.add(completion)
        return self._worker

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._state = "loading"
        settings = self._settings.for_next_edits()
        completion = self._settings

        def load() -> None:
            try:
                path = models.resolve(settings.model, settings.hf_repo, settings.hf_file)
                local = completion.backend == "local"
                if local and _same_file(path, _completion_path(completion)):
                    loop.call_soon_threadsafe(self._finish, None, None)
                    return
                engine = self._loader(settings)
            except Exception as error:  # shown to the user below; the rules still answer
                loop.call_soon_threadsafe(self._finish, None, error)
            else:
                loop.call_soon_threadsafe(self._finish, engine, None)

        threading.Thread(target=load, name="spark-next-edit-loader", daemon=True).start()

    def _finish(self, engine: Engine | None, error: Exception | None) -> None:
        if error is not None:
            self._state = "failed"
            message = f"spark-lsp: the next-edit model did not load: {error}"
            logger.warning("%s", message)
            self._client.show_message(types.MessageType.Warning, message)
        elif engine is None:
            self._state = "shared"
            logger.info("the next-edit model is the completion model: one engine serves both")
        elif self._closed:
            engine.close()
        else:
            self._state = "dedicated"
            self._engine = engine
            self._worker = InferenceWorker(engine, yields_to=self._completion_busy)
            logger.info("next edits: %s in-process", engine.name)

    def _completion_busy(self) -> bool:
        """Whether the completion model has a suggestion to compute (the two models share the
        CPU: the next-edit model waits, and is stopped when one arrives, see ``worker``)."""
        completion = self._completion_worker()
        return completion is not None and completion.has_interactive_work()

    def describe(self) -> dict[str, str | int]:
        """For spark/debug/counters: whether next edits have a model of their own (unloaded,
        loading, dedicated, shared, failed), the format it is asked in, and its requests."""
        engine = self._engine
        return {
            "nextEditModel": self._state if self.dedicated else "completion model",
            "nextEditFormat": format_for(engine).name if engine is not None else "",
            "nextEditEngineRequests": engine.counters().requests if engine is not None else 0,
        }

    def shutdown(self) -> None:
        self._closed = True
        if self._worker is not None:
            self._worker.stop()
        if self._engine is not None:
            self._engine.close()
        self._worker = self._engine = None


def _completion_path(settings: EngineSettings) -> Path | None:
    try:
        return models.resolve(settings.model, settings.hf_repo, settings.hf_file)
    except models.ModelError:
        return None  # the completion model's own load reports it


def _same_file(first: Path, second: Path | None) -> bool:
    try:
        return second is not None and first.resolve() == second.resolve()
    except OSError:
        return False
