"""A hostile inference server cannot hang, flood or crash the language server: endless streams,
huge bodies, lines that never end and slow drips all end as errors within bounds."""

from __future__ import annotations

import asyncio
import json
import time

from spark_lsp.engine import StopReason
from spark_lsp.engine.remote.errors import RemoteMalformed
from spark_lsp.engine.remote.transport import MAX_BODY_BYTES, MAX_LINE_BYTES
from tests.test_remote_unit import KNOWN, FakeServer, completion, engines, run, server, text_chunk

__all__ = ["engines", "server"]  # pytest fixtures, used by name

STREAM_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"


def raw(producer):
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        try:
            async for piece in producer():
                writer.write(piece)
                await writer.drain()
        except (ConnectionError, RuntimeError):
            pass
        return False

    return handler


def test_an_endless_stream_stops_at_max_tokens(server: FakeServer, engines) -> None:
    async def endless():
        yield STREAM_HEAD
        while True:
            yield f"data: {json.dumps(text_chunk('x '))}\n\n".encode()

    server.route("/v1/completions", raw(endless))
    engine = engines(server.url, info=KNOWN)
    result, _ = run(engine, completion())
    assert result.stop_reason is StopReason.LENGTH
    assert result.stats.tokens_generated == 32  # the request's max_tokens


def test_an_endless_stream_of_empty_events_is_malformed(server: FakeServer, engines) -> None:
    async def keepalives():
        yield STREAM_HEAD
        while True:
            yield f"data: {json.dumps(text_chunk(''))}\n\n".encode()

    server.route("/v1/completions", raw(keepalives))
    engine = engines(server.url, info=KNOWN)
    try:
        run(engine, completion())
    except RemoteMalformed as error:
        assert "events" in str(error)
    else:
        raise AssertionError("an endless stream without text was accepted")


def test_a_huge_json_body_is_refused_without_reading_it_all(server: FakeServer, engines) -> None:
    async def gigabyte():
        yield b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        yield b"Content-Length: 1073741824\r\n\r\n"
        block = b" " * (1 << 20)
        for _ in range(1024):
            yield block

    server.route("/v1/models", raw(gigabyte))
    engine = engines(server.url)
    started = time.perf_counter()
    try:
        engine.connect()
    except RemoteMalformed as error:
        assert f"{MAX_BODY_BYTES:,}" in str(error)
    else:
        raise AssertionError("a 1 GB answer was accepted")
    assert time.perf_counter() - started < 20


def test_a_line_without_a_newline_is_refused(server: FakeServer, engines) -> None:
    async def no_newline():
        yield STREAM_HEAD + b"data: "
        block = b"x" * 65536
        for _ in range(MAX_LINE_BYTES // 65536 + 4):
            yield block

    server.route("/v1/completions", raw(no_newline))
    engine = engines(server.url, info=KNOWN)
    try:
        run(engine, completion())
    except RemoteMalformed as error:
        assert "line" in str(error)
    else:
        raise AssertionError("an endless line was accepted")


def test_a_slow_drip_ends_at_the_time_budget(server: FakeServer, engines) -> None:
    async def drip():
        yield STREAM_HEAD
        event = f"data: {json.dumps(text_chunk('w '))}\n\n".encode()
        while True:
            for byte in event:
                yield bytes([byte])
                await asyncio.sleep(0.01)

    server.route("/v1/completions", raw(drip))
    engine = engines(server.url, info=KNOWN)
    started = time.perf_counter()
    result, _ = run(engine, completion(predict_time_budget_ms=500, prompt_time_budget_ms=2000))
    assert result.stop_reason is StopReason.TIME_BUDGET
    assert time.perf_counter() - started < 5
