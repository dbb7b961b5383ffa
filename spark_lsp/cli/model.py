"""``spark-lsp model path|info|verify``: where the model is, what it is, whether it is intact."""

from __future__ import annotations

import argparse
from typing import Any

from spark_lsp import models
from spark_lsp.cli.errors import UsageError
from spark_lsp.cli.log import configure_logging
from spark_lsp.engine.loader import load_engine
from spark_lsp.engine.settings import add_engine_arguments, engine_settings_from


def add_parser(commands: Any) -> None:
    model = commands.add_parser("model", help="locate, describe or verify the model")
    model.add_argument("action", choices=("path", "info", "verify"))
    add_engine_arguments(model)


def run(args: argparse.Namespace) -> int:
    configure_logging("warning", None)
    settings = engine_settings_from(args)
    progress = models.stderr_progress()
    try:
        if args.action == "verify":
            preset = models.PRESETS.get(settings.model or "default")
            if preset is None or settings.hf_repo:
                raise UsageError("verify checks an embedded model (--model default or large)")
            print(f"verified {models.verify(preset, progress=progress)}")
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
