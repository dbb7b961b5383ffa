"""One inference worker thread owns the engine; requests queue by priority.

A newer request with the same key supersedes older ones: a queued one is dropped, a running one
is cancelled (the engine stops within one decode step). Callers get a Job whose concurrent Future
settles on the worker's thread; code on the event loop awaits it with ``run_job``. Cancelling
through ``Job.cancel`` works from any thread.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import threading
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field

from spark_lsp.engine.base import (
    CancelToken,
    Engine,
    EngineError,
    GenerationRequest,
    GenerationResult,
    Priority,
    StopReason,
    TokenCallback,
)

logger = logging.getLogger(__name__)


@dataclass(order=True)
class _Entry:
    priority: int
    order: int
    job: Job = field(compare=False)


@dataclass(eq=False)
class Job:
    request: GenerationRequest
    on_text: TokenCallback | None = None
    cancel_token: CancelToken = field(default_factory=CancelToken)
    future: Future[GenerationResult] = field(default_factory=Future)

    def __post_init__(self) -> None:
        # A caller that gives up on a queued job (asyncio cancels the future it wrapped) means
        # the job must not run.
        self.future.add_done_callback(
            lambda future: self.cancel("abandoned") if future.cancelled() else None
        )

    def cancel(self, reason: str = "cancelled") -> None:
        self.cancel_token.cancel(reason)

    def settle(
        self, result: GenerationResult | None = None, error: BaseException | None = None
    ) -> None:
        """Give the caller its outcome, unless it already cancelled the future."""
        if self.future.done():
            return
        try:
            if error is not None:
                self.future.set_exception(error)
            else:
                self.future.set_result(result or GenerationResult("", StopReason.CANCELLED))
        except InvalidStateError:  # cancelled between the check and the set
            pass


async def run_job(job: Job) -> GenerationResult:
    """The job's result, awaited on the event loop. Cancelling the awaiting task cancels the job
    (the engine stops within one decode step); an EngineError becomes a FAILED result that says
    why, so callers decide what a failure means for them."""
    try:
        return await asyncio.wrap_future(job.future)
    except asyncio.CancelledError:
        job.cancel("request cancelled")
        raise
    except EngineError as error:
        return GenerationResult("", StopReason.FAILED, error=str(error))


class InferenceWorker:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._queue: list[_Entry] = []
        self._order = itertools.count()
        self._lock = threading.Condition()
        self._running: Job | None = None
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="spark-inference", daemon=True)
        self._thread.start()

    def submit(self, request: GenerationRequest, on_text: TokenCallback | None = None) -> Job:
        job = Job(request, on_text)
        with self._lock:
            if self._stopped:
                raise RuntimeError("the inference worker is stopped")
            if request.key:
                self._supersede(request.key)
            if self._preempts(request):
                self._running.cancel("preempted")  # type: ignore[union-attr]
            heapq.heappush(self._queue, _Entry(request.priority, next(self._order), job))
            self._lock.notify()
        return job

    def _preempts(self, request: GenerationRequest) -> bool:
        """A running warm-up gives way to any more urgent request: it never delays one."""
        running = self._running
        return (
            running is not None
            and running.request.priority >= Priority.WARMUP
            and request.priority < running.request.priority
        )

    def _supersede(self, key: str) -> None:
        for entry in self._queue:
            if entry.job.request.key == key:
                entry.job.cancel("superseded")
        if self._running is not None and self._running.request.key == key:
            self._running.cancel("superseded")

    def _next_job(self) -> Job | None:
        with self._lock:
            while not self._stopped:
                while self._queue:
                    job = heapq.heappop(self._queue).job
                    # A running future cannot be cancelled any more: its result always lands.
                    if not job.cancel_token.cancelled and job.future.set_running_or_notify_cancel():
                        self._running = job
                        return job
                    job.settle()
                self._lock.wait()
            return None

    def _run(self) -> None:
        while (job := self._next_job()) is not None:
            try:
                result = self.engine.generate(job.request, job.cancel_token, job.on_text)
            except Exception as error:  # reported to the caller through its future
                logger.exception("generation failed")
                job.settle(error=error)
            else:
                job.settle(result)
            finally:
                with self._lock:
                    self._running = None

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            for entry in self._queue:
                entry.job.cancel("stopped")
                entry.job.settle()
            self._queue.clear()
            if self._running is not None:
                self._running.cancel("stopped")
            self._lock.notify_all()
        self._thread.join(timeout=10)
