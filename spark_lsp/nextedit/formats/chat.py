"""The chat format: an instruct model is asked, in its chat template, to rewrite the window
with the next edit in a fenced block (the user's recent edits as unified diffs, the cursor
marked). The model was not trained for this task; kept to compare (``bench next-edit``)."""

from __future__ import annotations

from spark_lsp.actions import rewrite
from spark_lsp.engine import ChatPrompt, GenerationRequest, GenerationResult
from spark_lsp.nextedit.context import EditContext, Prediction
from spark_lsp.nextedit.formats.answer import prediction, rewrite_request

CURSOR = "<|cursor|>"
SYSTEM = (
    "You are a code editor's next-edit predictor. From the user's recent edits, predict the "
    "edit that naturally follows (the same change at the other places it applies, call sites "
    "updated after a signature change, what the edit broke fixed). Reply with the region "
    "rewritten with that edit, in one fenced code block, without the cursor marker. If no edit "
    "follows, reply with the region unchanged."
)


class ChatFormat:
    name = "chat"

    def request(self, context: EditContext, key: str) -> GenerationRequest:
        history = "\n".join(edit.as_diff() for edit in context.recent_edits()) or "(none)\n"
        marked = context.window_with_cursor(CURSOR)
        user = (
            f"My recent edits, oldest first:\n```diff\n{history}```\n\n"
            f"The region of {context.path} around my last edit ({CURSOR} is where I am):\n"
            f"```{context.language}\n{marked}```\n\n"
            "Rewrite the region with the next edit."
        )
        messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]
        # No line limit or stops: the answer is a fenced block, maybe with prose around it.
        return rewrite_request(context, ChatPrompt.of(messages), key)

    def answer(self, context: EditContext, result: GenerationResult) -> Prediction | None:
        code = rewrite.extract_code(result.text.replace(CURSOR, ""))
        if code is None:
            return None
        code = rewrite.reindent(code, "".join(context.window))
        return prediction(context, code, result, f"model:{self.name}")
