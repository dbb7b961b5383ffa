"""What the code-action menu offers, computed at once with no model call.

A request's range is widened to whole lines; an empty range means the enclosing function (found
with tree-sitter), or the cursor's line when there is none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from spark_lsp.syntax import parse

FUNCTION_WORDS = ("function", "method")
FUNCTION_ENDINGS = ("definition", "declaration", "item", "function")


@dataclass(frozen=True)
class Offer:
    action: str  # a key of rewrite.INSTRUCTIONS, "fix", or "edit"
    title: str
    kind: str  # an LSP CodeActionKind value
    first_line: int
    last_line: int  # exclusive
    message: str = ""  # a diagnostic's message, for "fix"


def _is_function(node: Any) -> bool:
    kind: str = node.type
    return any(word in kind for word in FUNCTION_WORDS) and kind.endswith(FUNCTION_ENDINGS)


def enclosing_function(language_id: str, lines: Sequence[str], line: int) -> tuple[int, int] | None:
    """The lines [first, last) of the innermost function around ``line``, decorators included."""
    tree = parse(language_id, "".join(lines))
    if tree is None:
        return None
    node = tree.root_node.descendant_for_point_range((line, 0), (line, 0))
    while node is not None and not _is_function(node):
        node = node.parent
    if node is None:
        return None
    if node.parent is not None and node.parent.type == "decorated_definition":
        node = node.parent
    last = node.end_point[0] + (1 if node.end_point[1] > 0 else 0)
    return node.start_point[0], min(last, len(lines))


def target_lines(
    language_id: str, lines: Sequence[str], start: tuple[int, int], end: tuple[int, int]
) -> tuple[int, int]:
    """Whole lines [first, last) covered by a range; an empty range means the enclosing
    function, else its line."""
    if start == end:
        found = enclosing_function(language_id, lines, start[0])
        return found if found is not None else (start[0], min(start[0] + 1, len(lines)))
    last = end[0] + (1 if end[1] > 0 or end[0] == start[0] else 0)
    return start[0], min(max(last, start[0] + 1), len(lines))


def offers(
    language_id: str,
    lines: Sequence[str],
    start: tuple[int, int],
    end: tuple[int, int],
    diagnostics: Sequence[tuple[int, str]],
    can_create_files: bool,
) -> list[Offer]:
    """The menu: a fix per diagnostic (rewriting the function around it), then the rewrites of
    the selection."""
    found = [
        Offer(
            "fix",
            f"Fix: {message}",
            "quickfix",
            *target_lines(language_id, lines, (line, 0), (line, 0)),
            message,
        )
        for line, message in diagnostics
        if 0 <= line < len(lines)
    ]
    first, last = target_lines(language_id, lines, start, end)
    if first >= last:
        return found
    menu = [
        ("docstring", "Add docstring", "refactor.rewrite"),
        ("type_hints", "Add type hints", "refactor.rewrite"),
        ("simplify", "Simplify", "refactor.rewrite"),
        ("explain", "Explain", "source"),
    ]
    if can_create_files:
        menu.append(("unit_test", "Write a unit test", "source"))
    found.extend(
        Offer(action, f"spark-lsp: {title}", kind, first, last) for action, title, kind in menu
    )
    return found
