"""The first line of a streamed block: a block answers as soon as its first line is decoded."""

from __future__ import annotations

import asyncio
import contextlib

from spark_lsp.completion.postprocess import LEADING_BLANK_LINES


class FirstLine:
    """Collects streamed text from the worker thread; ``ready`` resolves with the text up to the
    end of the first non-blank line once its newline arrives."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._text = ""
        self.ready: asyncio.Future[str] = loop.create_future()

    def feed(self, piece: str) -> None:
        self._text += piece
        blank = LEADING_BLANK_LINES.match(self._text)
        start = blank.end() if blank else 0
        end = self._text.find("\n", start)
        if end >= 0 and self._text[start:end].strip() and not self._loop.is_closed():
            line = self._text[:end]  # blank lines before it kept: post-processing handles them
            with contextlib.suppress(RuntimeError):  # the loop closed in between: nobody waits
                self._loop.call_soon_threadsafe(self._resolve, line)

    def _resolve(self, line: str) -> None:
        if not self.ready.done():
            self.ready.set_result(line)
