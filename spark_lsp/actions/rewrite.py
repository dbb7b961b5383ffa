"""Model-powered rewrites of a range of whole lines: the chat prompt, the answer's hygiene and
the minimal edits that turn the old lines into the new ones. Pure functions, no LSP types."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass

FENCE = re.compile(r"```[^\n`]*\n(.*?)(?:\n```|\Z)", re.DOTALL)
# A language id (from the client) goes into the prompt only when it looks like one.
FENCE_LANGUAGE = re.compile(r"[A-Za-z0-9_+#.-]{1,32}")

SYSTEM = (
    "You are a careful programming assistant inside a code editor. You rewrite the code you are "
    "given as asked. Reply with the complete rewritten code only, in one fenced code block, "
    "with no explanation before or after it."
)
EXPLAIN_SYSTEM = (
    "You are a programming assistant inside a code editor. Explain the code you are given to "
    "a colleague: what it does, how, and anything surprising. Use short Markdown."
)

INSTRUCTIONS = {
    "docstring": "Add a docstring (or doc comment) to this code. Change nothing else.",
    "type_hints": "Add type hints to this code. Do not change what it does.",
    "simplify": "Simplify this code without changing its behaviour.",
    "explain": "Explain this code.",
    "unit_test": (
        "Write unit tests for this code (pytest for Python), as a complete test file that "
        "imports what it tests from the module named below."
    ),
}


@dataclass(frozen=True)
class LineEdit:
    """Replace lines [first, last) of the range (relative to its first line) with ``text``."""

    first: int
    last: int
    text: str


def chat_messages(
    instruction: str,
    code: str,
    language: str,
    path: str,
    context: Sequence[tuple[str, str]] = (),
    system: str = SYSTEM,
) -> list[dict[str, str]]:
    parts = []
    if context:
        parts.append("Context from the workspace:")
        parts.extend(f"--- {name}\n{text.rstrip()}" for name, text in context)
        parts.append("")
    fence = language if FENCE_LANGUAGE.fullmatch(language) else ""
    parts.append(f"{instruction}\n\nFile: {path}\n```{fence}\n{code.rstrip()}\n```")
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n".join(parts)}]


def extract_code(answer: str) -> str | None:
    """The code in a chat answer: the first fenced block, else the whole answer when it has no
    fence at all; None when there is nothing."""
    match = FENCE.search(answer)
    code = match.group(1) if match else (answer if "```" not in answer else "")
    return code.strip("\n") + "\n" if code.strip() else None


def _indent_width(line: str) -> int:
    return len(line) - len(line.lstrip())


def reindent(code: str, original: str) -> str:
    """Give the answer the original's base indentation when the model dedented it (common with
    methods: models answer with the method at column 0)."""

    def base(text: str) -> str:
        lines = [line for line in text.splitlines() if line.strip()]
        if not lines:
            return ""
        first = min(lines, key=_indent_width)
        return first[: _indent_width(first)]

    want, have = base(original), base(code)
    if len(have) >= len(want) or not want.startswith(have):
        return code
    extra = want[len(have) :]
    return "".join(
        extra + line if line.strip() else line for line in code.splitlines(keepends=True)
    )


def minimal_edits(old: str, new: str) -> list[LineEdit]:
    """Line edits from a diff: only the changed runs of lines, never a whole replacement."""
    old_lines = old.splitlines(keepends=True)
    new_lines = new.splitlines(keepends=True)
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    return [
        LineEdit(i1, i2, "".join(new_lines[j1:j2]))
        for tag, i1, i2, j1, j2 in matcher.get_opcodes()
        if tag != "equal"
    ]


def kept_fraction(old: str, new: str) -> float:
    """How much of the old text the new one keeps (difflib ratio over lines)."""
    return difflib.SequenceMatcher(a=old.splitlines(), b=new.splitlines(), autojunk=False).ratio()
