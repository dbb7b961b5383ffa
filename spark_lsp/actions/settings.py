"""Code action settings, sent by editors as ``actions.*`` options."""

from __future__ import annotations

from dataclasses import dataclass

from spark_lsp.settings import check_fields, setting


@dataclass(frozen=True)
class ActionSettings:
    time_budget_ms: int = setting(
        120_000,
        "stop a code action's model work after this long (interactive completions preempt it "
        "meanwhile; that time does not count)",
        1000,
        3_600_000,
    )
    max_tokens: int = setting(4096, "longest answer of a code action in tokens", 64, 16384)

    def __post_init__(self) -> None:
        check_fields(self)
