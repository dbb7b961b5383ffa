"""Syntax checks with tree-sitter (grammars from tree-sitter-language-pack, bundled, offline).

A suggestion must not make the code around the cursor less parseable than it already is: the
number of syntax-error nodes with the suggestion inserted may not exceed the number without it.
Languages without a grammar pass unchecked (the indentation rules still apply to them).
"""

from __future__ import annotations

import logging
from functools import cache

logger = logging.getLogger(__name__)

# LSP language ids whose tree-sitter name differs; others are used as they are.
LANGUAGE_NAMES = {
    "javascriptreact": "javascript",
    "typescriptreact": "tsx",
    "shellscript": "bash",
    "sh": "bash",
    "c++": "cpp",
    "csharp": "csharp",
}


@cache
def _parser(language_id: str) -> object | None:
    name = LANGUAGE_NAMES.get(language_id, language_id)
    try:
        from tree_sitter_language_pack import get_parser

        return get_parser(name)  # type: ignore[arg-type]
    except (ImportError, LookupError, ValueError) as error:
        logger.debug("no tree-sitter grammar for %s: %s", language_id, error)
        return None


def has_grammar(language_id: str) -> bool:
    return _parser(language_id) is not None


def error_count(language_id: str, text: str) -> int | None:
    """Syntax-error and missing nodes in ``text``; None when the language has no grammar."""
    parser = _parser(language_id)
    if parser is None:
        return None
    tree = parser.parse(text.encode("utf-8"))  # type: ignore[attr-defined]
    if not tree.root_node.has_error:
        return 0
    count = 0
    cursor = tree.walk()
    visited_children = False
    while True:
        node = cursor.node
        if not visited_children:
            if node.is_error or node.is_missing:
                count += 1
            if cursor.goto_first_child():
                continue
        if cursor.goto_next_sibling():
            visited_children = False
        elif cursor.goto_parent():
            visited_children = True
        else:
            return count


def keeps_syntax(language_id: str, prefix: str, suggestion: str, suffix: str) -> bool:
    """True when inserting ``suggestion`` adds no syntax errors (or the language is unknown)."""
    before = error_count(language_id, prefix + suffix)
    if before is None:
        return True
    after = error_count(language_id, prefix + suggestion + suffix)
    return after is not None and after <= before
