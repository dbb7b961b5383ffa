"""HTTP to the inference server: one pooled client, JSON calls and server-sent-event streams.

The client lives on its own asyncio event loop in a daemon thread, so that the synchronous engine
interface can wait on it and a cancellation from any thread interrupts a stream at once (cancelling
the task closes the response; a blocked socket read in a synchronous client cannot be interrupted
safely). Connections are kept alive and reused; HTTP/2 is negotiated where the server offers it
(over TLS, by ALPN). The API key goes into the Authorization header and nowhere else.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ipaddress
import json
import logging
import random
import re
import threading
import urllib.parse
from collections.abc import AsyncIterator, Coroutine, Iterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx
import httpx_sse

from spark_lsp.engine.base import CancelToken
from spark_lsp.engine.remote.errors import (
    RemoteMalformed,
    RemoteRejected,
    RemoteUnauthorized,
    RemoteUnavailable,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")
RETRY_STATUSES = frozenset({429, 502, 503, 504})
# What sending on a kept-alive connection the server closed meanwhile looks like (llama.cpp's
# server closes a connection after a few requests): the request never reached it.
STALE_CONNECTION_ERRORS = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)
FIRST_BACKOFF_S = 0.1
MAX_BACKOFF_S = 2.0
ERROR_BODY_LIMIT = 500
MAX_BODY_BYTES = 8 * 1024 * 1024  # of a JSON answer
MAX_LINE_BYTES = 1024 * 1024  # of one line of an event stream
MAX_STREAM_BYTES = 32 * 1024 * 1024  # of one event stream


class Cancelled(Exception):
    """The caller cancelled while waiting on the server."""


class IoLoop:
    """An asyncio event loop running in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="spark-remote-io", daemon=True
        )
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], cancel: CancelToken | None = None) -> T:
        """Run ``coroutine`` on the loop and wait; a cancel token stops it at once (Cancelled)."""
        if self.loop.is_closed() or not self.loop.is_running():
            coroutine.close()
            raise RemoteUnavailable("the connection to the inference server is closed")
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        if cancel is not None:
            cancel.on_cancel(future.cancel)
        try:
            return future.result()
        except concurrent.futures.CancelledError:
            raise Cancelled(cancel.reason if cancel else "cancelled") from None

    def close(self) -> None:
        """Cancel what still runs (a waiting caller gets Cancelled), then stop the loop."""
        if not self.loop.is_running():
            return
        try:
            asyncio.run_coroutine_threadsafe(_finish_tasks(self.loop), self.loop).result(5)
        except Exception:
            logger.debug("finishing the I/O tasks failed", exc_info=True)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self.loop.close()


