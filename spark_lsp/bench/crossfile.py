"""``spark-lsp bench infill --cross-file``: completions whose answer needs another file.

Tasks come from a real multi-file Python package (default: huggingface_hub, as installed). In
each module, for each name it imports from another module of the same workspace, the first line
that calls the name gives a task: the line is kept up to the name, and the model must complete
the rest of the line (the call with its arguments; a trailing comment is not part of it). The
only mention of the name above the cursor is its import, so the definitions source (the imported
module's outline) is what can tell the model the name's signature.

Each task is completed twice with the same engine, cursor window and budget: with the prompt
builder's extra context (definitions from imported workspace modules) and without it. Reported:
exact match of the rest of the line (trailing whitespace ignored), side by side.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from spark_lsp import models
from spark_lsp.bench.report import format_table, write_json
from spark_lsp.context.builder import PromptBuilder
from spark_lsp.context.definitions import ImportedDefinitions
from spark_lsp.context.settings import ContextSettings
from spark_lsp.context.sources import ExtraChunk
from spark_lsp.context.workspace import Workspace
from spark_lsp.documents import line_content, split_lines
from spark_lsp.engine import CancelToken, GenerationRequest, InfillPrompt
from spark_lsp.engine.loader import load_engine
from spark_lsp.engine.settings import engine_settings_from
from spark_lsp.percentiles import median
from spark_lsp.token_counting import counter_for

TASKS_PER_FILE = 4
MAX_NEW_TOKENS = 48
BUDGET = 4096
# A modest window keeps cold prompts affordable on a laptop CPU (each file is a cold prompt).
WINDOW = ContextSettings(
    near_lines_above=48,
    near_lines_below=12,
    far_lines_above=0,
    far_lines_below=0,
    definitions_tokens=1024,
)


@dataclass(frozen=True)
class CrossFileTask:
    path: Path
    line: int
    column: int  # where the imported name starts: the cursor
    name: str
    target: str  # the rest of the line


def default_package() -> Path:
    import huggingface_hub

    return Path(huggingface_hub.__file__).resolve().parent


def imported_names(text: str) -> list[tuple[str, str, int]]:
    """(module, name, level) for ``from module import name`` statements."""
    found = []
    for match in re.finditer(
        r"^from\s+(\.*)([\w.]*)\s+import\s+\(?([^)#\n]+(?:\n[^)#]+)*)\)?", text, re.MULTILINE
    ):
        dots, module, names = match.groups()
        for part in names.replace("\n", " ").split(","):
            name = part.strip().split(" as ")[-1].strip()
            if name.isidentifier():
                found.append((module, name, len(dots)))
    return found


def find_tasks(package: Path, workspace: ImportedDefinitions) -> list[CrossFileTask]:
    tasks: list[CrossFileTask] = []
    for path in sorted(package.rglob("*.py")):
        text = path.read_text(encoding="utf-8", errors="replace")
        lines = split_lines(text)
        imports_end = max(
            (index for index, entry in enumerate(lines) if entry.startswith(("import ", "from "))),
            default=-1,
        )
        found: list[CrossFileTask] = []
        for module, name, level in imported_names(text):
            resolved = workspace.resolve_python(module, level, path)
            if resolved is None or resolved == path.resolve():
                continue  # not a workspace module (or a package re-export of this file)
            pattern = re.compile(rf"(?<![\w.]){re.escape(name)}\(")  # a call
            for index in range(imports_end + 1, len(lines)):
                content = line_content(lines[index])
                match = pattern.search(content)
                if match is None or content.lstrip().startswith(("#", "import ", "from ")):
                    continue
                target = content[match.start() :].split("  #", 1)[0].rstrip()
                balanced = target.count("(") == target.count(")")
                if 8 <= len(target) <= 80 and balanced:
                    found.append(CrossFileTask(path, index, match.start(), name, target))
                break  # only the first use: later ones could be copied from above
        found.sort(key=lambda task: task.line)
        tasks.extend(found[:TASKS_PER_FILE])
    return tasks


def main(args: argparse.Namespace) -> int:
    package = Path(args.repo).resolve() if args.repo else default_package()
    workspace = ImportedDefinitions(Workspace([package.parent]))
    tasks = find_tasks(package, workspace)
    if args.limit:
        tasks = tasks[: args.limit]
    if not tasks:
        raise SystemExit(f"spark-lsp: error: no cross-file tasks found in {package}")
    engine = load_engine(engine_settings_from(args), models.stderr_progress())
    builder = PromptBuilder(counter_for(engine), engine.template, engine.add_bos)
    results: dict[str, dict[str, list[float]]] = {
        variant: {"exact": [], "ms": [], "tokens": []} for variant in ("without", "with")
    }
    started = time.perf_counter()
    for index, task in enumerate(tasks):
        lines = split_lines(task.path.read_text(encoding="utf-8", errors="replace"))
        masked = line_content(lines[task.line])[: task.column]
        lines[task.line] = masked + lines[task.line][len(line_content(lines[task.line])) :]
        relative = task.path.relative_to(package.parent).as_posix()
        definitions = tuple(
            ExtraChunk("definitions", found.path, found.outline)
            for found in workspace.of("python", "".join(lines), task.path.resolve())
        )
        for variant, extra in (("without", ()), ("with", definitions)):
            built = builder.build(lines, task.line, task.column, relative, extra, BUDGET, WINDOW)
            request = GenerationRequest(
                InfillPrompt(
                    built.window.prefix, built.window.suffix, relative, built.extra_context
                ),
                max_tokens=MAX_NEW_TOKENS,
                stop=("\n",),
                key=f"{relative}#{variant}",
            )
            result = engine.generate(request, CancelToken())
            results[variant]["exact"].append(float(result.text.rstrip() == task.target))
            results[variant]["ms"].append(result.stats.total_ms)
            results[variant]["tokens"].append(built.tokens)
        if (index + 1) % 10 == 0:
            elapsed = time.perf_counter() - started
            print(f"{index + 1}/{len(tasks)} tasks, {elapsed:.0f} s", file=sys.stderr)
    summary = {
        variant: {
            "tasks": len(values["exact"]),
            "exact_match": round(100 * sum(values["exact"]) / len(tasks), 2),
            "median_prompt_tokens": median(values["tokens"]),
            "median_ms": round(median(values["ms"]), 1),
        }
        for variant, values in results.items()
    }
    print(
        format_table(
            ("workspace context", "tasks", "exact match %", "prompt tokens", "median ms"),
            [(variant, *values.values()) for variant, values in summary.items()],
        )
    )
    print(f"package {package}: {len(tasks)} tasks from {len({t.path for t in tasks})} files")
    write_json(args.json, "infill-cross-file", {"package": str(package), "results": summary})
    return 0
