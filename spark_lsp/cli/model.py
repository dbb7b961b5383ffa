"""``spark-lsp model path|info|verify|measure``: where the model is, what it is, whether it is
intact, and how fast this machine runs it (the install's proving decode)."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any

from spark_lsp import models
from spark_lsp.cli.errors import UsageError
from spark_lsp.cli.log import configure_logging
from spark_lsp.engine.loader import load_engine
from spark_lsp.engine.settings import add_engine_arguments, engine_settings_from


def add_parser(commands: Any) -> None:
    model = commands.add_parser("model", help="locate, describe, verify or measure the model")
    model.add_argument("action", choices=("path", "info", "verify", "measure"))
    add_engine_arguments(model)


def run(args: argparse.Namespace) -> int:
    configure_logging("warning", None)
    settings = engine_settings_from(args)
    progress = models.stderr_progress()
    try:
        if args.action == "verify":
            name = models.preset_name(settings.model, settings.hf_repo)
            if name is None:
                raise UsageError("verify checks an embedded model (--model small or large)")
            print(f"verified {models.verify(models.PRESETS[name], progress=progress)}")
        elif args.action == "measure":
            from spark_lsp.engine.proof import ProofError, measure

            path = models.resolve(settings.model, settings.hf_repo, settings.hf_file, progress)
            name = models.preset_name(settings.model, settings.hf_repo) or path.name
            try:
                result = measure(path, name, settings.thread_count)
            except ProofError as error:
                raise UsageError(str(error)) from None
            print(json.dumps(asdict(result)))
        elif args.action == "path":
            print(models.resolve(settings.model, settings.hf_repo, settings.hf_file, progress))
        else:
            engine = load_engine(settings, progress)
            chat = "yes" if engine.metadata("tokenizer.chat_template") else "no"
            rows = {
                "path": str(engine.model_path),
                "name": engine.metadata("general.name") or "?",
                "architecture": engine.metadata("general.architecture") or "?",
                "size": f"{engine.model_path.stat().st_size:,} bytes",
                "template": engine.template.family,
                "context (trained)": f"{engine.n_ctx_train} tokens",
                "context (used)": f"{engine.n_ctx} tokens",
                "chat template": chat,
            }
            width = max(map(len, rows))
            for key, value in rows.items():
                print(f"{key:<{width}}  {value}")
    except models.ModelError as error:
        raise UsageError(str(error)) from None
    return 0
