"""The ``spark-lsp`` command: serve (default), bench.

Errors a user can fix (a bad flag, a port in use, an unwritable log file) print one line to stderr
and exit non-zero. In stdio mode the protocol owns stdout: everything else, including anything a
native library prints, is sent to stderr.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from spark_lsp import __version__
from spark_lsp.settings import add_arguments, from_arguments

PROG = "spark-lsp"
SUBCOMMANDS = ("serve", "complete", "model", "stats", "bench")
LOG_LEVELS = ("debug", "info", "warning", "error")


class UsageError(Exception):
    """A problem with the command line or start-up the user can fix; printed as one line."""


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _address(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host.strip("[]"), int(port)


def _sizes(value: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in value.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected numbers like 1000,10000; got {value!r}"
        ) from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("sizes must be positive")
    return sizes


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog=PROG, description="Local code-model language server.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", parser_class=_OneLineParser)

    serve = commands.add_parser("serve", help="run the language server (the default)")
    transport = serve.add_mutually_exclusive_group()
    transport.add_argument(
        "--stdio", action="store_true", help="speak LSP on stdin/stdout (default)"
    )
    transport.add_argument("--tcp", type=_address, metavar="HOST:PORT", help="listen on a TCP port")
    transport.add_argument("--ws", type=_address, metavar="HOST:PORT", help="listen for WebSocket")
    serve.add_argument("--log-file", metavar="PATH", help="write logs here instead of stderr")
    serve.add_argument("--log-level", choices=LOG_LEVELS, default="info", help="default: info")
    add_arguments(serve)

    complete = commands.add_parser("complete", help="print the completion at FILE:LINE:COL")
    target = complete.add_mutually_exclusive_group(required=True)
    target.add_argument("target", nargs="?", help="FILE:LINE:COL, 1-based")
    target.add_argument("--demo", action="store_true", help="complete the bundled demo file")
    complete.add_argument("--max-tokens", type=int, default=64, help="default: 64")
    complete.add_argument("--raw", action="store_true", help="print the model's output as is")
    add_arguments(complete)

    model = commands.add_parser("model", help="locate, describe or verify the model")
    model.add_argument("action", choices=("path", "info", "verify"))
    add_arguments(model)

    commands.add_parser("stats", help="print local suggestion statistics (they never leave)")

    bench = commands.add_parser("bench", help="run a benchmark and print its table")
    benches = bench.add_subparsers(dest="bench", required=True, parser_class=_OneLineParser)
    sync = benches.add_parser("sync", help="per-edit cost of document synchronisation")
    sync.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    sync.add_argument("--edits", type=int, default=2000, help="edits per document size")
    sync.add_argument(
        "--baseline-edits", type=int, default=100, help="edits per size for the naive baseline"
    )
    sync.add_argument(
        "--sizes",
        type=_sizes,
        default=(1_000, 10_000, 100_000),
        help="line counts, comma-separated",
    )
    sync.add_argument("--seed", type=int, default=7)
    latency = benches.add_parser("latency", help="keystroke-to-first-token on typing traces")
    latency.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    latency.add_argument("--points-per-file", type=int, default=3, help="positions per file")
    latency.add_argument("--max-positions", type=int, default=0, help="cap on positions (0: none)")
    latency.add_argument(
        "--exact-keystrokes", type=int, default=200, help="keystrokes also run exactly"
    )
    latency.add_argument(
        "--baseline-keystrokes", type=int, default=40, help="keystrokes run on the baseline"
    )
    add_arguments(latency)
    infill = benches.add_parser("infill", help="HumanEval single-line infilling, raw vs pipeline")
    infill.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    infill.add_argument("--limit", type=int, default=0, help="first N tasks only (0: all)")
    infill.add_argument(
        "--cross-file",
        action="store_true",
        help="cross-file tasks from a multi-file package, with and without workspace context",
    )
    infill.add_argument(
        "--repo", metavar="DIR", help="--cross-file: a package directory (default: huggingface_hub)"
    )
    add_arguments(infill)
    edit = benches.add_parser("edit", help="rewrites with and without speculative decoding")
    edit.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    edit.add_argument("--limit", type=int, default=0, help="first N edits only (0: all)")
    add_arguments(edit)
    context = benches.add_parser("context", help="prompt-build cost per keystroke, 128k budget")
    context.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    context.add_argument(
        "--workspace", metavar="DIR", help="the workspace (default: the site-packages of pygls)"
    )
    return parser


def configure_logging(level: str, log_file: str | None) -> None:
    try:
        handler: logging.Handler = (
            logging.FileHandler(log_file, encoding="utf-8")
            if log_file
            else logging.StreamHandler(sys.stderr)
        )
    except OSError as error:
        raise UsageError(f"cannot open log file {log_file}: {error.strerror}") from None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # pygls logs every message body at INFO; keep that for debug sessions only.
    logging.getLogger("pygls").setLevel(max(root.level, logging.WARNING))


def _claim_stdout_for_protocol() -> tuple[object, object]:
    """Give the protocol a private copy of stdout and point fd 1 (and sys.stdout) at stderr."""
    protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    return sys.stdin.buffer, protocol_out


def serve(args: argparse.Namespace) -> int:
    from spark_lsp.server import create_server
    from spark_lsp.settings import from_arguments

    configure_logging(args.log_level, args.log_file)
    server = create_server(from_arguments(args))
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


def complete(args: argparse.Namespace) -> int:
    from spark_lsp import complete_command

    configure_logging("warning", None)
    return complete_command.run(args)


def model(args: argparse.Namespace) -> int:
    from spark_lsp import model_command

    configure_logging("warning", None)
    return model_command.run(args)


def stats(args: argparse.Namespace) -> int:
    from spark_lsp.stats import StatsStore

    store = StatsStore()
    print(f"statistics from {store.path}")
    for key, value in store.stats.summary().items():
        print(f"{key.replace('_', ' '):<22}{'-' if value is None else value}")
    return 0


def bench(args: argparse.Namespace) -> int:
    configure_logging("warning", None)
    if args.bench == "latency":
        from spark_lsp.bench import latency

        return latency.main(args)
    if args.bench == "infill" and args.cross_file:
        from spark_lsp.bench import crossfile

        return crossfile.main(args)
    if args.bench == "infill":
        from spark_lsp.bench import infill

        return infill.main(args)
    if args.bench == "edit":
        from spark_lsp.bench import edit

        return edit.main(args)
    if args.bench == "context":
        from spark_lsp.bench import context

        return context.main(args)
    from spark_lsp.bench import sync

    return sync.main(args)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments or arguments[0] not in (*SUBCOMMANDS, "-h", "--help", "--version"):
        arguments.insert(0, "serve")
    parser = build_parser()
    args = parser.parse_args(arguments)
    if hasattr(args, "backend"):  # the command takes engine flags: check them together
        try:
            from_arguments(args)
        except ValueError as error:
            parser.error(str(error))
    handlers = {
        "serve": serve,
        "complete": complete,
        "model": model,
        "stats": stats,
        "bench": bench,
    }
    try:
        return handlers[args.command](args)
    except UsageError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
