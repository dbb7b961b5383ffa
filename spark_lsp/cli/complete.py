"""``spark-lsp complete FILE:LINE:COL``: one completion at a position, for headless use.

It answers what an editor's Invoked inline-completion request shows on the file just opened:
the server's own completion service runs in-process (``--raw`` prints the model's output behind
that answer, untouched)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from spark_lsp import models
from spark_lsp.cli.errors import UsageError
from spark_lsp.cli.log import configure_logging
from spark_lsp.completion.headless import HeadlessCompletion
from spark_lsp.completion.service import Suggestion
from spark_lsp.completion.settings import CompletionSettings
from spark_lsp.documents import line_content, split_lines
from spark_lsp.engine import Engine, GenerationResult
from spark_lsp.engine.loader import open_engine
from spark_lsp.engine.settings import add_engine_arguments, engine_settings_from
from spark_lsp.uris import language_id

DEMO_FILE = "fibonacci.py"
DEMO_LINE = 18  # `            return ` in is_prime, completed at the end of the line


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


def add_parser(commands: Any) -> None:
    complete = commands.add_parser("complete", help="print the completion at FILE:LINE:COL")
    target = complete.add_mutually_exclusive_group(required=True)
    target.add_argument("target", nargs="?", help="FILE:LINE:COL, 1-based")
    target.add_argument("--demo", action="store_true", help="complete the bundled demo file")
    complete.add_argument("--max-tokens", type=int, default=64, help="default: 64")
    complete.add_argument("--raw", action="store_true", help="print the model's output as is")
    add_engine_arguments(complete)


def run(args: argparse.Namespace) -> int:
    configure_logging("warning", None)
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
    try:
        engine = open_engine(engine_settings_from(args), models.stderr_progress())
    except models.ModelError as error:
        raise UsageError(str(error)) from None
    settings = CompletionSettings(
        max_tokens_line=args.max_tokens, max_tokens_block=max(args.max_tokens, 128)
    )
    language = language_id(path, path.suffix.lstrip("."))
    suggestion, result = asyncio.run(_invoked(engine, settings, path, language, text, line, column))
    if result is None:
        print("(no suggestion: the model was not asked)", file=sys.stderr)
        return 0
    if args.raw:
        shown: str | None = result.text
    else:
        # The text to insert at the cursor (a suggestion replaces from its start column).
        shown = (
            None if suggestion is None else suggestion.text[column - 1 - suggestion.start_column :]
        )
    if shown is None:
        print("(no suggestion: the post-processing dropped the model's output)", file=sys.stderr)
    else:
        sys.stdout.write(shown + ("\n" if not shown.endswith("\n") else ""))
    stats = result.stats
    print(
        f"[{engine.template.family}] {stats.prompt_tokens} prompt tokens, "
        f"{stats.tokens_generated} generated, first token {stats.time_to_first_token_ms:.0f} ms, "
        f"total {stats.total_ms:.0f} ms, stop: {result.stop_reason}",
        file=sys.stderr,
    )
    return 0


async def _invoked(
    engine: Engine,
    settings: CompletionSettings,
    path: Path,
    language: str,
    text: str,
    line: int,
    column: int,
) -> tuple[Suggestion | None, GenerationResult | None]:
    """What an editor's Invoked request on the file just opened shows, and the model's output
    behind it (None when the model was not asked)."""
    completion = HeadlessCompletion(engine, settings)
    uri = path.resolve().as_uri()
    try:
        completion.open(uri, language, text)
        suggestion = await completion.suggest(uri, line - 1, column - 1)
        # An early answer's generation is still finishing: wait for it (its figures are printed).
        wait_s = 60.0 if suggestion is not None else 0.0
        return suggestion, await completion.generation_behind(uri, 0, wait_s)
    finally:
        completion.stop()
