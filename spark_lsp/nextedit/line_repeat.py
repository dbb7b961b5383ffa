"""The deterministic next edit: repeat a line's change on the parallel lines around it.

Like a multi-cursor edit: when the user changed a line (``t.Optional[str]`` -> ``str | None``,
``a = f()`` -> ``a = f().strip()``, ``strict_eq(a, b)`` -> ``assert a == b``), the lines of the
region that have the old line's shape get the same change. A line has the old line's shape
when it has its indentation and its tokens one for one: the same punctuation and keywords,
and names, numbers, strings or comments where the old line has them; these slots may differ
(consistently: a name that occurs twice is replaced by the same one twice), at most
MAX_DIFFERING of them. Lines of fewer than MIN_TOKENS tokens (``)``, ``return nil``) and other
definitions (``def other(...)``) are parallel to too much to count.

The change is the token diff of the old and the new line, repeated only where it touches the
text the lines share: a slot that differs on the target line is that line's own (its name, its
value), so a change that replaces it or is inserted right next to it (``self.x = x`` ->
``self._x = x``, ``name,`` -> ``name: str,``, ``v`` -> ``str(v)``, ``a`` -> ``a as a``) is
not repeated, nor is a change of data (``True`` -> ``False``, ``0`` -> ``None``, ``[]`` ->
``["a"]``): measured on repositories' histories, the neighbouring lines got those in a
minority of cases, against about nine in ten for the changes repeated.

Text in a docstring or block comment is prose: neither edited nor targeted; a change inside a
comment is not repeated. An edit of several lines is repeated only when each changed line is
changed by the same rule and the rule changes none of its unchanged lines. An edit that is one
identifier renamed is left to substitution.py.

Every step is linear in the text it reads: lines longer than MAX_LINE_CHARS are not read, an
edit has at most MAX_EDIT_LINES lines, targets are at most MAX_DISTANCE lines from the edit,
the docstring state is counted over at most MAX_SCAN_LINES lines.
"""

from __future__ import annotations

import difflib
import keyword
import re
from collections.abc import Sequence
from dataclasses import dataclass

from spark_lsp.nextedit.history import MAX_EDIT_CHARS
from spark_lsp.nextedit.substitution import NOT_NAMES, substitution

MAX_LINE_CHARS = 400
MAX_EDIT_LINES = 8
MAX_SCAN_LINES = 3000
MAX_DISTANCE = 100
MAX_DIFFERING = 1
MIN_TOKENS = 5

# One alternative per kind; the string alternatives cannot overlap (an escape is two
# characters, anything else one), so an attempt is linear in the line (at most MAX_LINE_CHARS).
TOKEN = re.compile(
    r"(?P<comment>#.*|//.*)"
    r"|(?P<string>\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*')"
    r"|(?P<name>[A-Za-z_$][A-Za-z0-9_$]*)"
    r"|(?P<number>\d[A-Za-z0-9_.]*)"
    r"|(?P<punct>\S)"
)
SLOTS = frozenset({"name", "number", "string", "comment"})
# Names that are the same on parallel lines when they mean the same: a receiver is no slot.
FIXED_NAMES = NOT_NAMES | frozenset({*keyword.kwlist, "self", "cls", "this"})
DEFINING = frozenset({"def", "class", "func", "function", "fn", "struct", "enum", "interface"})
CONSTANTS = frozenset({"True", "False", "None", "true", "false", "null", "nil", "undefined"})
DATA_PUNCTUATION = frozenset(",:()[]{}")
TOP_LEVEL = ("def ", "class ", "import ", "from ", "@", "async ", "func ", "fn ", "pub ", "impl ")
TOP_LEVEL += ("function ", "export ", "const ", "type ", "var ", "let ", "package ", "use ")
BLOCK_SIGN = re.compile(r'"""|\'\'\'|/\*|\*/')
BLOCKS = {'"""': '"""', "'''": "'''", "/*": "*/"}  # opener: closer


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Piece:
    """One part of a line's change: the old line's tokens [first, last) and the text around
    them (from the end of the token before to the start of the token after) became ``new``."""

    first: int
    last: int
    old: str
    new: str
    inserted: frozenset[str]  # the names and values it writes


