"""Sweep's next-edit format (their Qwen2.5-Coder next-edit fine-tunes were trained on it), as a
raw completion: ``<|file_sep|>`` blocks, the stable part first so that the document's cells are
reused from one prediction to the next (the file above the window, then the recent edits as
``original:``/``updated:`` text, then the window before the last edit, the window now, and an
open ``updated/`` block the model completes). Greedy; the answer ends at the next
``<|file_sep|>`` (an end-of-generation token of the model); an answer equal to the window means
no edit."""

from __future__ import annotations

from spark_lsp.engine import GenerationRequest, GenerationResult, SegmentPrompt
from spark_lsp.nextedit.context import EditContext, Prediction
from spark_lsp.nextedit.formats.answer import prediction, rewrite_request
from spark_lsp.nextedit.formats.file_context import text_above
from spark_lsp.templates import Segment

FILE_SEP = "<|file_sep|>"


def _block(header: str, body: str) -> list[Segment]:
    text = body if not body or body.endswith("\n") else body + "\n"
    return [Segment(FILE_SEP, special=True), Segment(f"{header}\n{text}")]


class SweepFormat:
    name = "sweep"

    def request(self, context: EditContext, key: str) -> GenerationRequest:
        path = context.path
        above = text_above(context)
        segments = _block(path, above) if above else []
        for edit in context.recent_edits():
            segments += _block(
                f"{edit.path}.diff", f"original:\n{edit.before}updated:\n{edit.after}"
            )
        segments += _block(f"original/{path}", "".join(context.window_before_edit()))
        segments += _block(f"current/{path}", "".join(context.window))
        segments += [Segment(FILE_SEP, special=True), Segment(f"updated/{path}\n")]
        return rewrite_request(context, SegmentPrompt(tuple(segments)), key, (FILE_SEP,))

    def answer(self, context: EditContext, result: GenerationResult) -> Prediction | None:
        return prediction(context, result.text, result, f"model:{self.name}")
