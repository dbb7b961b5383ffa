"""The frame reader on its own: good frames in order, and back in step after broken ones."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spark_lsp.lsp import framing
from spark_lsp.lsp.framing import MAX_HEADER_LINE_BYTES, FrameError, read_frame, read_frames


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def read_all(data: bytes, resync: bool = True) -> list[bytes]:
    async def run() -> list[bytes]:
        reader = asyncio.StreamReader(limit=MAX_HEADER_LINE_BYTES)
        reader.feed_data(data)
        reader.feed_eof()
        return [body async for body in read_frames(reader, resync=resync)]

    return asyncio.run(run())


def test_good_frames_come_in_order_with_other_headers_and_stray_blank_lines() -> None:
    data = (
        frame(b"one") + b"\r\n" + b"Content-Type: x\r\ncontent-length:  3 \r\n\r\ntwo" + frame(b"")
    )
    assert read_all(data) == [b"one", b"two", b""]


@pytest.mark.parametrize(
    "broken",
    [
        b"Content-Length\r\nContent-Length: 5\r\n\r\nhello",  # a header without its value
        b"Content-Length: 5\r\nContent-Length: x\r\n\r\nhello",  # one good length, one not
        b"Content-Length: 2\r\nContent-Length: 5\r\n\r\nhello",  # two lengths that differ
        b"X-Only: header\r\n\r\nhello",  # no Content-Length: the body is left behind
        b"Content-Length: 5\r\nX-Junk: " + b"a" * (2 * MAX_HEADER_LINE_BYTES) + b"\r\n\r\nhello",
        b"garbage without a line break",
    ],
)
def test_the_frame_after_a_broken_one_is_read(broken: bytes) -> None:
    assert read_all(frame(b"before") + broken + frame(b"next") + frame(b"last")) == [
        b"before",
        b"next",
        b"last",
    ]


def test_a_length_over_the_limit_is_skipped_and_the_next_frame_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its body may never come (the length is a mistake) or be there: either way reading goes on
    at the next header, and a header named inside that body is not taken for it."""
    assert read_all(b"Content-Length: 999999999999999999\r\n\r\n" + frame(b"next")) == [b"next"]
    monkeypatch.setattr(framing, "MAX_MESSAGE_BYTES", 1000)
    body = b'{"text": "' + b"x" * 30000 + b"Content-Length: 3\\r\\n\\r\\n" + b"y" * 9000 + b'"}'
    assert read_all(frame(b"before") + frame(body) + frame(b"next") + frame(b"last")) == [
        b"before",
        b"next",
        b"last",
    ]


def test_a_header_at_the_end_of_a_long_line_is_found() -> None:
    junk = b"z" * (5 * MAX_HEADER_LINE_BYTES)
    assert read_all(junk + frame(b"next") + frame(b"last")) == [b"next", b"last"]


def leftover_after_read_frame(data: bytes, max_bytes: int) -> tuple[bytes | None, int]:
    """(the frame read, or None when it raised FrameError; the bytes left in the stream)."""

    async def run() -> tuple[bytes | None, int]:
        reader = asyncio.StreamReader(limit=MAX_HEADER_LINE_BYTES)
        reader.feed_data(data)
        reader.feed_eof()
        try:
            body: bytes | None = await read_frame(reader, max_bytes)
        except FrameError:
            body = None
        return body, len(await reader.read())

    return asyncio.run(run())


def test_one_frame_is_read_within_its_budget_headers_included() -> None:
    assert leftover_after_read_frame(frame(b"x" * 8000) + b"rest", 8192) == (b"x" * 8000, 4)
    # Refused at its header: the body is not read.
    body = b"y" * (4 * 1024 * 1024)
    assert leftover_after_read_frame(frame(body), 8192) == (None, len(body))
    # Header lines count: at most the budget and one line are read.
    headers = b"".join(b"X-%d: %s\r\n" % (n, b"h" * 4000) for n in range(30))
    data = headers + b"Content-Length: 2\r\n\r\nhi"
    body_read, left = leftover_after_read_frame(data, 8192)
    assert body_read is None and len(data) - left <= 8192 + MAX_HEADER_LINE_BYTES


def test_without_resync_a_broken_frame_raises() -> None:
    with pytest.raises(FrameError, match="without Content-Length"):
        read_all(b"X-Only: header\r\n\r\n", resync=False)
    with pytest.raises(FrameError, match="differ"):
        read_all(b"Content-Length: 2\r\nContent-Length: 5\r\n\r\nhello", resync=False)
    with pytest.raises(FrameError, match="header lines"):
        read_all(b"".join(b"X-%d: y\r\n" % n for n in range(40)), resync=False)


@settings(max_examples=300, deadline=None)
@given(junk=st.binary(max_size=300).filter(lambda b: b"content-length" not in b.lower()))
def test_junk_with_no_length_costs_no_frame(junk: bytes) -> None:
    """Bytes that hold no Content-Length can form no frame and hide none that follows."""
    assert read_all(junk + frame(b"next") + frame(b"last")) == [b"next", b"last"]
