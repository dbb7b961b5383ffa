"""One typed settings model: defaults, bounds and descriptions in one place.

The CLI flags of ``serve``, ``complete`` and ``bench`` are generated from these fields, so the
flags, the defaults and the README's table cannot drift apart.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

REUSE_MODES = ("shift", "exact")


def _setting(
    default: Any, description: str, low: int | None = None, high: int | None = None
) -> Any:
    return field(default=default, metadata={"help": description, "low": low, "high": high})


@dataclass(frozen=True)
class EngineSettings:
    model: str | None = _setting(None, "path to a GGUF model (default: the embedded model)")
    hf_repo: str | None = _setting(None, "Hugging Face repo to take the GGUF from (with hf_file)")
    hf_file: str | None = _setting(None, "GGUF file name inside hf_repo")
    n_ctx: int = _setting(8192, "context size in tokens (all documents share it)", 512, 131072)
    threads: int = _setting(0, "CPU threads for llama.cpp (0: all cores)", 0, 256)
    batch_size: int = _setting(
        128, "prompt tokens per llama_decode call (work kept when a request stops)", 16, 4096
    )
    max_documents: int = _setting(
        4, "documents whose KV-cache state is kept at once (sequences - 1)", 1, 63
    )
    kv_reuse: str = _setting(
        "shift", "shift: reuse the suffix's cells across keystrokes; exact: recompute the suffix"
    )
    suffix_refresh_tokens: int = _setting(
        16, "suffix tokens re-evaluated after the cursor when reusing cells", 1, 4096
    )
    preload: bool = _setting(True, "load the model when an LSP session starts")

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
        extra: dict[str, Any] = {"choices": REUSE_MODES} if item.name == "kv_reuse" else {}
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
