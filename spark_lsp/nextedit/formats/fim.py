"""A fill-in-the-middle form with the editable region marked (after Zed's Zeta 2), in
Qwen2.5-Coder's FIM tokens: the file above the window as the prefix and below it as the suffix
(the stable part, first), then in the middle the recent edits as unified diffs and the window
``current`` with the cursor marked, and an open ``updated`` window for the model to write."""

from __future__ import annotations

from spark_lsp.engine import GenerationRequest, GenerationResult, SegmentPrompt
from spark_lsp.nextedit.context import EditContext, Prediction
from spark_lsp.nextedit.formats.answer import prediction, rewrite_request
from spark_lsp.nextedit.formats.file_context import text_above, text_below
from spark_lsp.templates import Segment

PREFIX, SUFFIX, MIDDLE = "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"
ENDS = ("<|file_sep|>", "<|endoftext|>", MIDDLE)
CURSOR = "<|user_cursor|>"


class FimFormat:
    name = "fim"

    def request(self, context: EditContext, key: str) -> GenerationRequest:
        diffs = "".join(edit.as_diff() for edit in context.recent_edits())
        segments = (
            Segment(PREFIX, special=True),
            Segment(text_above(context)),
            Segment(SUFFIX, special=True),
            Segment(text_below(context)),
            Segment(MIDDLE, special=True),
            Segment(f"edits\n{diffs}current\n{context.window_with_cursor(CURSOR)}"),
            Segment(MIDDLE, special=True),
            Segment("updated\n"),
        )
        return rewrite_request(context, SegmentPrompt(segments), key, ENDS)

    def answer(self, context: EditContext, result: GenerationResult) -> Prediction | None:
        return prediction(context, result.text.replace(CURSOR, ""), result, f"model:{self.name}")
