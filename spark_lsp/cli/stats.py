"""``spark-lsp stats``: the local suggestion statistics (they never leave the machine)."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(commands: Any) -> None:
    commands.add_parser("stats", help="print local suggestion statistics (they never leave)")


def run(args: argparse.Namespace) -> int:
    from spark_lsp.stats import StatsStore

    store = StatsStore()
    print(f"statistics from {store.path}")
    for key, value in store.stats.summary().items():
        print(f"{key.replace('_', ' '):<22}{'-' if value is None else value}")
    return 0