@dataclass(frozen=True)
class LineChange:
    indent: str
    old: tuple[Token, ...]
    pieces: tuple[Piece, ...]


def tokens(text: str) -> tuple[Token, ...]:
    return tuple(
        Token(match.lastgroup or "punct", match.group(0), match.start(), match.end())
        for match in TOKEN.finditer(text)
    )


def _content(line: str) -> str:
    return line.rstrip("\r\n")


def _indent(text: str) -> str:
    return text[: len(text) - len(text.lstrip())]


def _bounds(line_tokens: Sequence[Token], first: int, last: int, text: str) -> tuple[int, int]:
    """The characters of ``text`` from the end of token ``first - 1`` (the indentation's end
    for the first token) to the start of token ``last`` (the line's end after the last)."""
    start = line_tokens[first - 1].end if first else len(_indent(text))
    end = line_tokens[last].start if last < len(line_tokens) else len(text)
    return start, end


def _is_value(token: Token) -> bool:
    return token.kind in ("number", "string") or token.text in CONSTANTS


def _data_change(removed: Sequence[Token], added: Sequence[Token]) -> bool:
    """Whether a piece writes values where there were values or none (``True`` -> ``False``,
    ``[]`` -> ``["a"]``): a change of data, which parallel lines hold each their own of. A
    string requoted (``'a'`` -> ``"a"``) is a change of style."""
    values = [token for token in added if token.kind != "punct"]
    if not values or not all(map(_is_value, (*removed, *values))):
        return False
    if any(token.text not in DATA_PUNCTUATION for token in added if token.kind == "punct"):
        return False
    requoted = (
        len(removed) == len(added) == 1
        and removed[0].kind == added[0].kind == "string"
        and removed[0].text[1:-1] == added[0].text[1:-1]
    )
    return not requoted


def line_change(old_line: str, new_line: str) -> LineChange | None:
    """The change from ``old_line`` to ``new_line`` (None: none but in spacing, another
    indentation, a change in a comment, or a change of data)."""
    old_text, new_text = _content(old_line), _content(new_line)
    if max(len(old_text), len(new_text)) > MAX_LINE_CHARS or not old_text.strip():
        return None
    indent = _indent(old_text)
    if _indent(new_text) != indent:
        return None
    old, new = tokens(old_text), tokens(new_text)
    if len(old) < MIN_TOKENS:
        return None  # `)`, `return nil`, `...`: too common to be parallel to anything
    matcher = difflib.SequenceMatcher(
        None, [one.text for one in old], [one.text for one in new], autojunk=False
    )
    pieces = []
    for tag, first, last, new_first, new_last in matcher.get_opcodes():
        if tag == "equal":
            continue
        removed, added = old[first:last], new[new_first:new_last]
        if any(one.kind == "comment" for one in (*removed, *added)) or _data_change(removed, added):
            return None
        old_start, old_end = _bounds(old, first, last, old_text)
        new_start, new_end = _bounds(new, new_first, new_last, new_text)
        written = frozenset(one.text for one in added if one.kind in SLOTS)
        old_piece, new_piece = old_text[old_start:old_end], new_text[new_start:new_end]
        pieces.append(Piece(first, last, old_piece, new_piece, written))
    return LineChange(indent, old, tuple(pieces)) if pieces else None


def _differing(change: LineChange, target: Sequence[Token]) -> set[int] | None:
    """The positions of the old line's slots that differ on ``target``; None when ``target``
    has another shape, or more than MAX_DIFFERING slots differ."""
    if len(target) != len(change.old):
        return None
    mapping: dict[str, str] = {}
    reverse: dict[str, str] = {}
    differing = set()
    for index, (mine, theirs) in enumerate(zip(change.old, target, strict=True)):
        if mine.text == theirs.text:
            continue
        if mine.kind != theirs.kind or mine.kind not in SLOTS:
            return None
        if mine.text in FIXED_NAMES or theirs.text in FIXED_NAMES:
            return None
        if mapping.setdefault(mine.text, theirs.text) != theirs.text:
            return None
        if reverse.setdefault(theirs.text, mine.text) != mine.text:
            return None
        if index and change.old[index - 1].text in DEFINING:
            return None  # another definition: its own signature
        differing.add(index)
    return differing if len(mapping) <= MAX_DIFFERING else None


