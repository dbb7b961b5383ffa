"""Turning raw model output into a suggestion worth showing.

Each rule is a small pure function over the text around the cursor and the model's output, so it
can be unit-tested and measured on its own (``spark-lsp bench infill`` reports what each one changes
by switching it off). ``clean`` applies them in order; ``None`` means: show nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

BLOCK_OPENERS = (":", "{", "(", "[", "=>", "->", " do", " then")
CLOSERS = {")": "(", "]": "[", "}": "{"}
WORD = re.compile(r"\w")
LEADING_BLANK_LINES = re.compile(r"\A(?:[ \t]*\n)+")
# A unit of four or more characters, not all blank, repeated four or more times in a row
# ("a.b.a.b.a.b.a.b.").
REPEATED_UNIT = re.compile(r"(?=.{0,3}\S)(.{4,}?)\1{3,}")


@dataclass(frozen=True)
class CursorContext:
    line_before: str  # text of the cursor line before the cursor
    line_after: str  # text of the cursor line after the cursor
    next_lines: tuple[str, ...]  # the lines below the cursor line (a few)
    previous_line: str = ""  # the nearest non-blank line above the cursor line

    @property
    def indent(self) -> str:
        return self.line_before[: len(self.line_before) - len(self.line_before.lstrip())]

    @property
    def on_blank_line(self) -> bool:
        return not (self.line_before.strip() or self.line_after.strip())


def _indent_width(line: str) -> int:
    return len(line) - len(line.lstrip())


def wants_multiline(context: CursorContext, empty_block: bool | None = None) -> bool:
    """A block may be suggested only on a blank line that starts an empty block. ``empty_block``
    is the syntax tree's answer (see ``syntax.starts_empty_block``); without one, indentation
    decides: the line above ends with an opener and the next code is not indented deeper."""
    if not context.on_blank_line:
        return False
    if empty_block is not None:
        return empty_block
    opener = context.previous_line
    if not opener.rstrip().endswith(BLOCK_OPENERS):
        return False
    following = next((line for line in context.next_lines if line.strip()), None)
    return following is None or _indent_width(following) <= _indent_width(opener)


def reindent_to_cursor(text: str, context: CursorContext) -> str:
    """On a blank line after indentation, an answer that writes its own line break and then a
    line indented otherwise than the cursor (shallower, or with other characters) is moved to
    the cursor's indentation, the rest of a block with it: the user chose the indentation, and
    the line as written would show mis-indented."""
    indent = context.indent
    blank = LEADING_BLANK_LINES.match(text)
    if not context.on_blank_line or not indent or blank is None:
        return text
    lines = text[blank.end() :].split("\n")
    written = lines[0][: _indent_width(lines[0])]
    if written.startswith(indent):
        return text
    moved = [indent + line[len(written) :] if line.startswith(written) else line for line in lines]
    return text[: blank.end()] + "\n".join(moved)


def skip_leading_blank_lines(text: str, context: CursorContext) -> str:
    """On a blank line, the model sometimes starts with a newline: the line it means is the next
    non-blank one. Indentation the cursor already has is not repeated."""
    if not context.on_blank_line:
        return text
    stripped = LEADING_BLANK_LINES.sub("", text)
    if stripped != text and context.indent and stripped.startswith(context.indent):
        stripped = stripped[len(context.indent) :]
    return stripped


def stop_at_block_end(text: str, context: CursorContext) -> str:
    """Keep lines while they are indented at least as deep as the suggestion's first line."""
    lines = text.split("\n")
    base = _indent_width(context.line_before + lines[0])
    kept = [lines[0]]
    for line in lines[1:]:
        if line.strip() and _indent_width(line) < base:
            break
        kept.append(line)
    return "\n".join(kept).rstrip()


def cut_at_existing_line(text: str, context: CursorContext) -> str:
    """Cut a block where it starts repeating the code that already follows the cursor."""
    following = next((line.strip() for line in context.next_lines if line.strip()), "")
    if not following:
        return text
    lines = text.split("\n")
    for index, line in enumerate(lines[1:], start=1):
        if line.strip() == following:
            return "\n".join(lines[:index])
    return text


def cut_repeated_lines(text: str, context: CursorContext) -> str:
    """Cut a block before a line that repeats the line above it for the second time in a row."""
    lines = text.split("\n")
    for index in range(2, len(lines)):
        if lines[index].strip() and lines[index] == lines[index - 1] == lines[index - 2]:
            return "\n".join(lines[: index - 1])
    return text


