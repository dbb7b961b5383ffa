"""One call's arguments and the edit a changed parameter list makes to them: which one
parameter a definition's edit renamed, removed or added, where the function is called on a line,
and how each call's arguments change (call_sites.py has the rule).

Bounded: a line naming the function more than MAX_CALLS_PER_LINE times is not read.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from spark_lsp.nextedit.signatures import (
    RECEIVERS,
    Parameter,
    Signature,
    Syntax,
    closing_paren,
    in_prose,
    split_top_level,
)

MAX_CALLS_PER_LINE = 8

KEYWORD_ARGUMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)")


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
    if (at and _is_name_char(line[at - 1])) or in_prose(line, at):
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
