"""The engine's settings: which backend and model, and how the in-process engine runs it.

The CLI flags of ``serve``, ``complete``, ``model`` and ``bench`` are generated from these fields,
and editors send the same fields as ``engine.*`` options.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, replace
from typing import Literal

from spark_lsp.models import MODEL_NAMES
from spark_lsp.settings import add_arguments, check_fields, from_arguments, setting
from spark_lsp.templates import family_names

# A next-edit prompt (the file above the window, three edits, the window twice) and its answer.
NEXT_EDIT_CONTEXT = 4096


@dataclass(frozen=True)
class EngineSettings:
    model: str | None = setting(
        None,
        "auto (the preset the install chose for this machine), small (0.5B), large (1.5B) or "
        "the path of a GGUF model",
        client_values=MODEL_NAMES,
    )
    hf_repo: str | None = setting(
        None, "Hugging Face repo to take the GGUF from (with hf_file)", client_values=()
    )
    hf_file: str | None = setting(None, "GGUF file name inside hf_repo", client_values=())
    next_edit_model: str | None = setting(
        None,
        "a dedicated model for next edits, loaded beside the completion model when it differs: "
        "small, large, or the path of a GGUF (Sweep's next-edit models); unset: the "
        "completion model answers them, with completion.nextEditModel",
        client_values=MODEL_NAMES,
    )
    next_edit_hf_repo: str | None = setting(
        None,
        "Hugging Face repo to take the next-edit GGUF from (with next_edit_hf_file)",
        client_values=(),
    )
    next_edit_hf_file: str | None = setting(
        None, "next-edit GGUF file name inside next_edit_hf_repo", client_values=()
    )
    n_ctx: int = setting(8192, "context size in tokens (the active document has it)", 512, 131072)
    threads: int = setting(0, "CPU threads for llama.cpp (0: all cores)", 0, 256)
    batch_size: int = setting(
        128, "prompt tokens per llama_decode call (work kept when a request stops)", 16, 4096
    )
    max_documents: int = setting(
        4,
        "other documents whose KV cells are parked in memory (the active one's: in the cache)",
        1,
        63,
    )
    kv_reuse: Literal["shift", "exact"] = setting(
        "shift", "shift: reuse the suffix's cells across keystrokes; exact: recompute the suffix"
    )
    suffix_refresh_tokens: int = setting(
        4, "suffix tokens re-evaluated after the cursor when reusing cells", 1, 4096
    )
    preload: bool = setting(True, "load the model when an LSP session starts")
    prompt_lookup: bool = setting(
        False, "draft a completion's next tokens from its own prompt, checked in one batch"
    )
    backend: Literal["local", "remote"] = setting(
        "local",
        "local: the model runs in-process; remote: an OpenAI-compatible server",
        client_values=("local",),  # a workspace may keep code local, never send it away
    )
    endpoint: str | None = setting(
        None,
        "base URL of the inference server for backend remote (http://host:8080)",
        client_values=(),
    )
    remote_api: Literal["auto", "infill", "completions"] = setting(
        "auto",
        "fill-in-the-middle over infill (llama.cpp's /infill) or completions (/v1/completions "
        "with the FIM template in the prompt); auto: infill when the server is llama.cpp's",
    )
    remote_model: str | None = setting(
        None,
        "model name sent to the server (default: the first one /v1/models lists)",
        client_values=(),  # on a paid API the model decides the bill
    )
    remote_template: str | None = setting(
        None, "FIM template family of the remote model (default: guessed from its name)"
    )
    remote_context: int = setting(
        0, "context length of the remote model in tokens (0: ask the server)", 0, 10_000_000
    )
    remote_pin_slots: bool = setting(
        True,
        "llama.cpp: keep each document on one server slot (its cache stays warm); turn off on "
        "servers shared by many editors, where a pinned slot can be busy while others idle",
    )
    api_key_env: str = setting(
        "SPARK_LSP_API_KEY",
        "environment variable that holds the server's API key (never logged)",
        client_values=(),
    )
    remote_timeout_ms: int = setting(
        30_000, "longest wait for the server's first byte and between streamed chunks", 100, 600_000
    )
    remote_retries: int = setting(
        2, "retries (with backoff) of a request the server refused before answering", 0, 10
    )
    fallback: Literal["none", "local"] = setting(
        "none", "when the remote server fails: none (report it) or local (the in-process model)"
    )

    def __post_init__(self) -> None:
        check_fields(self)
        if self.backend == "remote" and not self.endpoint:
            raise ValueError("backend remote needs an endpoint (the server's base URL)")
        if self.endpoint and not self.endpoint.lower().startswith(("http://", "https://")):
            scheme = self.endpoint.partition(":")[0][:16] if ":" in self.endpoint else ""
            # The URL itself is not repeated: it may hold credentials.
            raise ValueError(f"endpoint must be an http:// or https:// URL, not {scheme!r}")
        if self.remote_template is not None and self.remote_template not in family_names():
            raise ValueError(
                f"remote_template must be one of {', '.join(family_names())}, "
                f"got {self.remote_template!r}"
            )

    @property
    def dedicated_next_edit_model(self) -> bool:
        return bool(self.next_edit_model or self.next_edit_hf_repo)

    def for_next_edits(self) -> EngineSettings:
        """The settings of the dedicated next-edit model's in-process engine (its prompts are
        a few thousand tokens: a smaller context, two documents' cells)."""
        return replace(
            self,
            backend="local",
            model=self.next_edit_model,
            hf_repo=self.next_edit_hf_repo,
            hf_file=self.next_edit_hf_file,
            n_ctx=min(self.n_ctx, NEXT_EDIT_CONTEXT),
            max_documents=2,
            fallback="none",
        )

    @property
    def thread_count(self) -> int:
        return self.threads or os.cpu_count() or 1


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """The engine's flags, one per field (``--n-ctx``, ``--kv-reuse`` ...)."""
    add_arguments(parser, EngineSettings)


def engine_settings_from(args: argparse.Namespace) -> EngineSettings:
    """The settings the engine flags of ``add_engine_arguments`` describe; ValueError when they
    contradict each other."""
    settings: EngineSettings = from_arguments(args, EngineSettings)
    return settings
