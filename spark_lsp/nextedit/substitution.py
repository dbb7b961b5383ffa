"""The deterministic next edit: repeat the last edit's substitution wherever it applies.

When the user's edit replaced one identifier with another (a rename, ``x`` -> ``self.x``),
the same replacement at that identifier's other uses in the editable region is a certain next
edit, and costs no model call. Anything else (two different replacements, an insertion, text
that is not an identifier) is left to the model.
"""

from __future__ import annotations

import difflib
import keyword
import re
from collections.abc import Sequence

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


def substitution(old: str, new: str) -> tuple[str, str] | None:
    """The one identifier replacement that turns ``old`` into ``new``, if there is one and it
    is a rename: not of a keyword or literal, not inside a comment or string."""
    old_tokens, new_tokens = TOKEN.findall(old), TOKEN.findall(new)
    starts = [match.start() for match in TOKEN.finditer(new)]
    matcher = difflib.SequenceMatcher(a=old_tokens, b=new_tokens, autojunk=False)
    changes = [
        ("".join(old_tokens[i1:i2]), "".join(new_tokens[j1:j2]), j1)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes()
        if tag != "equal"
    ]
    if len({(before, after) for before, after, _ in changes}) != 1:
        return None
    before, after, first = changes[0]
    if not IDENTIFIER.fullmatch(before) or not after or before == after or before in NOT_NAMES:
        return None
    at = starts[first] if first < len(starts) else len(new)
    if _in_prose(new[new.rfind("\n", 0, at) + 1 : at]):
        return None
    return before, after


def _outside_strings(match: re.Match[str], replacement: str) -> str:
    """The replacement, unless the match sits inside a string or after a comment sign on its
    line: a renamed name's old spelling in a message or a deprecation alias stays."""
    return match.group(0) if _in_prose(match.string[: match.start()]) else replacement


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
            replaced = pattern.sub(lambda match: _outside_strings(match, after), line)
            changed = changed or replaced != line
            line = replaced
        result.append(line)
    return result if changed else None
