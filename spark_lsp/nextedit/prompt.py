"""The chat prompt of a next-edit prediction: the user's recent edits as diffs, then the
editable region (with the cursor marked) for the model to rewrite as its next version.

The region is the draft for prompt-lookup decoding: an answer that copies most of it costs
little more than its changed tokens.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

CURSOR = "<|cursor|>"
SYSTEM = (
    "You are a code editor's next-edit predictor. From the user's recent edits, predict the "
    "edit that naturally follows (the same change at the other places it applies, call sites "
    "updated after a signature change, what the edit broke fixed). Reply with the region "
    "rewritten with that edit, in one fenced code block, without the cursor marker. If no edit "
    "follows, reply with the region unchanged."
)


@dataclass(frozen=True)
class RecentEdit:
    """One edit the user made: the lines before and after it."""

    path: str
    before: str
    after: str

    def as_diff(self) -> str:
        lines = difflib.unified_diff(
            self.before.splitlines(keepends=True),
            self.after.splitlines(keepends=True),
            fromfile=f"a/{self.path}",
            tofile=f"b/{self.path}",
            n=1,
        )
        return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def with_cursor(region: str, offset: int) -> str:
    return region[:offset] + CURSOR + region[offset:]


def messages(
    edits: Sequence[RecentEdit], path: str, language: str, region: str, cursor: int
) -> list[dict[str, str]]:
    history = "\n".join(edit.as_diff() for edit in edits) or "(none)\n"
    user = (
        f"My recent edits, oldest first:\n```diff\n{history}```\n\n"
        f"The region of {path} around my last edit ({CURSOR} is where I am):\n"
        f"```{language}\n{with_cursor(region, cursor)}```\n\n"
        "Rewrite the region with the next edit."
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]
