"""TCP and WebSocket transports for clients that do not start the server themselves.

Over stdio the client is the process that started the server. A port is different: any local
user can connect to it, and any web page the user visits can open a WebSocket to it. So:

- the server listens on loopback unless ``--allow-remote-clients`` is given (with a warning);
- every connection presents the token of this start (random, or from ``--token-file``): in
  ``initializationOptions.token`` of its ``initialize`` (TCP or WebSocket), or in the WebSocket
  handshake (``Authorization: Bearer TOKEN`` or ``?token=TOKEN``); anything else before it ends
  the connection with an error;
- before the token, a connection costs little: its first message is read only up to 32 KiB
  (headers included; a bigger one is refused from its header, its body unread), and only a
  handful of connections wait for the token at once (the next ones are refused at once);
- a WebSocket handshake that carries an ``Origin`` (a browser) is refused unless that origin is
  allowed with ``--allow-origin``;
- one client at a time: a second connection gets an error and is closed, the first keeps working;
- each connection is a session of its own (a fresh server); when it closes, or sends a frame over
  the size limit, that session ends (its model is closed) and the port takes the next client.
  ``exit`` ends the process, as LSP says.

pygls' own TCP and WebSocket servers have none of this (one protocol object for every connection,
the newest taking the output, the first closed connection ending the server, 1 MiB WebSocket
messages), so connections are handled here and only the protocol object comes from pygls.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import json
import logging
import signal
import socket
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from pygls.exceptions import JsonRpcInvalidRequest, JsonRpcParseError
from pygls.io_ import StdoutWriter, WebSocketWriter
from pygls.lsp.server import LanguageServer

from spark_lsp.lsp.framing import (
    MAX_HEADER_LINE_BYTES,
    MAX_MESSAGE_BYTES,
    FrameError,
    read_frame,
    read_frames,
)
from spark_lsp.lsp.protocol import InvalidMessage, UnreadableMessage

logger = logging.getLogger(__name__)

AUTHENTICATION_TIMEOUT_S = 30.0
# The first message, before its token is checked: an editor's initialize (VS Code's is about
# 6 KB) with room for workspace folders and options.
MAX_FIRST_MESSAGE_BYTES = 32 * 1024
MAX_WAITING_CONNECTIONS = 4  # connections that have not shown the token yet
BUSY = "spark-lsp: another client is connected; this server serves one client at a time"
UNAUTHORIZED = (
    "spark-lsp: this server needs the token it printed at start (or the one in its "
    "--token-file), in initializationOptions.token of initialize; see SECURITY.md"
)
CROWDED = (
    f"spark-lsp: {MAX_WAITING_CONNECTIONS} connections are already waiting for the token; "
    "try again later"
)

ServerFactory = Callable[[], LanguageServer]


@dataclass
class Access:
    """Who may connect: the token of this start, and the browser origins allowed (WebSocket)."""

    token: str
    allowed_origins: tuple[str, ...] = ()
    _busy: bool = field(default=False, init=False)
    _waiting: int = field(default=0, init=False)  # connections that have not shown the token
    _refusing: bool = field(default=False, init=False)

    def start_waiting(self) -> bool:
        """Whether a new connection may wait for its token (then ``stop_waiting`` when done).
        A flood of connections is warned about once, not once a connection."""
        if self._waiting >= MAX_WAITING_CONNECTIONS:
            if not self._refusing:
                logger.warning("refusing new connections until one ends: %s", CROWDED)
            self._refusing = True
            return False
        self._waiting += 1
        return True

    def stop_waiting(self) -> None:
        self._waiting -= 1
        self._refusing = False

    def accepts(self, presented: object) -> bool:
        if not self.token:  # not listening yet: nobody is let in
            return False
        return isinstance(presented, str) and hmac.compare_digest(
            presented.encode("utf-8", "surrogatepass"), self.token.encode()
        )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
        except OSError:
            return False
        return bool(addresses) and all(ipaddress.ip_address(a).is_loopback for a in addresses)


def error_frame(request_id: object, message: str, framed: bool = True) -> bytes:
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": request_id if isinstance(request_id, int | str) else None,
            "error": {"code": JsonRpcInvalidRequest.CODE, "message": message},
        }
    ).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body if framed else body


def authenticate(body: bytes, access: Access) -> tuple[bytes | None, object]:
    """The first message with its token removed, when it is an ``initialize`` that presents the
    token; else (None, its request id for the error)."""
    try:
        message = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None, None
    if not isinstance(message, dict):
        return None, None
    request_id = message.get("id")
    params = message.get("params")
    options = params.get("initializationOptions") if isinstance(params, dict) else None
    token = options.pop("token", None) if isinstance(options, dict) else None
    if message.get("method") != "initialize" or not access.accepts(token):
        return None, request_id
    try:
        return json.dumps(message).encode(), request_id
    except RecursionError:  # it decoded, but is too deep to encode again
        return None, request_id


def deliver(server: LanguageServer, body: bytes) -> None:
    """Hand one message to the session's protocol. A body that is not JSON (or not UTF-8, or
    nested too deep to decode) gets a Parse error, as JSON-RPC asks."""
    protocol = server.protocol
    try:
        message = json.loads(body, object_hook=protocol.structure_message)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        logger.warning("a message that is not JSON: %s", str(error)[:200])
        parse_error = JsonRpcParseError(f"not a JSON message: {str(error)[:200]}")
        protocol._send_response(None, error=parse_error.to_response_error())  # type: ignore[arg-type]
        return
    if not isinstance(message, InvalidMessage | UnreadableMessage) and not hasattr(
        message, "jsonrpc"
    ):
        # JSON, but not a JSON-RPC message object (a number, a list, an object without jsonrpc)
        error = JsonRpcInvalidRequest("not a JSON-RPC 2.0 message")
        protocol._send_response(None, error=error.to_response_error())  # type: ignore[arg-type]
        return
    try:
        protocol.handle_message(message)
    except Exception:
        logger.exception("unable to handle a message")


async def deliver_in_order(server: LanguageServer, body: bytes) -> None:
    """``deliver``, then let the handler it started run up to its first wait, so that messages
    are handled in the order they came even when the next one is already buffered."""
    deliver(server, body)
    await asyncio.sleep(0)


class TcpSession:
    def __init__(self, make_server: ServerFactory, access: Access) -> None:
        self._make_server = make_server
        self._access = access

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        claimed = False
        server: LanguageServer | None = None
        try:
            # The token first: a connection that has not shown it never holds the one client's
            # place (an idle connection would lock the editor out).
            first = await self._first_message(reader, writer, peer)
            if first is None:
                return
            body, request_id = first
            if self._access._busy:
                logger.warning("refused a second client (%s): %s", peer, BUSY)
                await _refuse(writer, error_frame(request_id, BUSY))
                return
            self._access._busy = claimed = True
            logger.info("client connected: %s", peer)
            server = self._make_server()
            server.protocol.set_writer(writer)  # type: ignore[arg-type]
            await deliver_in_order(server, body)
            async for body in read_frames(reader):
                await deliver_in_order(server, body)
        except (FrameError, ConnectionError) as error:
            logger.warning("closing the connection of %s: %s", peer, error)
        finally:
            await _close(writer)
            if claimed:
                self._access._busy = False
                if server is not None:
                    _end_session(server)
                logger.info("client disconnected: %s; waiting for the next one", peer)

    async def _first_message(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: object
    ) -> tuple[bytes, object] | None:
        """The first message (its token removed) and its request id, when it is an
        ``initialize`` with the token; else None, the connection refused with the reason. Until
        then the connection holds one of the few places to wait, and at most
        MAX_FIRST_MESSAGE_BYTES (and a header line) are read from it."""
        if not self._access.start_waiting():
            await _refuse(writer, error_frame(None, CROWDED))
            return None
        try:
            async with asyncio.timeout(AUTHENTICATION_TIMEOUT_S):
                first = await read_frame(reader, MAX_FIRST_MESSAGE_BYTES)
        except (TimeoutError, FrameError) as error:
            reason = str(error) or "no initialize in time"
            logger.warning("refused a client (%s): %s", peer, reason)
            await _refuse(writer, error_frame(None, f"{UNAUTHORIZED} ({reason})"))
            return None
        finally:
            self._access.stop_waiting()
        if first is None:
            return None
        body, request_id = authenticate(first, self._access)
        if body is None:
            logger.warning("refused a client without the token (%s)", peer)
            await _refuse(writer, error_frame(request_id, UNAUTHORIZED))
            return None
        return body, request_id


async def _refuse(writer: asyncio.StreamWriter, frame: bytes) -> None:
    with contextlib.suppress(ConnectionError):
        writer.write(frame)
        await writer.drain()
    await _close(writer)


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()


def _end_session(server: LanguageServer) -> None:
    close = getattr(server, "close", None)
    if callable(close):
        try:
            close()
        except Exception:
            logger.exception("closing the session failed")


async def serve_stdio(server: LanguageServer, stdin: BinaryIO, stdout: BinaryIO) -> None:
    """Serve the client that started the server until stdin ends, a client's ``exit``, or
    SIGTERM/SIGINT (the session is closed cleanly either way)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=MAX_HEADER_LINE_BYTES)
    try:
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), stdin)
    except (ValueError, OSError):  # a regular file as stdin: read it on a thread
        _feed_from_thread(loop, reader, stdin)
    server.protocol.set_writer(StdoutWriter(stdout))
    main = asyncio.current_task()
    assert main is not None
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, main.cancel)
    try:
        await serve_reader(server, reader)
    except asyncio.CancelledError:
        logger.info("stopped by a signal")


