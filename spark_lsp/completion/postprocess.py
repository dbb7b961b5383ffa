"""Turning raw model output into a suggestion worth showing.

Each rule is a small pure function over the text around the cursor and the model's output, so it
can be unit-tested and measured on its own. ``clean`` applies them in order; ``None`` means the
suggestion should not be shown at all.
"""

from __future__ import annotations

from dataclasses import dataclass

BLOCK_OPENERS = (":", "{", "(", "[", "=>", "->", " do", " then")
CLOSERS = {")": "(", "]": "[", "}": "{"}


@dataclass(frozen=True)
class CursorContext:
    line_before: str  # text of the cursor line before the cursor
    line_after: str  # text of the cursor line after the cursor
    next_lines: tuple[str, ...]  # the lines below the cursor line (a few)
    previous_line: str = ""

    @property
    def indent(self) -> str:
        return self.line_before[: len(self.line_before) - len(self.line_before.lstrip())]


def wants_multiline(context: CursorContext) -> bool:
    """A block may be suggested only on an empty line that starts a body (after an opener)."""
    if context.line_before.strip() or context.line_after.strip():
        return False
    return context.previous_line.rstrip().endswith(BLOCK_OPENERS)


def stop_at_block_end(text: str, context: CursorContext) -> str:
    """Keep lines while they stay indented deeper than, or as deep as, the cursor's line."""
    lines = text.split("\n")
    kept = [lines[0]]
    base = len(context.indent)
    for line in lines[1:]:
        if line.strip() and len(line) - len(line.lstrip()) < base:
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


def first_line_only(text: str) -> str:
    return text.split("\n", 1)[0]


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


def repeats_existing_code(text: str, context: CursorContext) -> bool:
    first = (context.line_before + text.split("\n", 1)[0]).strip()
    following = next((line.strip() for line in context.next_lines if line.strip()), "")
    return bool(first) and first == following


def clean(raw: str, context: CursorContext, multiline: bool) -> str | None:
    """The suggestion to show for ``raw`` output, or None to show nothing."""
    if multiline:
        text = cut_at_existing_line(stop_at_block_end(raw, context), context)
    else:
        text = first_line_only(raw)
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    if not multiline:
        text = balance_brackets(text, context)
        text = trim_suffix_overlap(text, context)
        text = text.rstrip()
    if not text.strip():
        return None
    if text.strip() == context.line_after.strip():
        return None
    if repeats_existing_code(text, context):
        return None
    return text
