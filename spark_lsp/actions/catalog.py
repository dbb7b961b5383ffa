"""What the code-action menu offers, computed at once with no model call.

A request's range is widened to whole lines; an empty range means the enclosing function (found
with tree-sitter), or the cursor's line when there is none.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from spark_lsp.actions.registry import ACTIONS, Offered
from spark_lsp.syntax import parse

FUNCTION_WORDS = ("function", "method")
MAX_FIXES = 20  # diagnostics offered as fixes in one menu
MAX_MESSAGE_CHARACTERS = 200  # of a diagnostic's message in a menu title
FUNCTION_ENDINGS = ("definition", "declaration", "item", "function")


@dataclass(frozen=True)
class Offer:
    action: str  # a key of registry.ACTIONS
    title: str
    kind: str  # an LSP CodeActionKind value
    first_line: int
    last_line: int  # exclusive
    message: str = ""  # a diagnostic's message, for "fix"


def _is_function(node: Any) -> bool:
    kind: str = node.type
    return any(word in kind for word in FUNCTION_WORDS) and kind.endswith(FUNCTION_ENDINGS)


class Syntax:
    """A document's tree, parsed at most once, with byte offsets of the store's lines (tree-sitter
    counts rows at ``\n`` only; the store also breaks at ``\r``, so lines go by bytes)."""

    def __init__(self, language_id: str, lines: Sequence[str], tree: Any = None) -> None:
        self._language_id = language_id
        self._lines = lines
        self._tree = tree
        self._parsed = tree is not None
        self._starts: list[int] = []

    @property
    def tree(self) -> Any:
        if not self._parsed:
            self._tree = parse(self._language_id, "".join(self._lines))
            self._parsed = True
        return self._tree

    def line_start(self, line: int) -> int:
        if not self._starts:
            offset = 0
            for entry in self._lines:
                self._starts.append(offset)
                offset += len(entry.encode("utf-8", "surrogatepass"))
            self._starts.append(offset)
        return self._starts[min(line, len(self._starts) - 1)]

    def line_of(self, byte: int) -> int:
        self.line_start(0)
        return bisect.bisect_right(self._starts, byte) - 1


def enclosing_function(
    language_id: str, lines: Sequence[str], line: int, syntax: Syntax | None = None
) -> tuple[int, int] | None:
    """The lines [first, last) of the innermost function around ``line``, decorators included."""
    syntax = syntax or Syntax(language_id, lines)
    tree = syntax.tree
    if tree is None:
        return None
    # From the line's first character: at its indentation, the node found is the block's.
    text = lines[line] if line < len(lines) else ""
    indentation = len(text.encode()) - len(text.lstrip().encode()) if text.strip() else 0
    at = syntax.line_start(line) + indentation
    node = tree.root_node.descendant_for_byte_range(at, at)
    while node is not None and not _is_function(node):
        definition = node.child_by_field_name("definition")  # from a decorator up to its def
        node = definition if definition is not None and _is_function(definition) else node.parent
    if node is None:
        return None
    if node.parent is not None and node.parent.type == "decorated_definition":
        node = node.parent
    last_line = syntax.line_of(max(node.start_byte, node.end_byte - 1))
    first_line = syntax.line_of(node.start_byte)
    return first_line, min(last_line + 1, len(lines))


def _is_header(lines: Sequence[str], first: int, line: int) -> bool:
    """Whether ``line`` is the function's first line or its ``def`` after decorators."""
    return all(lines[index].lstrip().startswith("@") for index in range(first, line))


def target_lines(
    language_id: str,
    lines: Sequence[str],
    start: tuple[int, int],
    end: tuple[int, int],
    syntax: Syntax | None = None,
) -> tuple[int, int]:
    """Whole lines [first, last) covered by a range; an empty range means the enclosing
    function, else its line. A range on a function's first line means the function too:
    eglot, for one, sends the bounds of the thing at point, not the cursor."""
    last = end[0] + (1 if end[1] > 0 or end[0] == start[0] else 0)
    if start == end or last == start[0] + 1:
        found = enclosing_function(language_id, lines, start[0], syntax)
        if found is not None and (start == end or _is_header(lines, found[0], start[0])):
            return found
    return start[0], min(max(last, start[0] + 1), len(lines))


def offers(
    language_id: str,
    lines: Sequence[str],
    start: tuple[int, int],
    end: tuple[int, int],
    diagnostics: Sequence[tuple[int, str]],
    can_create_files: bool,
    syntax: Syntax | None = None,
) -> list[Offer]:
    """The menu: the diagnostics' actions (a fix rewriting the function around each of the
    first MAX_FIXES), then the selection's, in the registry's order. The document is parsed
    once. Actions offered last (they need the user's words) are the service's to add."""
    syntax = syntax or Syntax(language_id, lines)
    found: list[Offer] = []
    for spec in ACTIONS.values():
        if spec.offered is not Offered.DIAGNOSTIC:
            continue
        for line, message in diagnostics[:MAX_FIXES]:
            if 0 <= line < len(lines):
                title = spec.title.format(message=message[:MAX_MESSAGE_CHARACTERS])
                first, last = target_lines(language_id, lines, (line, 0), (line, 0), syntax)
                found.append(Offer(spec.key, title, spec.kind, first, last, message))
    first, last = target_lines(language_id, lines, start, end, syntax)
    if first >= last:
        return found
    found.extend(
        Offer(spec.key, spec.title, spec.kind, first, last)
        for spec in ACTIONS.values()
        if spec.offered is Offered.SELECTION and (can_create_files or not spec.needs_file_creation)
    )
    return found