async def serve_reader(server: LanguageServer, reader: asyncio.StreamReader) -> None:
    """Hand every frame of ``reader`` to the session, in order, until it ends (stdio rules:
    a broken frame is skipped)."""
    async for body in read_frames(reader, resync=True):
        await deliver_in_order(server, body)


def _feed_from_thread(
    loop: asyncio.AbstractEventLoop, reader: asyncio.StreamReader, stream: BinaryIO
) -> None:
    def pump() -> None:
        while chunk := stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536):
            loop.call_soon_threadsafe(reader.feed_data, chunk)
        loop.call_soon_threadsafe(reader.feed_eof)

    threading.Thread(target=pump, name="spark-stdin", daemon=True).start()


async def serve_tcp(
    make_server: ServerFactory,
    host: str,
    port: int,
    access: Access,
    on_listening: Callable[[], None] = lambda: None,
) -> None:
    """Serve until a client's ``exit``; ``on_listening`` runs once the port is bound (where the
    token is made: a start that cannot bind must not replace the token of one that did)."""
    listener = await asyncio.start_server(
        TcpSession(make_server, access), host, port, limit=MAX_HEADER_LINE_BYTES
    )
    on_listening()
    async with listener:
        await listener.serve_forever()


class WebSocketSession:
    def __init__(self, make_server: ServerFactory, access: Access) -> None:
        self._make_server = make_server
        self._access = access

    def handshake_token(self, connection: Any, request: Any) -> None:
        """websockets' process_request: remember a token from the handshake."""
        header = request.headers.get("Authorization", "")
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(request.path).query)
        presented = header.removeprefix("Bearer ").strip() or next(iter(query.get("token", [])), "")
        connection.spark_authenticated = self._access.accepts(presented)
        if connection.spark_authenticated:
            _lift_message_limit(connection)

    async def __call__(self, connection: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        claimed = False
        server: LanguageServer | None = None
        try:
            authenticated = getattr(connection, "spark_authenticated", False)
            body = b""
            if not authenticated:  # before the one client's place is taken, as for TCP
                if not self._access.start_waiting():
                    await connection.close(1013, CROWDED)
                    return
                try:  # messages over MAX_FIRST_MESSAGE_BYTES: closed by websockets (1009)
                    async with asyncio.timeout(AUTHENTICATION_TIMEOUT_S):
                        first = await connection.recv(decode=False)
                finally:
                    self._access.stop_waiting()
                body, request_id = authenticate(first, self._access)
                if body is None:
                    logger.warning("refused a WebSocket client without the token")
                    await connection.send(error_frame(request_id, UNAUTHORIZED, framed=False))
                    await connection.close(1008, "unauthorized")
                    return
                _lift_message_limit(connection)
            if self._access._busy:
                logger.warning("refused a second WebSocket client: %s", BUSY)
                await connection.close(1013, BUSY[:120])
                return
            self._access._busy = claimed = True
            server = self._make_server()
            server.protocol.set_writer(WebSocketWriter(connection), include_headers=False)
            if body:
                await deliver_in_order(server, body)
            async for message in connection:
                data = message if isinstance(message, bytes) else message.encode()
                await deliver_in_order(server, data)
        except (TimeoutError, ConnectionClosed) as error:
            logger.info("WebSocket connection ended: %s", error)
        finally:
            if claimed:
                self._access._busy = False
                if server is not None:
                    _end_session(server)


def _lift_message_limit(connection: Any) -> None:
    """The message limit of a WebSocket connection that showed the token."""
    connection.protocol.max_message_size = MAX_MESSAGE_BYTES


async def serve_ws(
    make_server: ServerFactory,
    host: str,
    port: int,
    access: Access,
    on_listening: Callable[[], None] = lambda: None,
) -> None:
    from websockets.asyncio.server import serve

    session = WebSocketSession(make_server, access)
    async with serve(
        session,
        host,
        port,
        origins=[None, *access.allowed_origins],
        process_request=session.handshake_token,
        max_size=MAX_FIRST_MESSAGE_BYTES,  # until the token is shown
    ) as listener:
        on_listening()
        await listener.serve_forever()
