"""``spark-lsp bench edit``: rewrites with and without prompt-lookup speculative decoding.

Real functions (the standard library's json and textwrap modules) are rewritten through the
model's chat template, as the code actions do: "add type hints" and "rename a local variable".
Each rewrite runs twice on the same cached prompt, greedy: plain decoding and decoding with the
function's own tokens as the draft. Reported side by side: decode speed (tokens after the first
over the time after the first), total time, how much of the input the output keeps, how many
drafted tokens the model accepted, and whether both outputs are the same.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import json.decoder
import json.encoder
import re
import textwrap
from dataclasses import dataclass
from typing import Any

from spark_lsp import models
from spark_lsp.actions import rewrite
from spark_lsp.bench.report import format_table, write_json
from spark_lsp.engine import CancelToken, ChatPrompt, GenerationRequest, GenerationResult
from spark_lsp.engine.loader import load_engine
from spark_lsp.engine.settings import add_engine_arguments, engine_settings_from
from spark_lsp.percentiles import median

FUNCTIONS = (
    json.decoder.py_scanstring,
    json.decoder.JSONObject,
    json.encoder.py_encode_basestring_ascii,
    textwrap.dedent,
    textwrap.indent,
    textwrap.shorten,
)


@dataclass(frozen=True)
class EditTask:
    name: str
    code: str
    instruction: str


def local_variable(code: str) -> str | None:
    """The first plainly assigned local name in a function (to rename)."""
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if len(name) > 1 and len(re.findall(rf"\b{name}\b", code)) >= 2:
                return name
    return None


def tasks() -> list[EditTask]:
    found = []
    for function in FUNCTIONS:
        code = textwrap.dedent(inspect.getsource(function))
        found.append(EditTask(function.__name__, code, rewrite.INSTRUCTIONS["type_hints"]))
        if (name := local_variable(code)) is not None:
            instruction = f"Rename the local variable `{name}` to `{name}_value`."
            found.append(EditTask(function.__name__, code, instruction))
    return found


def decode_speed(result: GenerationResult) -> float:
    stats = result.stats
    seconds = (stats.total_ms - stats.time_to_first_token_ms) / 1000
    return (stats.tokens_generated - 1) / seconds if seconds > 0 else 0.0


def add_parser(benches: Any) -> None:
    edit = benches.add_parser("edit", help="rewrites with and without speculative decoding")
    edit.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    edit.add_argument("--limit", type=int, default=0, help="first N edits only (0: all)")
    add_engine_arguments(edit)


def main(args: argparse.Namespace) -> int:
    engine = load_engine(engine_settings_from(args), models.stderr_progress())
    if not engine.metadata("tokenizer.chat_template"):
        raise SystemExit(f"spark-lsp: error: {engine.model_path.name} has no chat template")
    selected = tasks()[: args.limit or None]
    rows = [run_task(engine, task, f"edit-{index}") for index, task in enumerate(selected)]
    high_copy = [row for row in rows if row["kept"] >= 0.8]
    speedups = [row["lookup_tok_s"] / row["plain_tok_s"] for row in rows if row["plain_tok_s"]]
    high_speedups = [
        row["lookup_tok_s"] / row["plain_tok_s"] for row in high_copy if row["plain_tok_s"]
    ]
    _print_rows(rows)
    summary = {
        "median_speedup": round(median(speedups), 2) if speedups else None,
        "median_speedup_kept_80": round(median(high_speedups), 2) if high_speedups else None,
        "edits_kept_80": len(high_copy),
        "same_outputs": sum(row["same_output"] for row in rows),
        "edits": len(rows),
    }
    print(
        f"decode speed-up, median: {summary['median_speedup']}x over {len(rows)} edits; "
        f"{summary['median_speedup_kept_80']}x over the {len(high_copy)} that keep >= 80 % "
        f"(target 2x); identical outputs {summary['same_outputs']}/{len(rows)}"
    )
    write_json(args.json, "edit", {"rows": rows, **summary})
    return 0


def run_task(engine: Any, task: EditTask, key: str) -> dict[str, Any]:
    """One rewrite, twice on the same cached prompt: plain greedy, then drafted by lookup."""
    messages = rewrite.chat_messages(task.instruction, task.code, "python", f"{task.name}.py")
    prompt = ChatPrompt.of(messages)
    budget = 2 * len(engine.tokenize(task.code)) + 256
    engine.generate(GenerationRequest(prompt, max_tokens=1, key=key), CancelToken())
    plain = engine.generate(GenerationRequest(prompt, max_tokens=budget, key=key), CancelToken())
    drafted = engine.generate(
        GenerationRequest(prompt, max_tokens=budget, key=key, draft=task.code), CancelToken()
    )
    output = rewrite.extract_code(drafted.text) or ""
    return {
        "function": task.name,
        "instruction": task.instruction,
        "tokens": drafted.stats.tokens_generated,
        "plain_tok_s": round(decode_speed(plain), 1),
        "lookup_tok_s": round(decode_speed(drafted), 1),
        "plain_ms": round(plain.stats.total_ms),
        "lookup_ms": round(drafted.stats.total_ms),
        "kept": round(rewrite.kept_fraction(task.code, output), 3),
        "accepted": f"{drafted.stats.draft_accepted}/{drafted.stats.draft_tokens}",
        "same_output": plain.text == drafted.text,
    }


def _print_rows(rows: list[dict[str, Any]]) -> None:
    headers = ("function", "task", "tokens", "plain tok/s", "lookup tok/s", "plain ms")
    table = [
        (
            row["function"],
            "type hints" if "type hints" in row["instruction"] else "rename",
            row["tokens"],
            row["plain_tok_s"],
            row["lookup_tok_s"],
            row["plain_ms"],
            row["lookup_ms"],
            row["kept"],
            row["accepted"],
            "yes" if row["same_output"] else "no",
        )
        for row in rows
    ]
    print(format_table((*headers, "lookup ms", "kept", "drafts kept", "same"), table))
