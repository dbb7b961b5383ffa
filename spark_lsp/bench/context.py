"""``spark-lsp bench context``: what building a prompt costs per keystroke, with the 128k budget.

The workspace is a real package tree (default: the site-packages directory holding pygls, many
thousands of files). A few of its largest Python files are opened as documents; in the largest,
lines are erased and typed back one character at a time, and after every keystroke the prompt is
built as the server builds it: the frozen extra context (recent edits, similar snippets from the
other open documents, definitions from imported workspace modules), the cursor's neighbourhood,
and as much of the file as fits a 131,072-token budget (far-line limits lifted). Reported:

- prompt-build time p50/p99 after warm-up (the first keystroke at each position counts every
  block; later ones recount only what changed), and the one-off cost of gathering candidates;
- text chunks tokenized per keystroke (the rest come from the count cache);
- budget compliance: every prompt's estimate, and every 20th prompt re-counted with the model's
  own tokenizer, must be within the budget;
- the counter's agreement with the model's tokenizer over workspace files.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spark_lsp import models, templates
from spark_lsp.bench.report import format_table, write_json
from spark_lsp.context.builder import BuiltPrompt, PromptBuilder
from spark_lsp.context.service import ContextService
from spark_lsp.context.settings import ContextSettings
from spark_lsp.documents import DocumentSnapshot, line_content, split_lines
from spark_lsp.engine.vocabulary import LlamaVocabulary
from spark_lsp.percentiles import median, percentile
from spark_lsp.token_counting import Agreement, TokenCounter, counter_for, measure_agreement

BUDGET = 131072
OPEN_DOCUMENTS = 6
POSITIONS = 4
VERIFY_EVERY = 20


def default_workspace() -> Path:
    import pygls

    return Path(pygls.__file__).resolve().parent.parent


def python_files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*.py") if path.is_file())


def model_count(vocabulary: LlamaVocabulary, template: Any, built: BuiltPrompt, path: str) -> int:
    prefix_side, suffix_side, trigger = templates.fim_segments(
        template, built.window.prefix, built.window.suffix, path, built.extra_context
    )
    segments = [*prefix_side, *suffix_side, *([trigger] if trigger else [])]
    return int(vocabulary.add_bos) + sum(
        1 if segment.special else len(vocabulary.tokenize(segment.text)) for segment in segments
    )


def add_parser(benches: Any) -> None:
    context = benches.add_parser("context", help="prompt-build cost per keystroke, 128k budget")
    context.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    context.add_argument(
        "--workspace", metavar="DIR", help="the workspace (default: the site-packages of pygls)"
    )


@dataclass
class Replay:
    """What typing into the largest document measured."""

    build_ms: list[float] = field(default_factory=list)
    counted: list[int] = field(default_factory=list)  # chunks tokenized per keystroke
    candidate_ms: list[float] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    violations: int = 0
    verified: int = 0
    keystrokes: int = 0


def main(args: argparse.Namespace) -> int:
    root = Path(args.workspace).resolve() if args.workspace else default_workspace()
    files = python_files(root)
    if not files:
        raise SystemExit(f"spark-lsp: error: no Python files under {root}")
    vocabulary = LlamaVocabulary(models.resolve(progress=models.stderr_progress()))
    template = templates.detect(vocabulary)
    counter = counter_for(vocabulary)
    agreement = measure_agreement(
        counter.encoding,
        vocabulary,
        (path.read_text("utf-8", "replace") for path in files[:: max(1, len(files) // 200)]),
    )
    counter.counted = 0
    by_size = sorted(files, key=lambda path: -path.stat().st_size)
    opened = [
        DocumentSnapshot(path.as_uri(), "python", 1, tuple(split_lines(path.read_text("utf-8"))))
        for path in by_size[:OPEN_DOCUMENTS]
    ]
    settings = ContextSettings(far_lines_above=1_000_000, far_lines_below=1_000_000)
    service = ContextService(lambda: opened, settings)
    service.set_roots([root])
    service.builder = PromptBuilder(counter, template, vocabulary.add_bos)
    for other in opened[1:3]:  # earlier edits elsewhere, for the recent-edits source
        service.record_edit(other.uri, 40, 41)
    replay = type_into(
        service, opened[0], lambda built, path: model_count(vocabulary, template, built, path)
    )
    summary = {
        "workspace": str(root),
        "workspace_files": len(files),
        "document_lines": len(opened[0].lines),
        "budget": BUDGET,
        "keystrokes": replay.keystrokes,
        "build_ms_p50": round(median(replay.build_ms), 3),
        "build_ms_p99": round(percentile(replay.build_ms, 0.99), 3),
        "candidates_ms_median": round(median(replay.candidate_ms), 1),
        "chunks_counted_per_keystroke_median": median(replay.counted),
        "prompt_tokens_median": median(replay.tokens),
        "verified_with_model_tokenizer": replay.verified,
        "violations": replay.violations,
        "tokenizer_agreement": agreement.as_dict(),
        "exact_counter": counter.exact,
    }
    _print(summary, agreement, counter)
    write_json(args.json, "context", summary)
    return 0


def type_into(
    service: ContextService,
    target: DocumentSnapshot,
    model_count: Callable[[BuiltPrompt, str], int],
) -> Replay:
    """Type lines back into ``target`` at a few positions and build the prompt after every
    keystroke; every VERIFY_EVERY-th prompt is counted again with the model's tokenizer."""
    assert service.builder is not None
    counter = service.builder.counter
    lines = list(target.lines)
    code_lines = [
        index for index, entry in enumerate(lines) if 16 <= len(line_content(entry).strip()) <= 48
    ]
    step = max(1, len(code_lines) // (POSITIONS + 1))
    replay = Replay()
    for line in code_lines[step::step][:POSITIONS]:
        content = line_content(lines[line])
        indent = len(content) - len(content.lstrip())
        ending = lines[line][len(content) :]
        started = time.perf_counter()
        snapshot = DocumentSnapshot(target.uri, "python", 1, tuple(lines))
        extra = service.candidates(snapshot, line)
        replay.candidate_ms.append((time.perf_counter() - started) * 1000)
        for typed in range(indent, len(content) + 1):
            lines[line] = content[:typed] + ending
            snapshot = DocumentSnapshot(target.uri, "python", 2 + replay.keystrokes, tuple(lines))
            before = counter.counted
            started = time.perf_counter()
            built = service.build(snapshot, line, typed, 128, extra=extra)
            elapsed = (time.perf_counter() - started) * 1000
            assert built is not None
            if typed > indent:  # the first keystroke at a position is the warm-up
                replay.build_ms.append(elapsed)
                replay.counted.append(counter.counted - before)
            replay.tokens.append(built.tokens)
            replay.violations += built.tokens > built.budget
            if replay.keystrokes % VERIFY_EVERY == 0:
                replay.verified += 1
                path = service.display_path(target.uri)
                replay.violations += model_count(built, path) > built.budget
            replay.keystrokes += 1
        lines[line] = content + ending
    return replay


def _print(summary: dict[str, Any], agreement: Agreement, counter: TokenCounter) -> None:
    headers = ("keystrokes", "build p50 ms", "build p99 ms", "chunks counted/key")
    row = (
        summary["keystrokes"],
        summary["build_ms_p50"],
        summary["build_ms_p99"],
        summary["chunks_counted_per_keystroke_median"],
        summary["prompt_tokens_median"],
        f"{summary['violations']} ({summary['verified_with_model_tokenizer']} checked with the "
        "model's tokenizer)",
    )
    print(format_table((*headers, "prompt tokens", "violations"), [row]))
    print(
        f"workspace {summary['workspace']}: {summary['workspace_files']} Python files; document "
        f"{summary['document_lines']} lines; gathering candidates "
        f"{summary['candidates_ms_median']} ms (median, once per refresh)"
    )
    print(
        f"counter vs model tokenizer: {agreement.identical}/{agreement.texts} files identical, "
        f"{agreement.estimated_tokens} vs {agreement.model_tokens} tokens "
        f"({'exact: margin 0' if counter.exact else f'scaled x{counter.scale:.3f}'})"
    )
    print("target: build p50 <= 10 ms after warm-up, zero violations", file=sys.stderr)
