"""The ``spark-lsp`` command: serve (the default), complete, model, doctor, stats, bench.

Each subcommand lives in its own module (``cli/serve.py`` ...) with an ``add_parser`` that
declares its flags and a ``run``. Errors a user can fix (a bad flag, a port in use, an unwritable
log file) print one line to stderr and exit non-zero.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from spark_lsp import __version__
from spark_lsp.cli import bench, complete, doctor, model, serve, stats
from spark_lsp.cli.errors import UsageError
from spark_lsp.engine.settings import engine_settings_from

PROG = "spark-lsp"
SUBCOMMANDS = {
    "serve": serve,
    "complete": complete,
    "model": model,
    "doctor": doctor,
    "stats": stats,
    "bench": bench,
}


class OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser(with_benchmarks: bool = True) -> argparse.ArgumentParser:
    """The whole command line; ``with_benchmarks=False`` leaves out the benchmarks' own flags
    (importing every benchmark would slow down the server's start)."""
    parser = OneLineParser(prog=PROG, description="Local code-model language server.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", parser_class=OneLineParser)
    for module in SUBCOMMANDS.values():
        if module is bench:
            bench.add_parser(commands, with_benchmarks)
        else:
            module.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments or arguments[0] not in (*SUBCOMMANDS, "-h", "--help", "--version"):
        arguments.insert(0, "serve")
    parser = build_parser(with_benchmarks=arguments[0] == "bench")
    args = parser.parse_args(arguments)
    if hasattr(args, "backend"):  # the command takes engine flags: check them together
        try:
            engine_settings_from(args)
        except ValueError as error:
            parser.error(str(error))
    try:
        return SUBCOMMANDS[args.command].run(args)
    except UsageError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
