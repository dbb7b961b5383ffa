"""What a streamed answer can show before it ends: a block's first line as soon as it is decoded,
and, with an early-answer budget, the text so far once that budget has passed."""

from __future__ import annotations

import asyncio
import contextlib
import time

from spark_lsp.completion.postprocess import LEADING_BLANK_LINES


class FirstLine:
    """Collects streamed text from the worker thread. ``ready`` resolves with the text up to the
    end of the first non-blank line once its newline arrives; ``early`` (with ``early_after_s``)
    with the text so far at the first piece that comes after that long, if it holds a
    non-blank line start (a one-line answer shows what it has, an invoked block its complete
    lines; the rest follows into the cache)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, early_after_s: float | None = None) -> None:
        self._loop = loop
        self._text = ""
        self._early_at = time.perf_counter() + early_after_s if early_after_s else None
        self.ready: asyncio.Future[str] = loop.create_future()
        self.early: asyncio.Future[str] = loop.create_future()

    def feed(self, piece: str) -> None:
        self._text += piece
        blank = LEADING_BLANK_LINES.match(self._text)
        start = blank.end() if blank else 0
        end = self._text.find("\n", start)
        if end >= 0 and self._text[start:end].strip():
            self._post(self.ready, self._text[:end])  # blank lines before it: post-processing
        if self._early_now() and self._text[start:].strip():
            self._post(self.early, self._text)

    def _early_now(self) -> bool:
        return self._early_at is not None and time.perf_counter() >= self._early_at

    def _post(self, future: asyncio.Future[str], text: str) -> None:
        if self._loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed in between: nobody waits
            self._loop.call_soon_threadsafe(_resolve, future, text)


def complete_lines(text: str) -> str | None:
    """The streamed text up to its last line break, when that holds a non-blank line (a block's
    lines so far, without the one still being written); None: no line is complete yet."""
    end = text.rfind("\n")
    return text[:end] if end >= 0 and text[:end].strip() else None


def _resolve(future: asyncio.Future[str], text: str) -> None:
    if not future.done():
        future.set_result(text)
