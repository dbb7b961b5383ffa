"""Inline completion settings, sent by editors as ``completion.*`` options."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from spark_lsp.settings import check_fields, setting


@dataclass(frozen=True)
class CompletionSettings:
    automatic: bool = setting(True, "suggest while typing (invoked requests always work)")
    # 0: measured through LSP, a debounce only delays every answer (a newer keystroke cancels
    # an older request within one decode step, and editors debounce their own requests).
    debounce_ms: int = setting(0, "wait after a keystroke before asking the model", 0, 2000)
    max_tokens_line: int = setting(64, "token limit of a one-line suggestion", 1, 512)
    max_tokens_block: int = setting(128, "token limit of a multi-line suggestion", 1, 2048)
    predict_time_budget_ms: int = setting(
        2000,
        "show what the model has after this long (a line so far), or after a typical line's "
        "decode at the model's measured speed when that is longer; the answer goes on in the "
        "background into the type-through cache, up to three times as long again (0: no limit)",
        0,
        60000,
    )
    fallback_sort: Literal["last", "first"] = setting(
        "last", "textDocument/completion items: after (last) or before (first) the others"
    )
    alternatives: int = setting(
        2, "other suggestions an invoked one-line request offers (cycle with Alt-] / Alt-[)", 0, 4
    )
    early_answer_ms: int = setting(
        0,
        "show a one-line suggestion's text so far after this long, the rest of the line "
        "following into the type-through cache (0: wait for the whole line)",
        0,
        60000,
    )
    context_refresh_idle_ms: int = setting(
        1000, "pause after which extra context is refreshed and warmed", 100, 60000
    )
    suffix_refresh_idle_ms: int = setting(
        200,
        "pause after which the next line is prefetched (as if the suggestion were accepted) "
        "and the KV cells reused after the cursor are recomputed exactly, in the background "
        "(0: never)",
        0,
        60000,
    )

    # Off by default: on `bench next-edit` the embedded models' next edits were never right
    # (README "Benchmarks"); the deterministic rules answer either way.
    next_edit_model: bool = setting(
        False, "let the completion model predict next edits the deterministic rules do not cover"
    )

    def __post_init__(self) -> None:
        check_fields(self)

    @property
    def max_new_tokens(self) -> int:
        """The most tokens any suggestion may take: prompt budgets leave room for it."""
        return max(self.max_tokens_line, self.max_tokens_block)