async def _finish_tasks(loop: asyncio.AbstractEventLoop) -> None:
    current = asyncio.current_task()
    tasks = [task for task in asyncio.all_tasks(loop) if task is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await loop.shutdown_asyncgens()  # streams closed early leave generators to finalize


def describe(error: BaseException) -> str:
    """A short cause a user can act on (httpx's own messages are often empty)."""
    match error:
        case httpx.ConnectTimeout():
            return "connecting timed out"
        case httpx.ConnectError():
            if any(isinstance(cause, ConnectionRefusedError) for cause in _causes(error)):
                return "connection refused"
            return f"cannot connect ({error})"
        case httpx.ReadTimeout() | httpx.PoolTimeout() | httpx.WriteTimeout():
            return "the server stopped answering (timed out)"
        case httpx.RemoteProtocolError() | httpx.ReadError():
            return f"the connection broke ({error or type(error).__name__})"
        case _:
            return str(error) or type(error).__name__


def _causes(error: BaseException) -> Iterator[BaseException]:
    seen: BaseException | None = error
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


class Transport:
    """JSON requests and SSE streams to one server, over a pool of kept-alive connections.

    ``reuse_connections=False`` opens a new connection per request (the benchmark's baseline).
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        timeout_s: float = 30.0,
        retries: int = 2,
        reuse_connections: bool = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retries = retries
        self.reuse_connections = reuse_connections
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0))
        self.io = IoLoop()
        try:
            self._client = self.io.run(self._open_client())
        except Exception as error:  # a bad SSL_CERT_FILE, for example
            self.io.close()
            raise RemoteRejected(
                f"cannot set up connections to {display_url(self.base_url)}: {error}"
            ) from None
        self.http_version = ""  # of the last response ("HTTP/1.1", "HTTP/2")

    async def _open_client(self) -> httpx.AsyncClient:
        kept_alive = 8 if self.reuse_connections else 0
        return httpx.AsyncClient(
            base_url=self.base_url,
            headers=self._headers,
            timeout=self._timeout,
            http2=True,
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=kept_alive),
        )

    def get_json(self, path: str, cancel: CancelToken | None = None) -> Any:
        return self.io.run(self._call("GET", path, None), cancel)

    def post_json(self, path: str, body: dict[str, Any], cancel: CancelToken | None = None) -> Any:
        return self.io.run(self._call("POST", path, body), cancel)

    async def _call(self, method: str, path: str, body: dict[str, Any] | None) -> Any:
        attempts = _Attempts(self, path)
        while True:
            try:
                async with self._client.stream(method, path, json=body) as response:
                    if await attempts.retry_status(response):
                        continue
                    content = await self._read_capped(response, path, MAX_BODY_BYTES)
            except httpx.HTTPError as error:
                await attempts.after_error(error)
                continue
            self.http_version = response.http_version
            check_status(response, path, content.decode("utf-8", "replace"))
            try:
                return json.loads(content)
            except (ValueError, RecursionError):  # not JSON, not text, or nested absurdly deep
                raise RemoteMalformed(f"{self.url(path)} did not answer JSON") from None

    async def _read_capped(self, response: httpx.Response, path: str, limit: int) -> bytes:
        """The body, refused (RemoteMalformed) beyond ``limit`` bytes: a server that answers a
        gigabyte gets no more of our memory than that."""
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                raise RemoteMalformed(f"{self.url(path)} answered more than {limit:,} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    @asynccontextmanager
    async def events(self, path: str, body: dict[str, Any]) -> AsyncIterator[AsyncIterator[str]]:
        """The ``data`` fields of the server's event stream for a POST. Failures before the
        stream starts are retried (see _Attempts); a stream that already began is never
        retried (its text may already be shown)."""
        attempts = _Attempts(self, path)
        began = False
        while True:
            try:
                async with httpx_sse.aconnect_sse(self._client, "POST", path, json=body) as source:
                    response = source.response
                    if await attempts.retry_status(response):
                        continue
                    if response.status_code != 200:
                        detail = await self._read_capped(response, path, MAX_BODY_BYTES)
                        check_status(response, path, detail.decode("utf-8", "replace"))
                    began = True
                    yield self._data(source, path)
                    return
            except httpx.HTTPError as error:
                if began:
                    raise self.unavailable(path, error) from None
                await attempts.after_error(error)

    async def _data(self, source: httpx_sse.EventSource, path: str) -> AsyncIterator[str]:
        """The events' data, read line by line (as the SSE specification says) rather than with
        httpx-sse's decoder, which drops the ``error:`` lines older llama.cpp servers send."""
        kind = source.response.headers.get("content-type", "").partition(";")[0].strip()
        if kind != "text/event-stream":
            raise RemoteMalformed(f"{self.url(path)} did not answer an event stream ({kind!r})")
        data: list[str] = []
        try:
            async for line in self._lines(source.response, path):
                if not line:
                    if data:
                        yield "\n".join(data)
                    data = []
                    continue
                field, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if field == "data":
                    data.append(value)
                elif field == "error":
                    message = error_detail(value)
                    raise RemoteRejected(
                        f"{self.url(path)}: the server stopped with an error: {message}"
                    )
            if data:
                yield "\n".join(data)
        except httpx.HTTPError as error:
            raise self.unavailable(path, error) from None

    async def _lines(self, response: httpx.Response, path: str) -> AsyncIterator[str]:
        """The stream's lines (at \n, \r\n or \r, as SSE says), each at most MAX_LINE_BYTES
        and all together at most MAX_STREAM_BYTES: a line that never ends or a stream that never
        does is an error, not an ever-growing buffer."""
        pending = b""
        total = 0
        async for chunk in response.aiter_bytes():
            total += len(chunk)
            if total > MAX_STREAM_BYTES:
                raise RemoteMalformed(
                    f"{self.url(path)} streamed more than {MAX_STREAM_BYTES:,} bytes"
                )
            pending += chunk
            *lines, pending = re.split(rb"\r\n|\r(?!$)|\n", pending)
            if len(pending) > MAX_LINE_BYTES:
                raise RemoteMalformed(f"{self.url(path)} sent a line over {MAX_LINE_BYTES:,} bytes")
            for line in lines:
                yield line.decode("utf-8", "replace")
        if pending:
            yield pending.rstrip(b"\r").decode("utf-8", "replace")

    def url(self, path: str) -> str:
        """For messages: credentials in the endpoint's URL are left out."""
        return f"{display_url(self.base_url)}{path}"

    def unavailable(self, path: str, error: BaseException) -> RemoteUnavailable:
        return RemoteUnavailable(f"inference server {self.url(path)}: {describe(error)}")

    def close(self) -> None:
        if not self.io.loop.is_running():
            return  # closed already
        try:
            self.io.run(self._client.aclose())
        except Exception:  # closing is best effort
            logger.debug("closing the HTTP client failed", exc_info=True)
        self.io.close()


class _Attempts:
    """One request's retries before the server answered: with backoff for refused connections
    and overload (429, 502-504), up to the transport's count; and once at once for a kept-alive
    connection the server had closed (the request never reached it)."""

    def __init__(self, transport: Transport, path: str) -> None:
        self._transport = transport
        self._path = path
        self._backoffs = 0
        self._stale_retried = False

    async def after_error(self, error: httpx.HTTPError) -> None:
        """Return to try again, or raise RemoteUnavailable."""
        if isinstance(error, STALE_CONNECTION_ERRORS) and not self._stale_retried:
            self._stale_retried = True
            return
        connect_failed = isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout))
        if connect_failed and self._backoffs < self._transport.retries:
            await asyncio.sleep(backoff(self._backoffs))
            self._backoffs += 1
            return
        raise self._transport.unavailable(self._path, error) from None

    async def retry_status(self, response: httpx.Response) -> bool:
        """True (after the backoff) when the response asks for another try."""
        if response.status_code in RETRY_STATUSES and self._backoffs < self._transport.retries:
            await asyncio.sleep(backoff(self._backoffs, response))
            self._backoffs += 1
            return True
        return False


