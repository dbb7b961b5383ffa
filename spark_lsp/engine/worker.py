"""One inference worker thread owns the engine; requests queue by priority.

A newer request with the same key supersedes older ones (unless it says otherwise): a queued one
leaves the queue at once, a running one is cancelled (the engine stops within one decode step).
A more urgent request preempts a running code action or speculative request: an engine that can
resume stops after the step it is in, keeps its cells, and the job goes back to the queue to
continue where it stopped once the urgent work is done; a warm-up is simply cancelled. The queue
holds at most MAX_QUEUED jobs: beyond that the least urgent, oldest one is dropped.

Callers get a Job whose concurrent Future settles on the worker's thread; code on the event loop
awaits it with ``run_job``. Cancelling through ``Job.cancel`` works from any thread. Threads:
the queue and ``_running`` are guarded by ``_lock``; only the worker thread calls the engine.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field, fields, replace

from spark_lsp.engine.base import (
    CancelToken,
    Engine,
    EngineError,
    GenerationRequest,
    GenerationResult,
    GenerationStats,
    Priority,
    PromptTooLong,
    StopReason,
    TokenCallback,
)

logger = logging.getLogger(__name__)


@dataclass(order=True)
class _Entry:
    priority: int
    order: int
    job: Job = field(compare=False)


MAX_QUEUED = 64


@dataclass(eq=False)
class Job:
    request: GenerationRequest
    on_text: TokenCallback | None = None
    cancel_token: CancelToken = field(default_factory=CancelToken)
    future: Future[GenerationResult] = field(default_factory=Future)
    # What earlier runs of a preempted job produced, joined to the final result.
    earlier: GenerationResult | None = None
    preemptions: int = 0

    def __post_init__(self) -> None:
        # A caller that gives up on a queued job (asyncio cancels the future it wrapped) means
        # the job must not run.
        self.future.add_done_callback(
            lambda future: self.cancel("abandoned") if future.cancelled() else None
        )

    def cancel(self, reason: str = "cancelled") -> None:
        self.cancel_token.cancel(reason)

    def continue_after(self, result: GenerationResult) -> None:
        """Prepare the job to continue a preempted run: the answer so far follows the prompt."""
        request = self.request
        self.earlier = joined(self.earlier, result) if self.earlier else result
        spent_ms = result.stats.total_ms
        budget = request.predict_time_budget_ms
        self.request = replace(
            request,
            resume=(*request.resume, *result.resume),
            max_tokens=max(1, request.max_tokens - len(result.resume)),
            predict_time_budget_ms=max(1.0, budget - spent_ms) if budget else budget,
        )
        self.preemptions += 1
        self.cancel_token.clear_preemption()

    def settle(
        self, result: GenerationResult | None = None, error: BaseException | None = None
    ) -> None:
        """Give the caller its outcome, unless it already cancelled the future."""
        if self.future.done():
            return
        if result is not None and self.earlier is not None:
            result = joined(self.earlier, result)
        try:
            if error is not None:
                self.future.set_exception(error)
            else:
                self.future.set_result(result or GenerationResult("", StopReason.CANCELLED))
        except InvalidStateError:  # cancelled between the check and the set
            pass


# Stats that describe the request rather than add up over its parts.
_REQUEST_STATS = frozenset({"prompt_tokens", "time_to_first_token_ms"})


def joined(earlier: GenerationResult, later: GenerationResult) -> GenerationResult:
    """One answer from a preempted run and its continuation: the text and the scored tokens
    follow each other (the engine holds back a character split across the preemption until
    its last byte), every time and count adds up, and the rest (stop reason, error,
    alternatives, the resume state) is the later part's, which ended the request."""
    stats = _joined_stats(earlier.stats, later.stats)
    return replace(
        later,
        text=earlier.text + later.text,
        stats=stats,
        scored=(*earlier.scored, *later.scored),
        resume=(*earlier.resume, *later.resume) if later.resume else (),
    )


def _joined_stats(earlier: GenerationStats, later: GenerationStats) -> GenerationStats:
    values = {}
    for stat in fields(GenerationStats):
        first, second = getattr(earlier, stat.name), getattr(later, stat.name)
        values[stat.name] = (first or second) if stat.name in _REQUEST_STATS else first + second
    return GenerationStats(**values)


async def run_job(job: Job) -> GenerationResult:
    """The job's result, awaited on the event loop. Cancelling the awaiting task cancels the job
    (the engine stops within one decode step); an EngineError becomes a FAILED result that says
    why, so callers decide what a failure means for them."""
    try:
        return await asyncio.wrap_future(job.future)
    except asyncio.CancelledError:
        job.cancel("request cancelled")
        raise
    except PromptTooLong as error:
        return GenerationResult("", StopReason.FAILED, error=str(error), overflow=error.overflow)
    except EngineError as error:
        return GenerationResult("", StopReason.FAILED, error=str(error))


