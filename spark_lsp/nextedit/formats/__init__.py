"""Next-edit prompt formats: how a model is asked to rewrite the window around the user's edit,
and how its answer is read. One class a format (``request`` and ``answer``); ``FORMATS`` names
them for settings and ``bench next-edit``, which compares them side by side."""

from __future__ import annotations

from typing import Protocol

from spark_lsp.engine import Engine, GenerationRequest, GenerationResult
from spark_lsp.nextedit.context import EditContext, Prediction
from spark_lsp.nextedit.formats.chat import ChatFormat
from spark_lsp.nextedit.formats.fim import FimFormat
from spark_lsp.nextedit.formats.sweep import SweepFormat


class NextEditFormat(Protocol):
    name: str

    def request(self, context: EditContext, key: str) -> GenerationRequest:
        """The generation request that has the model rewrite ``context``'s window."""
        ...

    def answer(self, context: EditContext, result: GenerationResult) -> Prediction | None:
        """The window's next version in the model's answer, if it has one."""
        ...


FORMATS: dict[str, NextEditFormat] = {
    format_.name: format_ for format_ in (SweepFormat(), FimFormat(), ChatFormat())
}


def format_named(name: str) -> NextEditFormat:
    """The format called ``name``; ValueError naming the known ones otherwise."""
    if name not in FORMATS:
        raise ValueError(f"unknown next-edit format {name!r}: one of {', '.join(FORMATS)}")
    return FORMATS[name]


# The format each kind of model answers best in (``bench next-edit``, README "Benchmarks"):
# models with Qwen2.5-Coder's repository and FIM tokens (both embedded presets and Sweep's
# next-edit fine-tunes), and any other model (the chat template is all they share).
REPOSITORY_MODELS_FORMAT = "sweep"
OTHER_MODELS_FORMAT = "chat"


def format_for(engine: Engine) -> NextEditFormat:
    """The format the engine's model is asked in."""
    family = engine.template
    fits = family.supports_repo_context and family.prefix_token == "<|fim_prefix|>"
    return FORMATS[REPOSITORY_MODELS_FORMAT if fits else OTHER_MODELS_FORMAT]
