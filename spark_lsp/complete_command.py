"""``spark-lsp complete FILE:LINE:COL``: one completion at a position, for headless use."""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from pathlib import Path

from spark_lsp import models
from spark_lsp.context.window import cursor_window
from spark_lsp.documents import line_content, split_lines
from spark_lsp.engine import CancelToken, GenerationRequest, InfillPrompt
from spark_lsp.engine.loader import load_engine
from spark_lsp.settings import from_arguments

DEMO_FILE = "fibonacci.py"
DEMO_LINE = 16  # `    return ` in is_prime, completed at the end of the line


class PositionError(ValueError):
    pass


def parse_target(target: str) -> tuple[Path, int, int]:
    """FILE:LINE:COL with a 1-based line and column (columns count characters)."""
    path, _, rest = target.rpartition(":")
    file_name, _, line = path.rpartition(":")
    if not file_name or not line.isdigit() or not rest.isdigit():
        raise PositionError(f"expected FILE:LINE:COL (1-based), got {target!r}")
    return Path(file_name), int(line), int(rest)


def demo_target() -> tuple[Path, int, int]:
    path = Path(str(resources.files("spark_lsp") / "demo" / DEMO_FILE))
    lines = split_lines(path.read_text(encoding="utf-8"))
    return path, DEMO_LINE, len(line_content(lines[DEMO_LINE - 1])) + 1


def run(args: argparse.Namespace) -> int:
    from spark_lsp.cli import UsageError

    try:
        path, line, column = demo_target() if args.demo else parse_target(args.target or "")
        text = path.read_text(encoding="utf-8")
    except PositionError as error:
        raise UsageError(str(error)) from None
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read {args.target}: {error}") from None
    lines = split_lines(text)
    if not 1 <= line <= len(lines) or not 1 <= column <= len(line_content(lines[line - 1])) + 1:
        raise UsageError(f"{path}:{line}:{column} is outside the file")
    window = cursor_window(lines, line - 1, column - 1)
    try:
        engine = load_engine(from_arguments(args), models.stderr_progress())
    except models.ModelError as error:
        raise UsageError(str(error)) from None
    request = GenerationRequest(
        InfillPrompt(window.prefix, window.suffix, file_path=path.name),
        max_tokens=args.max_tokens,
        key=str(path),
    )
    result = engine.generate(request, CancelToken())
    sys.stdout.write(result.text + ("\n" if not result.text.endswith("\n") else ""))
    stats = result.stats
    print(
        f"[{engine.template.family}] {stats.prompt_tokens} prompt tokens, "
        f"{stats.tokens_generated} generated, first token {stats.time_to_first_token_ms:.0f} ms, "
        f"total {stats.total_ms:.0f} ms, stop: {result.stop_reason}",
        file=sys.stderr,
    )
    return 0
