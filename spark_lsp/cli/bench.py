"""``spark-lsp bench NAME``: each benchmark module under ``spark_lsp.bench`` declares its own
subcommand (``add_parser``) and runs it (``main``)."""

from __future__ import annotations

import argparse
import importlib
from typing import Any

from spark_lsp.cli.log import configure_logging

BENCHMARKS = ("sync", "latency", "infill", "edit", "context", "fuzz", "storm")


def add_parser(commands: Any, with_benchmarks: bool = True) -> None:
    bench = commands.add_parser("bench", help="run a benchmark and print its table")
    if not with_benchmarks:
        return
    benches = bench.add_subparsers(dest="bench", required=True, parser_class=type(bench))
    for name in BENCHMARKS:
        module = importlib.import_module(f"spark_lsp.bench.{name}")
        module.add_parser(benches)


def run(args: argparse.Namespace) -> int:
    configure_logging("warning", None)
    module = importlib.import_module(f"spark_lsp.bench.{args.bench}")
    result: int = module.main(args)
    return result
