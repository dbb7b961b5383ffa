"""The base protocol's frames: ``Content-Length`` headers, a blank line, then the body.

Over TCP a broken frame ends the connection (the client can reconnect). Over stdio the stream
is the only one there is, so a broken frame is skipped with a warning and reading finds its way
back to the next frame: past the broken frame's body when its length is known and within the
limit, else to the next ``Content-Length:`` in the stream, even inside the line that input left
behind runs into. The search holds no more than a header line's worth of input: a length over
the limit may announce a body that never comes, so that body is searched, never waited for.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

logger = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # one JSON-RPC message (a document's full text fits)
MAX_HEADER_LINE_BYTES = 8192
MAX_HEADER_LINES = 32
CONTENT_LENGTH = b"content-length:"
# Kept from the end of a line too long to read while searching: a whole Content-Length header.
SEARCH_TAIL_BYTES = 256


class FrameError(Exception):
    """A frame that breaks the base protocol or its limits."""

    def __init__(self, message: str, body_length: int | None = None) -> None:
        super().__init__(message)
        self.body_length = body_length  # a usable Content-Length of the broken frame, if any


@dataclass(frozen=True)
class _Headers:
    body_length: int
    size: int  # the bytes read for them


async def read_frames(reader: asyncio.StreamReader, resync: bool = False) -> AsyncIterator[bytes]:
    """The bodies of frames until the end of the stream. A frame that breaks the limits raises
    FrameError, or with ``resync`` is skipped with a warning, and reading goes on at the next
    frame."""
    searching = False  # after a broken frame of unknown length: look for the next header
    while True:
        try:
            headers = await _read_headers(reader, searching)
        except FrameError as error:
            if not resync:
                raise
            logger.warning("skipped a broken frame: %s", error)
            if error.body_length is not None and error.body_length <= MAX_MESSAGE_BYTES:
                await _discard(reader, error.body_length)
                searching = False
            else:
                searching = True
            continue
        searching = False
        if headers is None:
            return
        length = headers.body_length
        if length > MAX_MESSAGE_BYTES:
            error = FrameError(
                f"a message of {length:,} bytes (the limit is {MAX_MESSAGE_BYTES:,})"
            )
            if not resync:
                raise error
            logger.warning(
                "skipped a frame over the limit (%s): reading on at the next header", error
            )
            searching = True
            continue
        try:
            yield await reader.readexactly(length)
        except asyncio.IncompleteReadError:
            if resync:
                return
            raise FrameError("the stream ended inside a frame's body") from None


async def read_frame(reader: asyncio.StreamReader, max_bytes: int) -> bytes | None:
    """The body of one frame of at most ``max_bytes`` with its headers, or None at the end of
    the stream. A bigger frame raises FrameError before its body is read: at most ``max_bytes``
    and one header line are taken from the stream."""
    headers = await _read_headers(reader, max_bytes=max_bytes)
    if headers is None:
        return None
    if headers.size + headers.body_length > max_bytes:
        raise FrameError(
            f"a message of {headers.body_length:,} bytes (the limit is {max_bytes:,} bytes)"
        )
    try:
        return await reader.readexactly(headers.body_length)
    except asyncio.IncompleteReadError:
        raise FrameError("the stream ended inside a frame's body") from None


async def _read_headers(
    reader: asyncio.StreamReader, searching: bool = False, max_bytes: int | None = None
) -> _Headers | None:
    """A frame's headers, or None at the end of the stream. A header block with a problem is
    read to its end before the error is raised, so that reading can go on at the next frame.
    ``searching`` drops input up to the next ``Content-Length:``; past ``max_bytes`` the headers
    raise FrameError at once."""
    lengths: set[int] = set()
    problem: str | None = None
    count = size = 0
    while True:
        line = await _read_line(reader, started=bool(count), searching=searching)
        if line is None:
            return None
        size += len(line)
        if max_bytes is not None and size > max_bytes:
            raise FrameError(f"headers over {max_bytes:,} bytes")
        # Input left over from a broken frame need not end in a line break: then the next
        # frame's header is the end of its line.
        found = line.lower().rfind(CONTENT_LENGTH)
        if found >= 0:
            line, searching = line[found:], False
        elif searching:
            continue
        if line in (b"\r\n", b"\n"):
            if count == 0:
                continue  # a stray blank line between frames
            return _Headers(_length_of(lengths, problem), size)
        count += 1
        if count > MAX_HEADER_LINES:
            raise FrameError(f"more than {MAX_HEADER_LINES} header lines")
        name, _, value = line.decode("ascii", "replace").partition(":")
        if name.strip().lower() == "content-length":
            text = value.strip()
            if text.isdigit() and len(text) <= 18:
                lengths.add(int(text))
            else:
                problem = f"a Content-Length that is not a byte count: {text[:40]!r}"


def _length_of(lengths: set[int], problem: str | None) -> int:
    """The frame's one Content-Length, or FrameError (with the length, when only one byte
    count was given, so that the body can be passed over)."""
    known = next(iter(lengths)) if len(lengths) == 1 else None
    if len(lengths) > 1:
        problem = f"Content-Lengths that differ: {sorted(lengths)[:4]}"
    if problem is not None or known is None:
        raise FrameError(problem or "a frame without Content-Length", body_length=known)
    return known


async def _read_line(
    reader: asyncio.StreamReader, started: bool, searching: bool = False
) -> bytes | None:
    """One header line with its line break, or None at a clean end of the stream. While
    ``searching``, a line over the limit is dropped but for its end, where the next header may
    begin."""
    while True:
        try:
            return await reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as error:
            if error.partial.strip() or started:
                raise FrameError("the stream ended inside a frame's headers") from None
            return None
        except asyncio.LimitOverrunError as overrun:
            if not searching:
                raise FrameError(f"a header line over {MAX_HEADER_LINE_BYTES:,} bytes") from None
            await reader.readexactly(overrun.consumed - SEARCH_TAIL_BYTES)


async def _discard(reader: asyncio.StreamReader, count: int) -> None:
    while count > 0:
        chunk = await reader.read(min(count, 1 << 20))
        if not chunk:
            return
        count -= len(chunk)