# How often a worker that yields to another checks whether that one is still busy.
YIELD_POLL_S = 0.02


class InferenceWorker:
    def __init__(self, engine: Engine, yields_to: Callable[[], bool] = lambda: False) -> None:
        """``yields_to()``: whether another worker on the same CPU has interactive work, before
        which this one's jobs wait (a second model's background work never slows the user's
        suggestions; ``yield_running`` stops a running one, to resume later)."""
        self.engine = engine
        self._resumable = engine.capabilities.resumable
        self._yields_to = yields_to
        self._interactive_listeners: list[Callable[[], None]] = []
        self._queue: list[_Entry] = []
        self._order = itertools.count()
        self._lock = threading.Condition()
        self._running: Job | None = None
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="spark-inference", daemon=True)
        self._thread.start()

    @property
    def queued(self) -> int:
        with self._lock:
            return len(self._queue)

    def submit(self, request: GenerationRequest, on_text: TokenCallback | None = None) -> Job:
        job = Job(request, on_text)
        if request.priority == Priority.INTERACTIVE:
            for listener in self._interactive_listeners:
                listener()
        with self._lock:
            if self._stopped:
                raise RuntimeError("the inference worker is stopped")
            if request.key and request.supersedes:
                self._supersede(request.key)
            self._preempt_for(request)
            heapq.heappush(self._queue, _Entry(request.priority, next(self._order), job))
            while len(self._queue) > MAX_QUEUED:
                self._drop_least_urgent()
            self._lock.notify()
        return job

    def on_interactive(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (from the submitting thread) whenever interactive work arrives."""
        self._interactive_listeners.append(listener)

    def has_interactive_work(self) -> bool:
        with self._lock:
            running = self._running
            if running is not None and running.request.priority == Priority.INTERACTIVE:
                return True
            return any(entry.priority == Priority.INTERACTIVE for entry in self._queue)

    def yield_running(self) -> None:
        """Another worker's interactive work arrived: the running job stops at its next token
        and waits (resumed where it stopped; a warm-up is cancelled); an engine that cannot
        resume finishes it."""
        with self._lock:
            running = self._running
            if running is None:
                return
            if running.request.priority >= Priority.WARMUP:
                running.cancel("preempted")
            elif self._resumable:
                running.cancel_token.preempt()

    def demote(self, job: Job, priority: Priority) -> None:
        """``job`` is no longer what someone waits for (an early answer was shown and the rest
        only fills a cache): from now on it yields to urgent requests as ``priority`` work
        does, preempted and resumed later rather than making them queue behind it."""
        with self._lock:
            if priority <= job.request.priority:
                return
            job.request = replace(job.request, priority=priority)
            for entry in self._queue:
                if entry.job is job:
                    entry.priority = priority
                    heapq.heapify(self._queue)
                    break

    def _preempt_for(self, request: GenerationRequest) -> None:
        """A running warm-up gives way to any more urgent request (it is cancelled); a running
        action or speculative request is preempted for an interactive one, and continues later
        where it stopped (engines that cannot resume finish it first)."""
        running = self._running
        if running is None or request.priority >= running.request.priority:
            return
        if running.request.priority >= Priority.WARMUP:
            running.cancel("preempted")
        elif request.priority == Priority.INTERACTIVE and self._resumable:
            running.cancel_token.preempt()

    def _supersede(self, key: str) -> None:
        kept = []
        for entry in self._queue:
            if entry.job.request.key == key:
                entry.job.cancel("superseded")
                entry.job.settle()
            else:
                kept.append(entry)
        if len(kept) != len(self._queue):
            self._queue[:] = kept
            heapq.heapify(self._queue)
        if self._running is not None and self._running.request.key == key:
            self._running.cancel("superseded")

    def _drop_least_urgent(self) -> None:
        least = max(self._queue, key=lambda entry: (entry.priority, -entry.order))
        self._queue.remove(least)
        heapq.heapify(self._queue)
        least.job.cancel("the queue is full")
        least.job.settle()

    def _next_job(self) -> Job | None:
        with self._lock:
            while not self._stopped:
                while self._queue and self._yields_to():
                    self._lock.wait(timeout=YIELD_POLL_S)
                while self._queue:
                    job = heapq.heappop(self._queue).job
                    # A running future cannot be cancelled any more: its result always lands. (A
                    # preempted job's future is running already.)
                    starts = job.future.running() or job.future.set_running_or_notify_cancel()
                    if not job.cancel_token.cancelled and starts:
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
                if result.stop_reason is StopReason.PREEMPTED and not job.cancel_token.cancelled:
                    job.continue_after(result)
                    with self._lock:
                        self._running = None
                        order = next(self._order)
                        heapq.heappush(self._queue, _Entry(job.request.priority, order, job))
                    continue
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