def first_line_only(text: str, context: CursorContext) -> str:
    return text.split("\n", 1)[0]


def strip_trailing_whitespace(text: str, context: CursorContext) -> str:
    return "\n".join(line.rstrip() for line in text.split("\n")).rstrip()


def trim_suffix_overlap(text: str, context: CursorContext) -> str:
    """Drop the end of a one-line suggestion that repeats what already follows the cursor."""
    after = context.line_after.rstrip()
    if not after or "\n" in text:
        return text
    for size in range(min(len(after), len(text)), 0, -1):
        if text.endswith(after[:size]) and (text[:-size].strip() or size == len(text)):
            return text[:-size]
    return text


def balance_brackets(text: str, context: CursorContext) -> str:
    """Cut a one-line suggestion at the first closer that has no opener in the line before it
    and that the text after the cursor already provides."""
    depth: list[str] = []
    for index, char in enumerate(text):
        if char in "([{":
            depth.append(char)
        elif char in CLOSERS:
            if depth and depth[-1] == CLOSERS[char]:
                depth.pop()
            elif context.line_after.lstrip().startswith(char):
                return text[:index]
    return text


def is_blank(text: str, context: CursorContext) -> bool:
    return not text.strip()


def equals_rest_of_line(text: str, context: CursorContext) -> bool:
    return text.strip() == context.line_after.strip()


def repeats_existing_code(text: str, context: CursorContext) -> bool:
    first = (context.line_before + text.split("\n", 1)[0]).strip()
    following = next((line.strip() for line in context.next_lines if line.strip()), "")
    return bool(first) and first == following


def copies_previous_line(text: str, context: CursorContext) -> bool:
    """The suggestion's first line, as the line would read, is the line above it again (a
    model asked in a long, unfamiliar file often writes the enclosing ``def`` once more). A
    line of closing brackets alone may repeat (``}`` after ``}``)."""
    first = (context.line_before + text.split("\n", 1)[0]).strip()
    return bool(WORD.search(first)) and first == context.previous_line.strip()


def is_repetitive(text: str, context: CursorContext) -> bool:
    """Degenerate output: one short unit repeated over most of a line."""
    return any(
        (match := REPEATED_UNIT.search(code)) is not None and 2 * len(match.group(0)) > len(code)
        for code in (line.strip() for line in text.split("\n"))
    )


Edit = Callable[[str, CursorContext], str]
Veto = Callable[[str, CursorContext], bool]

# The rules by name, in the order ``clean`` applies them. Edits rewrite the text; vetoes drop it.
BLOCK_EDITS: tuple[tuple[str, Edit], ...] = (
    ("reindent_to_cursor", reindent_to_cursor),
    ("skip_leading_blank_lines", skip_leading_blank_lines),
    ("stop_at_block_end", stop_at_block_end),
    ("cut_at_existing_line", cut_at_existing_line),
    ("cut_repeated_lines", cut_repeated_lines),
    ("strip_trailing_whitespace", strip_trailing_whitespace),
)
LINE_EDITS: tuple[tuple[str, Edit], ...] = (
    ("reindent_to_cursor", reindent_to_cursor),
    ("skip_leading_blank_lines", skip_leading_blank_lines),
    ("first_line_only", first_line_only),
    ("strip_trailing_whitespace", strip_trailing_whitespace),
    ("balance_brackets", balance_brackets),
    ("trim_suffix_overlap", trim_suffix_overlap),
    ("strip_trailing_whitespace", strip_trailing_whitespace),
)
VETOES: tuple[tuple[str, Veto], ...] = (
    ("drop_blank", is_blank),
    ("drop_equal_to_rest_of_line", equals_rest_of_line),
    ("drop_repeating_next_line", repeats_existing_code),
    ("drop_copy_of_previous_line", copies_previous_line),
    ("drop_repetitive", is_repetitive),
)
RULE_NAMES: tuple[str, ...] = tuple(
    dict.fromkeys(name for name, _ in (*BLOCK_EDITS, *LINE_EDITS, *VETOES))
)


def clean(
    raw: str, context: CursorContext, multiline: bool, disabled: frozenset[str] = frozenset()
) -> str | None:
    """The suggestion to show for ``raw`` output, or None to show nothing. ``disabled`` names
    rules to skip (to measure what each one is worth)."""
    text = raw
    for name, edit in BLOCK_EDITS if multiline else LINE_EDITS:
        if name not in disabled:
            text = edit(text, context)
    for name, veto in VETOES:
        if name not in disabled and veto(text, context):
            return None
    return text
