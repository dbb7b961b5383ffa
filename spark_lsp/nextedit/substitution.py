"""The deterministic next edit: repeat the last edit's substitution wherever it applies.

When the user's edit replaced one identifier with another (a rename, ``x`` -> ``self.x``),
the same replacement at that identifier's other uses in the editable region is a certain next
edit, and costs no model call. Anything else (two different replacements, an insertion, text
that is not an identifier) is left to the model.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\S")
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def substitution(old: str, new: str) -> tuple[str, str] | None:
    """The one identifier replacement that turns ``old`` into ``new``, if there is one."""
    old_tokens, new_tokens = TOKEN.findall(old), TOKEN.findall(new)
    matcher = difflib.SequenceMatcher(a=old_tokens, b=new_tokens, autojunk=False)
    replacements = {
        ("".join(old_tokens[i1:i2]), "".join(new_tokens[j1:j2]))
        for tag, i1, i2, j1, j2 in matcher.get_opcodes()
        if tag != "equal"
    }
    if len(replacements) != 1:
        return None
    ((before, after),) = replacements
    if not IDENTIFIER.fullmatch(before) or not after or before == after:
        return None
    return before, after


def _outside_strings(match: re.Match[str], replacement: str) -> str:
    """The replacement, unless the match sits inside a string or after a comment sign on its
    line: a renamed name's old spelling in a message or a deprecation alias stays."""
    before = match.string[: match.start()]
    inside = before.count('"') % 2 or before.count("'") % 2 or "#" in before or "//" in before
    return match.group(0) if inside else replacement


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
