"""The deterministic next edit: a function's call sites follow its changed parameter list.

When the user's edit changed the parameter list of one function definition (Python ``def``,
JavaScript/TypeScript ``function``, Go ``func``, Rust ``fn``) by renaming, removing or adding
one parameter, the call sites of that function in the same file that need a certain change
get it:

- a renamed parameter (Python): the keyword argument ``name(old=...)`` becomes
  ``name(new=...)``, unless the caller passes on its own parameter of the old name
  (``old=old``: measured, that one was renamed next as well);
- a removed parameter: its keyword argument is dropped, else its positional argument when the
  call passes the arguments before it by position (none unpacked; Go and Rust calls pass all);
- an added parameter without a default: the caller's own parameter of that name is passed for
  it (``ctx`` -> ``helper(x, ctx)``); nothing else would be certain. With a default no call
  needs a change: no suggestion.

A rename that changes the parameter's type, or an edit that also changes the line before the
name (``async``, ``export``) or after the list (the return type), changes more than the
arguments: no suggestion. A call is the name followed by ``(`` with its arguments closed on
the same line: a bare ``name(`` for a function, ``self.name(`` or ``cls.name(`` for a Python
method (its ``self`` is no argument), ``recv.name(`` for a Go method with the definition's
receiver name, ``self.name(`` for a Rust method; other receivers may be other types' methods
and are left alone. An indented definition (a method, a nested function) is called from the
block it is in only. A name defined again (another function, or another method) gets no
suggestion. Calls in strings, comments, docstrings and block comments are left alone.

Bounded: the edit is at most MAX_EDIT_CHARS, a signature at most MAX_SIGNATURE_LINES lines, the
call sites are looked for in ``max_lines`` lines around the definition, a caller's definition
MAX_SCOPE_LINES lines above it at most, a line longer than MAX_LINE_CHARS or naming the function
more than MAX_CALLS_PER_LINE times is not read, and a name on more than MAX_CALL_LINES lines
gets no suggestion.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass

from spark_lsp.nextedit.history import MAX_EDIT_CHARS
from spark_lsp.nextedit.line_repeat import MAX_LINE_CHARS, prose_lines

MAX_SIGNATURE_LINES = 30
MAX_SCAN_LINES = 5000
MAX_SCOPE_LINES = 300
MAX_CALLS_PER_LINE = 8
MAX_CALL_LINES = 500

# `def name(`, `function name<T>(`, `func (r *T) Name(`, `fn name<'a>(`: each part is a run of
# one character class, so a failed match costs no backtracking beyond the line.
DEFINITION = re.compile(
    r"\b(?P<keyword>def|function|func|fn)\s+(?:\((?P<receiver>[^()]*)\)\s*)?"
    r"(?P<name>[A-Za-z_$][A-Za-z0-9_$]*)\s*(?:<[^<>()]*>)?\s*\("
)
IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
KEYWORD_ARGUMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)")
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


def _signature_at(lines: Sequence[str], index: int, match: re.Match[str]) -> Signature | None:
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
        if match is None or _in_prose(line, match.start()):
            continue
        if found is not None:
            return None  # two definitions edited at once
        found = _signature_at(lines, index, match)
        if found is None or found.last <= first:
            return None
    return found


def _in_prose(line: str, at: int) -> bool:
    """Whether ``line[at]`` sits in a string or after a comment sign."""
    before = line[:at]
    return bool(before.count('"') % 2 or before.count("'") % 2 or "#" in before or "//" in before)


@dataclass(frozen=True)
class Change:
    """The parameter at ``index`` (receiver left out): ``old`` renamed to ``new``, removed (no
    ``new``) or added without a default (no ``old``)."""

    index: int
    old: Parameter | None
    new: Parameter | None


def parameter_change(before: Signature, after: Signature) -> Change | None:
    """The one parameter renamed, removed or added (without a default) between two versions of
    a definition; None for any other change (the name, the receiver, two parameters)."""
    if (before.name, before.receiver, before.syntax, before.prefix) != (
        after.name,
        after.receiver,
        after.syntax,
        after.prefix,
    ):
        return None  # `async` dropped, a function made a method: its calls change otherwise
    old = [one.name for one in before.parameters]
    new = [one.name for one in after.parameters]
    if len(old) == len(new):
        differing = [index for index in range(len(old)) if old[index] != new[index]]
        if len(differing) != 1 or before.syntax.language != "python":
            return None  # positional arguments do not name their parameter
        index = differing[0]
        renamed = before.parameters[index], after.parameters[index]
        if (renamed[0].star, renamed[0].keyword_only, renamed[0].annotation) != (
            renamed[1].star,
            renamed[1].keyword_only,
            renamed[1].annotation,
        ):
            return None  # another type: another parameter in the old one's place
        return Change(index, *renamed)
    if before.suffix != after.suffix:
        return None  # another return type: the calls may change otherwise
    longer, shorter = (old, new) if len(old) > len(new) else (new, old)
    if len(longer) != len(shorter) + 1:
        return None
    index = next((at for at in range(len(shorter)) if longer[at] != shorter[at]), len(shorter))
    if longer[:index] + longer[index + 1 :] != shorter:
        return None
    if longer is old:
        removed = before.parameters[index]
        return None if removed.star else Change(index, removed, None)
    added = after.parameters[index]
    return None if added.star or added.default else Change(index, None, added)


def _is_name_char(char: str) -> bool:
    return char != "" and (char.isalnum() or char in "_$")


def _call_opening(line: str, at: int, signature: Signature) -> int | None:
    """The index of the ``(`` when the name at ``line[at]`` is called there as the definition
    is: bare for a function, on the definition's receiver for a method."""
    end = at + len(signature.name)
    opening = end
    while opening < len(line) and line[opening] in " \t":
        opening += 1
    if line[opening : opening + 1] != "(" or _is_name_char(line[end : end + 1]):
        return None
    if (at and _is_name_char(line[at - 1])) or _in_prose(line, at):
        return None
    dotted = at > 0 and line[at - 1] == "."
    if not signature.receiver:
        return None if dotted or line.endswith("::", 0, at) else opening
    start = at - 1
    while dotted and start > 0 and _is_name_char(line[start - 1]):
        start -= 1
    if not dotted or (start and line[start - 1] in ".)]"):
        return None
    receiver = line[start : at - 1]
    python_method = signature.syntax.language == "python" and receiver in RECEIVERS
    return opening if python_method or receiver == signature.receiver else None


def _keyword(line: str, span: tuple[int, int], syntax: Syntax) -> str | None:
    if syntax.language != "python":
        return None
    match = KEYWORD_ARGUMENT.match(line, span[0], span[1])
    return match.group(1) if match else None


def _deletion(arguments: Sequence[tuple[int, int]], index: int) -> tuple[int, int, str]:
    """The edit that deletes argument ``index`` and the comma next to it."""
    if index + 1 < len(arguments):
        return arguments[index][0], arguments[index + 1][0], ""
    if index:
        return arguments[index - 1][1], arguments[index][1], ""
    return arguments[index][0], arguments[index][1], ""


Edit = tuple[int, int, str]  # characters [start, end) of a line become the text


@dataclass(frozen=True)
class Call:
    """One call's arguments: their spans in ``line``, the keyword of each (Python), and the
    names the definition the call is in takes as parameters (empty: not looked up)."""

    line: str
    opening: int  # the index of its `(`
    arguments: list[tuple[int, int]]
    keywords: list[str | None]
    scope: frozenset[str]


def _unpacked(call: Call, count: int) -> bool:
    """Whether one of the first ``count`` arguments is unpacked (``*a``, ``**k``, ``a...``)."""
    return any(
        call.line.startswith(("*", "..."), start) or call.line.endswith("...", start, end)
        for start, end in call.arguments[:count]
    )


def _renamed(call: Call, change: Change, old: Parameter, new: Parameter) -> Edit | None:
    """``old=`` becomes ``new=``. A value that is the old name is renamed too in the function's
    own body (the new name is a parameter there); a caller that passes its own parameter of
    the old name is left alone."""
    if old.name not in call.keywords:
        return None
    start, end = call.arguments[call.keywords.index(old.name)]
    value = call.line[start:end].split("=", 1)[1]
    if value.strip() == old.name:
        if old.name in call.scope:
            return None  # the caller passes its own `old` on: measured, renamed next as well
        if new.name in call.scope:
            value = value.replace(old.name, new.name)
    return start, end, f"{new.name}={value}"


def _removed(call: Call, change: Change, old: Parameter, signature: Signature) -> Edit | None:
    """The argument passed for the removed parameter, by keyword or by position, deleted."""
    if old.name in call.keywords:
        return _deletion(call.arguments, call.keywords.index(old.name))
    if old.keyword_only or len(call.arguments) <= change.index:
        return None
    if any(call.keywords[: change.index + 1]) or _unpacked(call, change.index + 1):
        return None  # the positions are not known
    if signature.syntax.language in ("go", "rust") and len(call.arguments) != len(
        signature.parameters
    ):
        return None  # the call does not pass the old signature's parameters
    return _deletion(call.arguments, change.index)


def _added(call: Call, change: Change, new: Parameter, signature: Signature) -> Edit | None:
    """The caller's own parameter of the added parameter's name passed for it: by position
    where the call passes the parameters before it by position, else by keyword (Python)."""
    if new.name not in call.scope or _unpacked(call, len(call.arguments)):
        return None
    if new.name in call.keywords:
        return None
    positional = next(
        (at for at, keyword in enumerate(call.keywords) if keyword), len(call.arguments)
    )
    python = signature.syntax.language == "python"
    if not python and len(call.arguments) != len(signature.parameters):
        return None
    if python and (new.keyword_only or positional < change.index):
        return _appended(call, f"{new.name}={new.name}")
    if change.index > positional:
        return None
    if change.index < len(call.arguments):
        start = call.arguments[change.index][0]
        return start, start, f"{new.name}, "
    return _appended(call, new.name)


def _appended(call: Call, text: str) -> Edit:
    """``text`` as the call's last argument."""
    if not call.arguments:
        return call.opening + 1, call.opening + 1, text
    end = call.arguments[-1][1]
    return end, end, f", {text}"


def argument_edit(call: Call, signature: Signature, change: Change) -> Edit | None:
    """The edit of the call's arguments that the change of ``signature`` (the old one) needs,
    if one is certain."""
    if change.old is not None and change.new is not None:
        return _renamed(call, change, change.old, change.new)
    if change.old is not None:
        return _removed(call, change, change.old, signature)
    if change.new is not None:
        return _added(call, change, change.new, signature)
    return None


def rewrite_calls(
    line: str,
    signature: Signature,
    change: Change,
    definitions: Collection[int] = (),
    scope: frozenset[str] = frozenset(),
) -> str | None:
    """``line`` with its calls of the function changed, or None when none changes (the name at
    an index in ``definitions`` is defined there, not called; ``scope``: the parameters of the
    definition the line is in)."""
    edits: list[Edit] = []
    syntax = signature.syntax
    if line.count(signature.name) > MAX_CALLS_PER_LINE:
        return None  # each call is read to the line's end: a line of many is left alone
    at = line.find(signature.name)
    while at >= 0:
        opening = None if at in definitions else _call_opening(line, at, signature)
        closing = None if opening is None else closing_paren(line, opening, len(line), syntax)
        arguments = None
        if opening is not None and closing is not None:
            arguments = split_top_level(line, opening + 1, closing, syntax)
        if opening is not None and arguments is not None:
            keywords = [_keyword(line, span, syntax) for span in arguments]
            call = Call(line, opening, arguments, keywords, scope)
            edit = argument_edit(call, signature, change)
            if edit is not None:
                edits.append(edit)
        at = line.find(signature.name, at + len(signature.name))
    if not edits:
        return None
    edits.sort()
    if any(edits[index][1] > edits[index + 1][0] for index in range(len(edits) - 1)):
        return None  # a call nested in an argument the other deletes
    for start, end, text in reversed(edits):
        line = line[:start] + text + line[end:]
    return line


def enclosing_parameters(lines: Sequence[str], wanted: Sequence[int]) -> dict[int, frozenset[str]]:
    """For each line of ``wanted`` (ascending), the parameter names of the definition it is in:
    the nearest one above it indented less, past the blocks (``if``, ``for``, closures) in
    between; empty when that is unknown (a class body, the top level). One pass over the
    lines from MAX_SCOPE_LINES before the first; a definition is read when a line needs it."""
    found: dict[int, frozenset[str]] = {}
    read: dict[int, frozenset[str]] = {-1: frozenset()}
    stack: list[tuple[int, int]] = []  # the open blocks: indentation, definition line (-1: none)
    targets = set(wanted)
    for index in range(
        max(0, min(targets, default=0) - MAX_SCOPE_LINES), max(targets, default=-1) + 1
    ):
        line = lines[index]
        depth = _indentation(line)
        if depth is None or len(line) > MAX_LINE_CHARS:
            continue
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if index in targets:
            definition = stack[-1][1] if stack else -1
            if definition not in read:
                read[definition] = _parameter_names(lines, definition)
            found[index] = read[definition]
        if DEFINITION.search(line) is not None:
            stack.append((depth, index))
        elif line.lstrip().startswith(("class ", "struct ", "impl ")):
            stack.append((depth, -1))
    return found


def _parameter_names(lines: Sequence[str], index: int) -> frozenset[str]:
    match = DEFINITION.search(lines[index])
    signature = _signature_at(lines, index, match) if match is not None else None
    if signature is None:
        return frozenset()
    return frozenset(one.name for one in signature.parameters) | {signature.receiver}


def update_call_sites(
    lines: Sequence[str],
    edited: tuple[int, int],
    old: str,
    new: str,
    max_lines: int = MAX_SCAN_LINES,
) -> tuple[int, int, list[str]] | None:
    """Lines [first, last) of ``lines`` (the document after the edit, which replaced ``old``
    with ``new`` on lines ``edited``) and their next version, with the call sites of the
    definition whose parameter the edit renamed, removed or added updated; None when the edit
    is no such change or no call site needs a certain change."""
    if len(old) + len(new) > MAX_EDIT_CHARS:
        return None
    first, last = edited
    after = find_signature(lines, first, last)
    if after is None or prose_lines(lines, after.first, after.first + 1):
        return None  # no definition, or one in a docstring
    old_lines = old.splitlines(keepends=True)
    start = max(0, first - MAX_SIGNATURE_LINES)
    previous = [*lines[start:first], *old_lines, *lines[last : last + MAX_SIGNATURE_LINES]]
    before = find_signature(previous, first - start, first - start + len(old_lines))
    change = parameter_change(before, after) if before is not None else None
    if before is None or change is None:
        return None
    block_first, block_last = enclosing_block(lines, after, max_lines)
    header = lines[block_first - 1].lstrip() if block_first else ""
    if not after.receiver and header.startswith(("class ", "impl ")):
        return None  # a static method: called on its class, which is not followed here
    scan_first = max(block_first, after.first - max_lines // 2)
    scan_last = min(block_last, scan_first + max_lines)
    skipped = set(range(after.first, after.last)) | set(range(first, last))
    changed = _changed_lines(lines, scan_first, scan_last, skipped, before, change)
    if not changed:
        return None
    span_first, span_last = min(changed), max(changed) + 1
    rewritten = [changed.get(index, lines[index]) for index in range(span_first, span_last)]
    return span_first, span_last, rewritten


def _indentation(line: str) -> int | None:
    """The indentation of a line, None for a blank one."""
    stripped = line.lstrip()
    return len(line) - len(stripped) if stripped else None


def enclosing_block(lines: Sequence[str], signature: Signature, limit: int) -> tuple[int, int]:
    """The lines that can call an indented definition (a method, a nested function): those of
    the block it is in, from the nearest line above indented less to the first one below;
    every line for a top-level definition. At most ``limit`` lines either way are read."""
    indent = _indentation(lines[signature.first])
    if not indent:
        return 0, len(lines)
    start = signature.first
    while start > max(0, signature.first - limit):
        depth = _indentation(lines[start - 1])
        if depth is not None and depth < indent:
            break
        start -= 1
    end = signature.last
    while end < min(len(lines), signature.last + limit):
        depth = _indentation(lines[end])
        if depth is not None and depth < indent:
            break
        end += 1
    return start, end


def _changed_lines(
    lines: Sequence[str],
    first: int,
    last: int,
    skipped: set[int],
    signature: Signature,
    change: Change,
) -> dict[int, str] | None:
    """The lines of [first, last) outside ``skipped`` whose calls change, with their new text;
    None when the name is defined again there, as a function again or as a method again
    (which definition a call reaches is unknown)."""
    name = signature.name
    candidates = [
        index
        for index in range(first, last)
        if index not in skipped and name in lines[index] and len(lines[index]) <= MAX_LINE_CHARS
    ]
    if not candidates or len(candidates) > MAX_CALL_LINES:
        return {}  # none, or more than one suggestion should rewrite
    prose = prose_lines(lines, candidates[0], candidates[-1] + 1)
    scopes = enclosing_parameters(lines, candidates) if change.new else {}
    changed: dict[int, str] = {}
    for index in candidates:
        line = lines[index]
        if any(_rivals(lines, index, match, signature) for match in DEFINITION.finditer(line)):
            return None
        definitions = {match.start("name") for match in DEFINITION.finditer(line)}
        rewritten = None
        if index not in prose:
            scope = scopes.get(index, frozenset())
            rewritten = rewrite_calls(line, signature, change, definitions, scope)
        if rewritten is not None:
            changed[index] = rewritten
    return changed


def _rivals(lines: Sequence[str], index: int, match: re.Match[str], signature: Signature) -> bool:
    """Whether the definition ``match`` on line ``index`` may be the one that calls of
    ``signature`` reach: the same name, and both are functions or both methods."""
    if match.group("name") != signature.name:
        return False
    other = _signature_at(lines, index, match)
    return other is None or bool(other.receiver) == bool(signature.receiver)
