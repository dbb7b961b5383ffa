"""The server's state for editors' status bars: the ``spark/status`` notification.

Params: ``{"state": "loading" | "ready" | "generating" | "error", "message": str}``, plus
``percentage`` while loading and ``latencyMs`` (of the last suggestion) when a request ends. The
model's state wins: requests report generating and ready only once the model is loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

STATUS_NOTIFICATION = "spark/status"

Send = Callable[[str, dict[str, Any]], None]


class StatusReporter:
    def __init__(self, send: Send) -> None:
        self._send = send
        self._model_state = "loading"
        self._model_message = "starting"
        self._busy = 0
        self._latency: float | None = None  # of the last request that timed a suggestion
        self._last: dict[str, Any] | None = None

    @property
    def last(self) -> dict[str, Any] | None:
        """The last notification sent, for tests and debug requests."""
        return self._last

    def loading(self, percentage: int, message: str) -> None:
        self._model_state, self._model_message = "loading", message
        self._emit({"state": "loading", "message": message, "percentage": percentage})

    def model_ready(self, message: str) -> None:
        self._model_state, self._model_message = "ready", message
        self._emit({"state": "ready", "message": message})
        if self._busy:  # requests were waiting for the model: they run now
            self._emit({"state": "generating", "message": "generating"})

    def not_loaded(self, message: str) -> None:
        """The model loads at the first request: the server serves, and nothing is loading."""
        if self._model_state == "loading" and self._last is None:
            self._emit({"state": "ready", "message": message})

    def model_failed(self, message: str) -> None:
        self._model_state, self._model_message = "error", message
        self._emit({"state": "error", "message": message})

    @contextmanager
    def generating(self, message: str = "generating") -> Iterator[dict[str, float]]:
        """Around a request that may call the model; the caller sets ``timing["latencyMs"]``
        when it produced something worth timing. Overlapping requests report one generating
        span, then the latency of the last one that set it."""
        timing: dict[str, float] = {}
        self._busy += 1
        if self._busy == 1:
            self._latency = None
            if self._model_state == "ready":
                self._emit({"state": "generating", "message": message})
        try:
            yield timing
        finally:
            self._busy -= 1
            if "latencyMs" in timing:
                self._latency = round(timing["latencyMs"], 1)
            if self._model_state == "ready" and self._busy == 0:
                params: dict[str, Any] = {"state": "ready", "message": self._model_message}
                if self._latency is not None:
                    params["latencyMs"] = self._latency
                self._emit(params)

    def _emit(self, params: dict[str, Any]) -> None:
        if params == self._last:
            return
        self._last = params
        self._send(STATUS_NOTIFICATION, params)
