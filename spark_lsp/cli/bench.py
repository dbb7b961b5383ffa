"""``spark-lsp bench NAME``: each benchmark module under ``spark_lsp.bench`` declares its own
subcommand (``add_parser``, named as the module with ``-`` for ``_``) and runs it (``main``)."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from typing import Any

from spark_lsp.cli.log import configure_logging


def benchmark_modules() -> list[Any]:
    """Every module of ``spark_lsp.bench`` that declares a subcommand (helpers do not)."""
    package = importlib.import_module("spark_lsp.bench")  # by name: the CLI's only way in
    modules = (
        importlib.import_module(f"spark_lsp.bench.{info.name}")
        for info in pkgutil.iter_modules(package.__path__)
    )
    return [module for module in modules if hasattr(module, "add_parser")]


def add_parser(commands: Any, with_benchmarks: bool = True) -> None:
    bench = commands.add_parser("bench", help="run a benchmark and print its table")
    if not with_benchmarks:
        return
    benches = bench.add_subparsers(dest="bench", required=True, parser_class=type(bench))
    for module in benchmark_modules():
        module.add_parser(benches)


def run(args: argparse.Namespace) -> int:
    configure_logging("warning", None)
    module_name = args.bench.replace("-", "_")  # `next-edit` is bench/next_edit.py
    module = importlib.import_module(f"spark_lsp.bench.{module_name}")
    result: int = module.main(args)
    return result