def apply_change(change: LineChange, line: str) -> str | None:
    """``line`` with the change applied; None when ``line`` does not have the old line's shape
    or the change touches what differs on it."""
    text = _content(line)
    if len(text) > MAX_LINE_CHARS or _indent(text) != change.indent:
        return None
    target = tokens(text)
    differing = _differing(change, target)
    if differing is None:
        return None
    own = {change.old[index].text for index in differing}
    own |= {slot[1:-1] for slot in own if slot[:1] in "\"'"}  # a string's text as a name
    for piece in reversed(change.pieces):
        touched = range(max(piece.first - 1, 0), min(piece.last + 1, len(target)))
        if not differing.isdisjoint(touched) or piece.inserted & own:
            return None  # the change is the differing name's or value's own
        start, end = _bounds(target, piece.first, piece.last, text)
        if text[start:end] != piece.old:
            return None  # spaced otherwise
        text = text[:start] + piece.new + text[end:]
    return text + line[len(_content(line)) :]


def edit_rule(old: str, new: str) -> LineChange | None:
    """The one line change that turns each changed line of ``old`` into ``new``'s and leaves
    its other lines as they are; None when there is none (lines added or removed, two changes
    of different kinds, a too long edit)."""
    if len(old) + len(new) > MAX_EDIT_CHARS:
        return None
    old_lines, new_lines = old.splitlines(), new.splitlines()
    if len(old_lines) != len(new_lines) or not 0 < len(old_lines) <= MAX_EDIT_LINES:
        return None
    pairs = list(zip(old_lines, new_lines, strict=True))
    changed = [(before, after) for before, after in pairs if before != after]
    rule = line_change(*changed[0]) if changed else None
    if rule is None:
        return None
    for before, after in pairs:
        if (apply_change(rule, before) or before) != after:
            return None  # another change, or the rule applies to a line the user left
    return rule


def prose_lines(lines: Sequence[str], first: int, last: int) -> set[int]:
    """The lines of [first, last) in a triple-quoted string or a block comment, or holding one
    of their ends, as counted from the first top-level statement MAX_SCAN_LINES lines before
    (or from the start)."""
    prose: set[int] = set()
    closer = None
    start = max(0, first - MAX_SCAN_LINES)
    while 0 < start < first and not lines[start].startswith(TOP_LEVEL):
        start += 1  # counted from a statement, not from the middle of a docstring
    for index in range(start, last):
        line = lines[index]
        inside = closer is not None
        if '"""' in line or "'''" in line or "/*" in line or "*/" in line:
            for match in BLOCK_SIGN.finditer(line):
                inside = True
                if closer is None:
                    closer = BLOCKS.get(match.group(0))
                elif match.group(0) == closer:
                    closer = None
        if inside and index >= first:
            prose.add(index)
    return prose


def repeat_line_edit(
    lines: Sequence[str], region: tuple[int, int], edited: tuple[int, int], old: str, new: str
) -> list[str] | None:
    """The region's lines [region[0], region[1]) with the edit's line change repeated on the
    lines of the edited line's shape (the edit replaced ``old`` with ``new`` on lines
    ``edited``), or None when the edit is no such change (or a rename: substitution.py's) or
    it applies nowhere."""
    rule = edit_rule(old, new)
    if rule is None or substitution(old, new) is not None:
        return None
    first, last = region
    low, high = max(first, edited[0] - MAX_DISTANCE), min(last, edited[1] + MAX_DISTANCE)
    prose = prose_lines(lines, min(low, edited[0]), max(high, edited[1]))
    if any(index in prose for index in range(*edited)):
        return None
    result, changed = list(lines[first:last]), False
    for index in range(low, high):
        if edited[0] <= index < edited[1] or index in prose:
            continue
        applied = apply_change(rule, lines[index])
        if applied is not None:
            result[index - first] = applied
            changed = True
    return result if changed else None
