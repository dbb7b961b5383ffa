"""The answer as it is generated, shared by every backend: stop strings, the token limit, and
streaming to the caller.

Pieces arrive one at a time (a token's text from the in-process engine, a streamed chunk from a
server). Text reaches ``on_text`` as soon as it cannot be the start of a stop string split across
pieces, so a caller never sees text that a stop string later removes. Once the result is taken,
nothing more reaches ``on_text``: a remote stream's I/O thread may still be delivering a piece
when a cancellation returns the result on the worker's thread, hence the lock.
"""

from __future__ import annotations

import threading
import time

from spark_lsp.engine.base import (
    GenerationRequest,
    GenerationResult,
    GenerationStats,
    StopReason,
    TokenCallback,
    stop_index,
    undecided_tail,
)


class StreamedAnswer:
    def __init__(
        self,
        request: GenerationRequest,
        on_text: TokenCallback | None,
        started: float,
        stats: GenerationStats,
        always_stops: tuple[str, ...] = (),
    ) -> None:
        """``always_stops`` end the answer wherever they appear (a template's special tokens
        spelled as text), unlike the request's own stop strings (see ``stop_after_text``)."""
        self.request = request
        self.stats = stats
        self._on_text = on_text
        self._started = started
        self._always_stops = always_stops
        self._lock = threading.Lock()
        self._closed = False
        self._emitted = 0
        self.text = ""

    def add(self, piece: str, tokens: int = 1) -> StopReason | None:
        """Take the text of ``tokens`` generated tokens; the reason to stop here, if any: a stop
        string (the text is cut before it), the token limit, or a result already taken."""
        with self._lock:
            if self._closed:
                return StopReason.CANCELLED
            stats = self.stats
            if tokens and not stats.tokens_generated:
                stats.time_to_first_token_ms = (time.perf_counter() - self._started) * 1000
            stats.tokens_generated += tokens
            self.text += piece
            cut = self._stop_at()
            if cut >= 0:
                self.text = self.text[:cut]
                self._emit(len(self.text))
                return StopReason.STOP
            self._emit(len(self.text) - self._partial_stop())
            if tokens and stats.tokens_generated >= self.request.max_tokens:
                return StopReason.LENGTH
            return None

    def result(self, reason: StopReason) -> GenerationResult:
        """The answer; a cancelled one keeps only what the caller has already seen."""
        with self._lock:
            self._closed = True
            if reason is StopReason.CANCELLED:
                self.text = self.text[: self._emitted]
            else:
                self._emit(len(self.text))
            self.stats.total_ms = (time.perf_counter() - self._started) * 1000
            return GenerationResult(self.text, reason, self.stats)

    def _emit(self, upto: int) -> None:
        if upto > self._emitted:
            if self._on_text is not None:
                self._on_text(self.text[self._emitted : upto])
            self._emitted = upto

    def _stop_at(self) -> int:
        found = stop_index(self.text, self.request)
        for stop in self._always_stops:
            index = self.text.find(stop)
            if index >= 0 and (found < 0 or index < found):
                found = index
        return found

    def _partial_stop(self) -> int:
        """The length of the longest end of the text that begins a stop string (or that a block
        end may still cut)."""
        longest = undecided_tail(self.text) if self.request.stop_at_block_end else 0
        for stop in (*self.request.stop, *self._always_stops):
            for length in range(min(len(stop) - 1, len(self.text)), longest, -1):
                if self.text.endswith(stop[:length]):
                    longest = length
                    break
        return longest