def plain_http_warning(url: str) -> str | None:
    """A warning when ``url`` sends code unencrypted to another machine (plain http:// to a host
    that is not this one); None otherwise."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme != "http":
        return None
    host = (parsed.hostname or "").strip("[]")
    if host == "localhost" or host.endswith(".localhost"):
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass
    return (
        f"spark-lsp: {display_url(url)} is plain http:// to another machine: your code and API "
        "key cross the network unencrypted; use https:// (a TLS proxy in front of the server)"
    )


def display_url(url: str) -> str:
    """``url`` as messages and logs show it: without user info, query or fragment, where
    credentials live (``https://user:token@host/v1?api_key=k`` -> ``https://host/v1``)."""
    try:
        parts = urllib.parse.urlsplit(url)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return "<an unreadable URL>"
    netloc = (f"[{host}]" if ":" in host else host) + (f":{port}" if port else "")
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def backoff(attempt: int, response: httpx.Response | None = None) -> float:
    """Exponential backoff with jitter; a server's Retry-After (seconds) wins, within bounds."""
    if response is not None:
        try:
            return min(MAX_BACKOFF_S, max(0.0, float(response.headers.get("retry-after", ""))))
        except ValueError:
            pass
    return min(MAX_BACKOFF_S, FIRST_BACKOFF_S * 2**attempt) * random.uniform(0.8, 1.2)


def check_status(response: httpx.Response, path: str, detail: str) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    where = display_url(str(response.request.url)) if response.request else path
    detail = error_detail(detail)
    if status in (401, 403):
        raise RemoteUnauthorized(f"{where}: {status}, the server refused the API key ({detail})")
    if status in RETRY_STATUSES or status >= 500:
        raise RemoteUnavailable(f"{where}: the server failed with {status} ({detail})")
    raise RemoteRejected(f"{where}: {status} ({detail})")


def error_detail(body: str) -> str:
    """The message inside an error body (OpenAI and llama.cpp put it in error.message)."""
    try:
        parsed = json.loads(body)
    except json.JSONDecodeError:
        return body.strip()[:ERROR_BODY_LIMIT] or "no details"
    if isinstance(parsed, dict):
        error = parsed.get("error", parsed.get("detail", parsed))
        if isinstance(error, dict):
            error = error.get("message", error)
        return str(error)[:ERROR_BODY_LIMIT]
    return str(parsed)[:ERROR_BODY_LIMIT]
