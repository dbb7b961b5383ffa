"""Reading a function definition's signature: a language's syntax, the code characters of a
text outside its strings and comments, its top-level comma-separated parts, and the parameter
list of a Python ``def``, JavaScript/TypeScript ``function``, Go ``func`` or Rust ``fn``.

Bounded: a signature is read over at most MAX_SIGNATURE_LINES lines, none longer than
MAX_LINE_CHARS.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from spark_lsp.nextedit.line_repeat import MAX_LINE_CHARS

MAX_SIGNATURE_LINES = 30

# `def name(`, `function name<T>(`, `func (r *T) Name(`, `fn name<'a>(`: each part is a run of
# one character class, so a failed match costs no backtracking beyond the line.
DEFINITION = re.compile(
    r"\b(?P<keyword>def|function|func|fn)\s+(?:\((?P<receiver>[^()]*)\)\s*)?"
    r"(?P<name>[A-Za-z_$][A-Za-z0-9_$]*)\s*(?:<[^<>()]*>)?\s*\("
)
IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
OPENERS, CLOSERS = "([{", ")]}"
STRUCTURE = re.compile(r"[][(){},=\"'`]|#|//")  # what code_chars stops at outside strings
QUOTED = re.compile(r"[\\\n\"'`]")  # and inside them


@dataclass(frozen=True)
class Syntax:
    language: str
    quotes: str
    comment: str


SYNTAXES = {
    "def": Syntax("python", "\"'", "#"),
    "function": Syntax("js", "\"'`", "//"),
    "func": Syntax("go", "\"'`", "//"),
    "fn": Syntax("rust", '"', "//"),  # not `'`: lifetimes
}


@dataclass(frozen=True)
class Parameter:
    name: str
    star: str  # "", "*" or "**" (Python), "..." (Go variadic)
    default: bool
    keyword_only: bool
    annotation: str = ""  # its type, spaces normalized


@dataclass(frozen=True)
class Signature:
    syntax: Syntax
    name: str
    receiver: str  # the receiver's variable (Go), "self" (a method), or ""
    parameters: tuple[Parameter, ...]
    first: int  # the definition's lines [first, last)
    last: int
    prefix: str = ""  # what its line has before the keyword: `async`, `export`, `pub`
    suffix: str = ""  # what follows the parameter list on its line: the return type


def code_chars(text: str, start: int, end: int, syntax: Syntax) -> Iterator[tuple[int, int]]:
    """The indices of ``text[start:end]``'s brackets, commas and equals signs outside strings
    and comments, each with the bracket depth after it; ends early (at a depth below zero) when
    brackets do not balance. A string ends at its line's end at the latest. The characters in
    between are skipped by a regular expression, not read one by one."""
    depth, quote, at = 0, "", start
    while True:
        match = (QUOTED if quote else STRUCTURE).search(text, at, end)
        if match is None:
            return
        char, at = match.group(0), match.end()
        if quote:
            if char == "\\":
                at += 1  # the escaped character
            elif char in (quote, "\n"):
                quote = ""
        elif char in syntax.quotes:
            quote = char
        elif char == syntax.comment:
            newline = text.find("\n", at, end)
            at = end if newline < 0 else newline
        elif char in OPENERS or char in CLOSERS or char in ",=":
            depth += (char in OPENERS) - (char in CLOSERS)
            yield match.start(), depth
            if depth < 0:
                return


def split_top_level(
    text: str, start: int, end: int, syntax: Syntax
) -> list[tuple[int, int]] | None:
    """The spans of ``text[start:end]``'s comma-separated parts at bracket depth 0, stripped of
    spaces (empty ones dropped); None when its brackets do not balance."""
    parts: list[tuple[int, int]] = []
    piece, depth = start, 0
    for at, depth in code_chars(text, start, end, syntax):
        if depth < 0:
            return None
        if depth == 0 and text[at] == ",":
            parts.append(_stripped(text, piece, at))
            piece = at + 1
    if depth:
        return None
    parts.append(_stripped(text, piece, end))
    return [(first, last) for first, last in parts if first < last]


def _stripped(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def closing_paren(text: str, opening: int, limit: int, syntax: Syntax) -> int | None:
    """The index of the ``)`` that closes the ``(`` at ``text[opening]``, before ``limit``."""
    for at, depth in code_chars(text, opening, limit, syntax):
        if depth == 0:
            return at if text[at] == ")" else None
    return None


RECEIVERS = frozenset({"self", "cls"})
RUST_SELF = re.compile(r"&?\s*(?:'[A-Za-z_]+\s+)?(?:mut\s+)?self\b")


def parameter(text: str, syntax: Syntax, keyword_only: bool) -> Parameter | None:
    """One parameter's name, star, default and annotation; None when it is a pattern
    (destructuring) or has no name."""
    star = next((sign for sign in ("**", "*", "...") if text.startswith(sign)), "")
    rest = text[len(star) :].lstrip()
    if syntax.language == "rust" and rest.startswith("mut "):
        rest = rest[4:].lstrip()
    name = IDENTIFIER.match(rest)
    if name is None:
        return None
    after = rest[name.end() :]
    if syntax.language == "go" and "..." in after:
        star = "..."
    equals = next(
        (
            at
            for at, depth in code_chars(after, 0, len(after), syntax)
            if depth == 0 and after[at] == "=" and after[max(at - 1, 0) : at + 2].count("=") == 1
        ),
        None,
    )
    default = equals is not None or after.lstrip().startswith("?")
    annotation = " ".join(after[:equals].split())
    return Parameter(name.group(0), star, default, keyword_only, annotation)


def parameters(text: str, start: int, end: int, syntax: Syntax) -> list[Parameter] | None:
    """The parameters of the list ``text[start:end]`` (None: one is not understood)."""
    spans = split_top_level(text, start, end, syntax)
    if spans is None:
        return None
    found: list[Parameter] = []
    keyword_only = False
    for first, last in spans:
        piece = text[first:last]
        if syntax.language == "python" and piece in ("*", "/"):
            keyword_only = keyword_only or piece == "*"
            continue
        if syntax.language == "rust" and not found and RUST_SELF.fullmatch(piece):
            found.append(Parameter("self", "", False, False))
            continue
        one = parameter(piece, syntax, keyword_only)
        if one is None:
            return None
        keyword_only = keyword_only or one.star == "*"
        found.append(one)
    return found


def signature_at(lines: Sequence[str], index: int, match: re.Match[str]) -> Signature | None:
    """The definition that ``match`` (on line ``index``) starts, its parameter list read over at
    most MAX_SIGNATURE_LINES lines."""
    syntax = SYNTAXES[match.group("keyword")]
    block = lines[index : index + MAX_SIGNATURE_LINES]
    if any(len(line) > MAX_LINE_CHARS for line in block):
        return None
    text = "".join(block)
    opening = match.end() - 1
    closing = closing_paren(text, opening, len(text), syntax)
    found = None if closing is None else parameters(text, opening + 1, closing, syntax)
    if closing is None or found is None:
        return None
    receiver = ""
    if match.group("receiver"):
        receiver_name = IDENTIFIER.match(match.group("receiver").strip())
        receiver = receiver_name.group(0) if receiver_name else ""
    elif found and found[0].name in RECEIVERS | {"self"} and not found[0].star:
        indented = lines[index][:1].isspace()
        if syntax.language == "rust" or (syntax.language == "python" and indented):
            receiver = found.pop(0).name
    last = index + text.count("\n", 0, closing) + 1
    prefix = lines[index][: match.start()].strip()
    end = text.find("\n", closing)
    suffix = " ".join(text[closing + 1 : end if end >= 0 else len(text)].split()).rstrip("{:")
    return Signature(
        syntax, match.group("name"), receiver, tuple(found), index, last, prefix, suffix.strip()
    )


def find_signature(lines: Sequence[str], first: int, last: int) -> Signature | None:
    """The definition whose parameter list lines [first, last) of ``lines`` overlap: the
    nearest one starting on or above their last line, when no other starts among them."""
    found = None
    for index in range(min(last, len(lines)) - 1, max(-1, first - MAX_SIGNATURE_LINES), -1):
        if found is not None and index < first:
            break
        line = lines[index]
        match = DEFINITION.search(line) if len(line) <= MAX_LINE_CHARS else None
        if match is None or in_prose(line, match.start()):
            continue
        if found is not None:
            return None  # two definitions edited at once
        found = signature_at(lines, index, match)
        if found is None or found.last <= first:
            return None
    return found


def in_prose(line: str, at: int) -> bool:
    """Whether ``line[at]`` sits in a string or after a comment sign."""
    before = line[:at]
    return bool(before.count('"') % 2 or before.count("'") % 2 or "#" in before or "//" in before)
