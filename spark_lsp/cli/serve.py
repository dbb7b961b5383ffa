"""``spark-lsp serve``: the language server over stdio (what editors launch), TCP or WebSocket.

In stdio mode the protocol owns stdout: everything else, including anything a native library
prints, is sent to stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from spark_lsp.cli.errors import UsageError
from spark_lsp.cli.log import LOG_LEVELS, configure_logging
from spark_lsp.engine.settings import add_engine_arguments, engine_settings_from


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
    from spark_lsp.lsp.server import create_server

    configure_logging(args.log_level, args.log_file)
    server = create_server(engine_settings_from(args))
    try:
        if args.tcp:
            server.start_tcp(*args.tcp)
        elif args.ws:
            server.start_ws(*args.ws)
        else:
            stdin, stdout = _claim_stdout_for_protocol()
            server.start_io(stdin, stdout)  # type: ignore[arg-type]
    except OSError as error:
        raise UsageError(f"cannot start the server: {error.strerror or error}") from None
    return server.protocol.exit_code or 0
