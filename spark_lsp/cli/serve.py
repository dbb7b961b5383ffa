"""``spark-lsp serve``: the language server over stdio (what editors launch), TCP or WebSocket.

In stdio mode the protocol owns stdout: everything else, including anything a native library
prints, is sent to stderr. TCP and WebSocket serve one authenticated client at a time (see
``lsp/transports.py`` and SECURITY.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from pathlib import Path
from typing import Any

from spark_lsp.cli.errors import UsageError
from spark_lsp.cli.log import LOG_LEVELS, configure_logging
from spark_lsp.engine.settings import EngineSettings, add_engine_arguments, engine_settings_from

logger = logging.getLogger(__name__)


def address(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host.strip("[]"), int(port)


def add_parser(commands: Any) -> None:
    serve = commands.add_parser("serve", help="run the language server (the default)")
    transport = serve.add_mutually_exclusive_group()
    transport.add_argument(
        "--stdio", action="store_true", help="speak LSP on stdin/stdout (default)"
    )
    transport.add_argument("--tcp", type=address, metavar="HOST:PORT", help="listen on a TCP port")
    transport.add_argument("--ws", type=address, metavar="HOST:PORT", help="listen for WebSocket")
    serve.add_argument(
        "--token-file",
        metavar="PATH",
        help="--tcp/--ws: the connection token is read from PATH (or written there when it does "
        "not exist); default: a new token per start, printed to stderr",
    )
    serve.add_argument(
        "--allow-remote-clients",
        action="store_true",
        help="--tcp/--ws: allow listening on an address other machines can reach",
    )
    serve.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="--ws: a browser origin allowed to connect (repeatable; default: none)",
    )
    serve.add_argument("--log-file", metavar="PATH", help="write logs here instead of stderr")
    serve.add_argument("--log-level", choices=LOG_LEVELS, default="info", help="default: info")
    add_engine_arguments(serve)


def _claim_stdout_for_protocol() -> tuple[object, object]:
    """Give the protocol a private copy of stdout and point fd 1 (and sys.stdout) at stderr."""
    protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    return sys.stdin.buffer, protocol_out


def run(args: argparse.Namespace) -> int:
    configure_logging(args.log_level, args.log_file)
    settings = engine_settings_from(args)
    if args.tcp or args.ws:
        return _serve_network(args, settings)
    from spark_lsp.lsp import transports
    from spark_lsp.lsp.server import create_server

    server = create_server(settings)
    stdin, stdout = _claim_stdout_for_protocol()
    code = 0
    try:
        asyncio.run(transports.serve_stdio(server, stdin, stdout))  # type: ignore[arg-type]
    except SystemExit as done:  # the client's exit notification
        code = done.code if isinstance(done.code, int) else 0
    finally:
        server.close()
    _flush_and_leave(code)
    return code


def _flush_and_leave(code: int) -> None:
    """End the process now: the session is closed (worker stopped, model closed); a thread that
    still blocks (a loader in llama.cpp, a read of stdin) must not keep the process alive."""
    logging.shutdown()
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.flush()
    os._exit(code)


def _serve_network(args: argparse.Namespace, settings: EngineSettings) -> int:
    from spark_lsp.lsp import transports
    from spark_lsp.lsp.access_token import TokenFileError, token_for
    from spark_lsp.lsp.server import create_server

    host, port = args.tcp or args.ws
    if not transports.is_loopback(host):
        if not args.allow_remote_clients:
            raise UsageError(
                f"{host} can be reached from other machines; listen on 127.0.0.1, or pass "
                "--allow-remote-clients (every client still needs the token)"
            )
        logger.warning("listening on %s: other machines can connect (with the token)", host)
    if args.allow_origin and not args.ws:
        raise UsageError("--allow-origin is for --ws")
    access = transports.Access("", tuple(args.allow_origin))
    serve = transports.serve_ws if args.ws else transports.serve_tcp
    scheme = "ws" if args.ws else "tcp"
    made: list[tuple[Path, bool]] = []

    def on_listening() -> None:
        token, path, created = token_for(args.token_file, port)
        access.token = token
        made.append((path, created))
        print(
            f"spark-lsp: listening on {scheme}://{host}:{port}; clients send the token "
            f"{token} (also in {path}) in initializationOptions.token",
            file=sys.stderr,
            flush=True,
        )

    try:
        asyncio.run(serve(lambda: create_server(settings), host, port, access, on_listening))
    except TokenFileError as error:
        raise UsageError(str(error)) from None
    except OSError as error:
        raise UsageError(f"cannot start the server: {error.strerror or error}") from None
    except SystemExit as done:  # a client's exit notification
        return done.code if isinstance(done.code, int) else 0
    finally:
        for path, created in made:
            if created:
                with contextlib.suppress(OSError):
                    path.unlink()
    return 0
