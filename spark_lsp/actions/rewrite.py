"""Model-powered rewrites of a range of whole lines: the chat prompt, the answer's hygiene and
the minimal edits that turn the old lines into the new ones. Pure functions, no LSP types.

Lines are always the document store's lines (``documents.split_lines``: breaks at ``\r\n``,
``\r`` and ``\n`` only, as LSP counts them), never ``str.splitlines``, which also breaks at
form feeds, ``\x85``, U+2028 and others and would shift every edit below such a character.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from spark_lsp.actions.registry import REWRITE_SYSTEM
from spark_lsp.documents import (
    Position,
    PositionEncoding,
    Range,
    TextChange,
    TextDocument,
    line_content,
    split_lines,
)

FENCE = re.compile(r"```[^\n`]*\n(.*?)(?:\n```|\Z)", re.DOTALL)
# A language id (from the client) goes into the prompt only when it looks like one.
FENCE_LANGUAGE = re.compile(r"[A-Za-z0-9_+#.-]{1,32}")


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
    system: str = REWRITE_SYSTEM,
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
        lines = [line_content(line) for line in split_lines(text) if line.strip()]
        if not lines:
            return ""
        first = min(lines, key=_indent_width)
        return first[: _indent_width(first)]

    want, have = base(original), base(code)
    if len(have) >= len(want) or not want.startswith(have):
        return code
    extra = want[len(have) :]
    return "".join(extra + line if line.strip() else line for line in split_lines(code))


def line_ending(lines: Sequence[str]) -> str:
    """The line break the document uses (its first one; ``\n`` when it has none)."""
    for line in lines:
        ending = line[len(line_content(line)) :]
        if ending:
            return ending
    return "\n"


def with_line_ending(code: str, ending: str) -> str:
    """``code`` with every line break made ``ending`` (models answer with ``\n``)."""
    return "".join(
        line_content(line) + (ending if line_content(line) != line else "")
        for line in split_lines(code)
    )


def apply_line_edits(lines: Sequence[str], edits: Sequence[LineEdit]) -> str:
    """The text a client gets by applying ``edits`` (absolute line ranges, one TextDocumentEdit)
    to ``lines``, computed the way the document store applies changes."""
    document = TextDocument("", "", 0, "".join(lines))
    ordered = sorted(edits, key=lambda e: (e.first, e.last), reverse=True)
    for version, edit in enumerate(ordered, start=1):
        change = Range(Position(edit.first, 0), Position(edit.last, 0))
        document.apply_changes([TextChange(edit.text, change)], version, PositionEncoding.UTF32)
    return document.text


def rewrite_edits(
    lines: Sequence[str], first: int, last: int, new_code: str
) -> tuple[tuple[LineEdit, ...], str]:
    """The minimal edits (absolute line ranges) that replace lines [first, last) with
    ``new_code``, in the document's own line ending, and the text they are meant to give."""
    code = "".join(lines[first:last])
    new_code = with_line_ending(new_code, line_ending(lines))
    if not code.endswith(("\n", "\r")):  # the range ends the document without a line break
        new_code = new_code.rstrip("\r\n")
    elif not new_code.endswith(("\n", "\r")) and last < len(lines):
        new_code += line_ending(lines)  # the line after the range stays a line of its own
    edits = tuple(
        LineEdit(first + edit.first, first + edit.last, edit.text)
        for edit in minimal_edits(code, new_code)
    )
    intended = "".join(lines[:first]) + new_code + "".join(lines[last:])
    return edits, intended


def minimal_edits(old: str, new: str) -> list[LineEdit]:
    """Line edits from a diff: only the changed runs of lines, never a whole replacement."""
    old_lines = split_lines(old)
    new_lines = split_lines(new)
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    return [
        LineEdit(i1, i2, "".join(new_lines[j1:j2]))
        for tag, i1, i2, j1, j2 in matcher.get_opcodes()
        if tag != "equal"
    ]


def kept_fraction(old: str, new: str) -> float:
    """How much of the old text the new one keeps (difflib ratio over lines)."""

    def contents(text: str) -> list[str]:
        lines = [line_content(line) for line in split_lines(text)]
        return lines[:-1] if lines and not lines[-1] else lines

    matcher = difflib.SequenceMatcher(a=contents(old), b=contents(new), autojunk=False)
    return matcher.ratio()
