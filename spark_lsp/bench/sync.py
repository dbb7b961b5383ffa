"""``spark-lsp bench sync``: what one keystroke-sized didChange costs, by document size.

Documents of 1k, 10k and 100k lines are built from a real source file (the standard library's
``json/decoder.py``) with some non-ASCII and astral characters mixed in. Random keystrokes (typed
characters, backspaces, newlines) at random places are sent with UTF-16 positions, as VS Code does,
to the DocumentStore and to a naive baseline that keeps one string and re-splits it on every edit
(what pygls' workspace does). Both must end with the same text.
"""

from __future__ import annotations

import argparse
import json.decoder
import random
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spark_lsp.bench.report import format_table, write_json
from spark_lsp.documents import (
    DocumentStore,
    Position,
    PositionEncoding,
    Range,
    TextChange,
    code_points_to_units,
    units_to_code_points,
)
from spark_lsp.percentiles import median, percentile

URI = "file:///bench.py"
ENCODING = PositionEncoding.UTF16
_TYPED = "abcdefghijklmnopqrstuvwxyz_ ().:=,0123456789éü😀"
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def build_document(line_count: int) -> str:
    source = Path(json.decoder.__file__).read_text(encoding="utf-8").splitlines()
    lines = []
    for index in range(line_count):
        line = source[index % len(source)]
        if index % 37 == 0:
            line += "  # café 😀 naïve"
        lines.append(line)
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Keystroke:
    change_range: Range
    text: str


def next_keystroke(rng: random.Random, store: DocumentStore) -> Keystroke:
    document = store.document(URI)
    line = rng.randrange(document.line_count)
    content = document.line(line)
    column = rng.randint(0, len(content))
    here = Position(line, code_points_to_units(content, column, ENCODING))
    roll = rng.random()
    if roll < 0.80:
        return Keystroke(Range(here, here), rng.choice(_TYPED))
    if roll < 0.95 and (column > 0 or line > 0):
        if column > 0:
            before = Position(line, code_points_to_units(content, column - 1, ENCODING))
        else:
            previous = document.line(line - 1)
            before = Position(line - 1, code_points_to_units(previous, len(previous), ENCODING))
        return Keystroke(Range(before, here), "")
    return Keystroke(Range(here, here), "\n")


class NaiveDocument:
    """One string, split again on every edit to find the offsets: the baseline."""

    def __init__(self, text: str) -> None:
        self.text = text

    def apply(self, keystroke: Keystroke) -> None:
        starts = [0] + [m.end() for m in _LINE_BREAK.finditer(self.text)]
        self.text = (
            self.text[: self._offset(starts, keystroke.change_range.start)]
            + keystroke.text
            + self.text[self._offset(starts, keystroke.change_range.end) :]
        )

    def _offset(self, starts: list[int], position: Position) -> int:
        start = starts[position.line]
        end = starts[position.line + 1] if position.line + 1 < len(starts) else len(self.text)
        content = self.text[start:end].rstrip("\r\n")
        return start + units_to_code_points(content, position.character, ENCODING)


def measure(line_count: int, edits: int, baseline_edits: int, seed: int) -> dict[str, object]:
    rng = random.Random(seed)
    text = build_document(line_count)
    store = DocumentStore()
    store.open(URI, "python", 0, text)
    naive = NaiveDocument(text)
    store_us: list[float] = []
    naive_us: list[float] = []
    for version in range(1, edits + 1):
        keystroke = next_keystroke(rng, store)
        change = [TextChange(keystroke.text, keystroke.change_range)]
        started = time.perf_counter_ns()
        store.change(URI, version, change, ENCODING)
        store_us.append((time.perf_counter_ns() - started) / 1000)
        if version <= baseline_edits:
            started = time.perf_counter_ns()
            naive.apply(keystroke)
            naive_us.append((time.perf_counter_ns() - started) / 1000)
            if version == baseline_edits and naive.text != store.document(URI).text:
                raise AssertionError(f"store and baseline disagree after {version} edits")
    return {
        "lines": line_count,
        "store": _summary(store_us),
        "naive": _summary(naive_us),
    }


def _summary(samples: list[float]) -> dict[str, float]:
    return {
        "edits": len(samples),
        "median_us": round(median(samples), 2),
        "p99_us": round(percentile(samples, 0.99), 2),
    }


def sizes(value: str) -> tuple[int, ...]:
    try:
        parsed = tuple(int(part) for part in value.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected numbers like 1000,10000; got {value!r}"
        ) from None
    if not parsed or min(parsed) < 1:
        raise argparse.ArgumentTypeError("sizes must be positive")
    return parsed


def add_parser(benches: Any) -> None:
    sync = benches.add_parser("sync", help="per-edit cost of document synchronisation")
    sync.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    sync.add_argument("--edits", type=int, default=2000, help="edits per document size")
    sync.add_argument(
        "--baseline-edits", type=int, default=100, help="edits per size for the naive baseline"
    )
    sync.add_argument(
        "--sizes",
        type=sizes,
        default=(1_000, 10_000, 100_000),
        help="line counts, comma-separated",
    )
    sync.add_argument("--seed", type=int, default=7)


def main(args: argparse.Namespace) -> int:
    results = [measure(size, args.edits, args.baseline_edits, args.seed) for size in args.sizes]
    largest, smallest = results[-1], results[0]
    ratio = largest["store"]["median_us"] / smallest["store"]["median_us"]
    rows = [
        (
            f"{r['lines']:,}",
            r["store"]["median_us"],
            r["store"]["p99_us"],
            r["naive"]["median_us"],
            r["naive"]["p99_us"],
            round(r["naive"]["median_us"] / r["store"]["median_us"], 1),
        )
        for r in results
    ]
    headers = ("lines", "store p50 us", "store p99 us", "naive p50 us", "naive p99 us", "speed-up")
    print(format_table(headers, rows))
    print(
        f"store median ratio {largest['lines']:,}/{smallest['lines']:,} lines: {ratio:.2f}"
        " (target for 100k/1k: <= 2; 100k median target: <= 50 us)"
    )
    write_json(
        args.json,
        "sync",
        {
            "edits": args.edits,
            "baseline_edits": args.baseline_edits,
            "seed": args.seed,
            "encoding": str(ENCODING),
            "results": results,
            "store_median_ratio_largest_smallest": round(ratio, 3),
        },
    )
    return 0
