"""One typed settings model: defaults, bounds and descriptions in one place.

The CLI flags of ``serve``, ``complete`` and ``bench`` are generated from these fields, so the
flags, the defaults and the README's table cannot drift apart.
"""

from __future__ import annotations

import argparse
import os
import typing
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Literal

REUSE_MODES = ("shift", "exact")


def setting(default: Any, description: str, low: int | None = None, high: int | None = None) -> Any:
    """A settings field: its default, a description for --help and docs, and integer bounds."""
    return field(default=default, metadata={"help": description, "low": low, "high": high})


@dataclass(frozen=True)
class EngineSettings:
    model: str | None = setting(None, "path to a GGUF model (default: the embedded model)")
    hf_repo: str | None = setting(None, "Hugging Face repo to take the GGUF from (with hf_file)")
    hf_file: str | None = setting(None, "GGUF file name inside hf_repo")
    n_ctx: int = setting(8192, "context size in tokens (all documents share it)", 512, 131072)
    threads: int = setting(0, "CPU threads for llama.cpp (0: all cores)", 0, 256)
    batch_size: int = setting(
        128, "prompt tokens per llama_decode call (work kept when a request stops)", 16, 4096
    )
    max_documents: int = setting(
        4, "documents whose KV-cache state is kept at once (sequences - 1)", 1, 63
    )
    kv_reuse: Literal["shift", "exact"] = setting(
        "shift", "shift: reuse the suffix's cells across keystrokes; exact: recompute the suffix"
    )
    suffix_refresh_tokens: int = setting(
        16, "suffix tokens re-evaluated after the cursor when reusing cells", 1, 4096
    )
    preload: bool = setting(True, "load the model when an LSP session starts")

    def __post_init__(self) -> None:
        if self.kv_reuse not in REUSE_MODES:
            raise ValueError(f"kv_reuse must be one of {', '.join(REUSE_MODES)}")
        for item in fields(self):
            value = getattr(self, item.name)
            low, high = item.metadata.get("low"), item.metadata.get("high")
            if (
                isinstance(value, int)
                and not isinstance(value, bool)
                and low is not None
                and not low <= value <= (high or value)
            ):
                raise ValueError(f"{item.name} must be between {low} and {high}, got {value}")

    @property
    def thread_count(self) -> int:
        return self.threads or os.cpu_count() or 1


def add_arguments(parser: argparse.ArgumentParser, settings_type: type = EngineSettings) -> None:
    """Add one ``--flag`` per settings field (dashes for underscores), defaulting to the field's."""
    for item in fields(settings_type):
        flag = "--" + item.name.replace("_", "-")
        default = None if item.default is MISSING else item.default
        description = f"{item.metadata['help']} (default: {default})"
        if isinstance(default, bool):
            parser.add_argument(
                flag,
                dest=item.name,
                action=argparse.BooleanOptionalAction,
                default=default,
                help=description,
            )
            continue
        kind = int if isinstance(default, int) else str
        hint = typing.get_type_hints(settings_type)[item.name]
        extra: dict[str, Any] = {}
        if typing.get_origin(hint) is Literal:
            extra["choices"] = typing.get_args(hint)
        parser.add_argument(
            flag,
            dest=item.name,
            type=kind,
            default=default,
            metavar=item.name.upper(),
            help=description,
            **extra,
        )


def from_arguments(args: argparse.Namespace, settings_type: type = EngineSettings) -> Any:
    return settings_type(**{item.name: getattr(args, item.name) for item in fields(settings_type)})
