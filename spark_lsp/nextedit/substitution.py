"""The deterministic next edit: repeat the last edit's substitution wherever it applies.

When the user's edit replaced one identifier with another (a rename, ``x`` -> ``y.x``), the same
replacement at that identifier's other uses in the editable region is a certain next edit, and
costs no model call. Anything else (two different replacements, an insertion, text that is not
an identifier) is left to the model.

Every step is linear in the text it reads, repetitive text included (generated code, data
tables), and an edit longer than MAX_EDIT_CHARS is not compared at all: it has no substitution
(tokenizing holds the GIL: a megabyte takes half a second).
"""

from __future__ import annotations

import itertools
import keyword
import re
from collections.abc import Iterator, Sequence

from spark_lsp.nextedit.history import MAX_EDIT_CHARS

TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\S")
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# Keywords and literal constants: replacing one (`None` -> `UNSET`, `True` -> `False`) changes
# a value or a type at that place, it renames nothing.
NOT_NAMES = frozenset(
    {*keyword.kwlist, *keyword.softkwlist, "true", "false", "null", "nil", "undefined"}
)


def _in_prose(line_before: str) -> bool:
    """Whether the text after ``line_before`` (its line up to there) sits inside a string or
    after a comment sign: prose, not code."""
    return bool(
        line_before.count('"') % 2
        or line_before.count("'") % 2
        or "#" in line_before
        or "//" in line_before
    )


def _common_ends(old: Sequence[str], new: Sequence[str]) -> tuple[int, int]:
    """How many tokens ``old`` and ``new`` share at their start, and then at their end."""
    limit = min(len(old), len(new))
    head = 0
    while head < limit and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < limit - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    return head, tail


def _replaces(old: Sequence[str], new: Sequence[str], name: str, length: int) -> bool:
    """Whether ``new`` is ``old`` with some of its ``name`` tokens replaced by the first
    ``length`` tokens of ``new`` (which do not start with ``name``), the first one replaced."""
    replacement = new[:length]
    at = 0
    for token in old:
        if token == name and new[at : at + 1] != [name]:
            if new[at : at + length] != replacement:
                return False
            at += length
        elif new[at : at + 1] == [token]:
            at += 1
        else:
            return False
    return at == len(new)


def _replacement_lengths(old: Sequence[str], new: Sequence[str]) -> Iterator[int]:
    """The token counts a replacement of ``old[0]`` by ``new``'s first tokens can have: ``k``
    replaced uses of a name grow the text by ``k * (length - 1)`` tokens, and the last use is
    replaced too (its replacement ends ``new``)."""
    growth = len(new) - len(old)
    if growth == 0:
        yield 1
        return
    uses = old.count(old[0])
    for replaced in range(1, uses + 1):
        if growth % replaced == 0 and growth // replaced > 0:
            length = growth // replaced + 1
            if new[:length] == new[len(new) - length :]:
                yield length


def _replacement_length(old: Sequence[str], new: Sequence[str]) -> int | None:
    """How many tokens replace ``old[0]`` when ``new`` is ``old`` with uses of that name
    replaced; None when it is not."""
    for length in _replacement_lengths(old, new):
        if _replaces(old, new, old[0], length):
            return length
    return None


def substitution(old: str, new: str) -> tuple[str, str] | None:
    """The one identifier replacement that turns ``old`` into ``new``, if there is one and it
    is a rename: not of a keyword or literal, not inside a comment or string."""
    if len(old) + len(new) > MAX_EDIT_CHARS:
        return None
    old_tokens, new_tokens = TOKEN.findall(old), TOKEN.findall(new)
    head, tail = _common_ends(old_tokens, new_tokens)
    old_rest = old_tokens[head : len(old_tokens) - tail]
    new_rest = new_tokens[head : len(new_tokens) - tail]
    if not old_rest or not new_rest:
        return None  # an insertion or a deletion
    before = old_rest[0]
    if not IDENTIFIER.fullmatch(before) or before in NOT_NAMES:
        return None
    length = _replacement_length(old_rest, new_rest)
    if length is None or before in new_rest[:length]:
        return None  # no replacement; or the name wrapped (`x` -> `int(x)`): an insertion
    at = next(itertools.islice(TOKEN.finditer(new), head, None)).start()
    if _in_prose(new[new.rfind("\n", 0, at) + 1 : at]):
        return None
    return before, "".join(new_rest[:length])


def _replace_in_code(line: str, pattern: re.Pattern[str], replacement: str) -> str:
    """``line`` with ``pattern``'s matches replaced, except inside a string or after a comment
    sign: a renamed name's old spelling in a message or a deprecation alias stays. One pass:
    the quotes and comment signs are counted between consecutive matches."""
    pieces: list[str] = []
    double = single = 0
    commented = False
    done = 0
    for match in pattern.finditer(line):
        start = match.start()
        double += line.count('"', done, start)
        single += line.count("'", done, start)
        commented = (
            commented or line.find("#", done, start) >= 0 or line.find("//", done, start) >= 0
        )
        prose = double % 2 or single % 2 or commented
        pieces.append(line[done:start])
        pieces.append(match.group(0) if prose else replacement)
        done = match.end()
    pieces.append(line[done:])
    return "".join(pieces)


def repeat_substitution(
    lines: Sequence[str], region: tuple[int, int], edited: tuple[int, int], old: str, new: str
) -> list[str] | None:
    """The region's lines with the edit's substitution repeated outside the edited lines, or
    None when the edit was no single identifier replacement or it applies nowhere else."""
    found = substitution(old, new)
    if found is None:
        return None
    before, after = found
    pattern = re.compile(rf"(?<![A-Za-z0-9_.]){re.escape(before)}(?![A-Za-z0-9_])")
    first, last = region
    result, changed = [], False
    for index in range(first, last):
        line = lines[index]
        if not edited[0] <= index < edited[1]:
            replaced = _replace_in_code(line, pattern, after)
            changed = changed or replaced != line
            line = replaced
        result.append(line)
    return result if changed else None
