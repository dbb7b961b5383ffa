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

This module is the rule and its scan of the file; a signature is read by signatures.py and
a call's arguments are edited by call_arguments.py.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from spark_lsp.nextedit.call_arguments import Change, parameter_change, rewrite_calls
from spark_lsp.nextedit.history import MAX_EDIT_CHARS
from spark_lsp.nextedit.line_repeat import MAX_LINE_CHARS, prose_lines
from spark_lsp.nextedit.signatures import (
    DEFINITION,
    MAX_SIGNATURE_LINES,
    Signature,
    find_signature,
    signature_at,
)

MAX_SCAN_LINES = 5000
MAX_SCOPE_LINES = 300
MAX_CALL_LINES = 500


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
    signature = signature_at(lines, index, match) if match is not None else None
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
    other = signature_at(lines, index, match)
    return other is None or bool(other.receiver) == bool(signature.receiver)
