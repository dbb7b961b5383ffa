"""Prompt context settings, sent by editors as ``context.*`` options."""

from __future__ import annotations

from dataclasses import dataclass

from spark_lsp.settings import check_fields, setting


@dataclass(frozen=True)
class ContextSettings:
    max_prompt_tokens: int = setting(
        131072, "prompt budget in tokens (capped by the model's context)", 256, 1048576
    )
    near_lines_above: int = setting(64, "lines above the cursor always in the prompt", 1, 4096)
    near_lines_below: int = setting(16, "lines below the cursor always in the prompt", 0, 4096)
    far_lines_above: int = setting(4096, "at most this many lines above the cursor", 0, 1000000)
    far_lines_below: int = setting(1024, "at most this many lines below the cursor", 0, 1000000)
    recent_edits: int = setting(8, "recently edited blocks (16 lines) offered as context", 0, 64)
    similar_snippets: int = setting(3, "snippets from similar open documents", 0, 16)
    definitions_tokens: int = setting(
        2048, "tokens of definitions from imported workspace modules", 0, 65536
    )
    margin_tokens: int = setting(16, "tokens kept free besides the answer's", 0, 4096)
    private_files: tuple[str, ...] = setting(
        (".env*", "*.pem", "*.key", "id_*", "*secret*"),
        "file and folder name patterns that never enter a prompt (nor do files git ignores); "
        "an editor's patterns are added to these",
        0,
        256,
        client_adds=True,
    )

    nameless_documents: bool = setting(
        False,
        "let documents whose URI names no path at all into prompts (by default they are "
        "private: nothing says what they hold)",
    )

    def __post_init__(self) -> None:
        check_fields(self)
