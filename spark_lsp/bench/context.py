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
from pathlib import Path
from typing import Any

from spark_lsp import models, templates
from spark_lsp.bench.report import format_table, median, percentile, write_json
from spark_lsp.context.builder import BuiltPrompt, ContextSettings, PromptBuilder
from spark_lsp.context.service import ContextService
from spark_lsp.context.tokens import counter_for, measure_agreement
from spark_lsp.documents import DocumentSnapshot, line_content, split_lines
from spark_lsp.engine.vocabulary import LlamaVocabulary

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
    target = opened[0]
    for other in opened[1:3]:  # earlier edits elsewhere, for the recent-edits source
        service.record_edit(other.uri, 40, 41)

    lines = list(target.lines)
    code_lines = [
        index for index, entry in enumerate(lines) if 16 <= len(line_content(entry).strip()) <= 48
    ]
    step = max(1, len(code_lines) // (POSITIONS + 1))
    positions = code_lines[step::step][:POSITIONS]
    build_ms: list[float] = []
    counted: list[int] = []
    candidate_ms: list[float] = []
    tokens: list[int] = []
    violations = 0
    verified = 0
    keystrokes = 0
    for line in positions:
        content = line_content(lines[line])
        indent = len(content) - len(content.lstrip())
        ending = lines[line][len(content) :]
        started = time.perf_counter()
        snapshot = DocumentSnapshot(target.uri, "python", 1, tuple(lines))
        extra = service.candidates(snapshot, line)
        candidate_ms.append((time.perf_counter() - started) * 1000)
        for typed in range(indent, len(content) + 1):
            lines[line] = content[:typed] + ending
            snapshot = DocumentSnapshot(target.uri, "python", 2 + keystrokes, tuple(lines))
            before = counter.counted
            started = time.perf_counter()
            built = service.build(snapshot, line, typed, 128, extra=extra)
            elapsed = (time.perf_counter() - started) * 1000
            assert built is not None
            if typed > indent:  # the first keystroke at a position is the warm-up
                build_ms.append(elapsed)
                counted.append(counter.counted - before)
            tokens.append(built.tokens)
            violations += built.tokens > built.budget
            if keystrokes % VERIFY_EVERY == 0:
                verified += 1
                path = service.display_path(target.uri)
                violations += model_count(vocabulary, template, built, path) > built.budget
            keystrokes += 1
        lines[line] = content + ending
    summary = {
        "workspace": str(root),
        "workspace_files": len(files),
        "document_lines": len(lines),
        "budget": BUDGET,
        "keystrokes": keystrokes,
        "build_ms_p50": round(median(build_ms), 3),
        "build_ms_p99": round(percentile(build_ms, 0.99), 3),
        "candidates_ms_median": round(median(candidate_ms), 1),
        "chunks_counted_per_keystroke_median": median(counted),
        "prompt_tokens_median": median(tokens),
        "verified_with_model_tokenizer": verified,
        "violations": violations,
        "tokenizer_agreement": agreement.as_dict(),
        "exact_counter": counter.exact,
    }
    print(
        format_table(
            (
                "keystrokes",
                "build p50 ms",
                "build p99 ms",
                "chunks counted/key",
                "prompt tokens",
                "violations",
            ),
            [
                (
                    keystrokes,
                    summary["build_ms_p50"],
                    summary["build_ms_p99"],
                    summary["chunks_counted_per_keystroke_median"],
                    summary["prompt_tokens_median"],
                    f"{violations} ({verified} checked with the model's tokenizer)",
                )
            ],
        )
    )
    print(
        f"workspace {root}: {len(files)} Python files; document {len(lines)} lines; "
        f"gathering candidates {summary['candidates_ms_median']} ms (median, once per refresh)"
    )
    print(
        f"counter vs model tokenizer: {agreement.identical}/{agreement.texts} files identical, "
        f"{agreement.estimated_tokens} vs {agreement.model_tokens} tokens "
        f"({'exact: margin 0' if counter.exact else f'scaled x{counter.scale:.3f}'})"
    )
    print("target: build p50 <= 10 ms after warm-up, zero violations", file=sys.stderr)
    write_json(args.json, "context", summary)
    return 0
