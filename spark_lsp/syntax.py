"""Syntax questions answered with tree-sitter (grammars from tree-sitter-language-pack, bundled,
offline).

- ``keeps_syntax``: a suggestion must not make the code around the cursor less parseable than it
  already is: the number of syntax-error nodes with the suggestion inserted may not exceed the
  number without it.
- ``starts_empty_block``: whether the cursor sits at the start of a block (or bracketed list)
  that has nothing in it yet, the one place where a multi-line suggestion is wanted.

Languages without a grammar get None, and the callers fall back to indentation rules.

The language comes from the client (``languageId``), so it is untrusted: tree-sitter-language-pack
0.13 turns a name it does not bundle into the path ``bindings/{name}.so`` and loads that library.
Only names on the pack's own list of languages (lowercase letters, digits and underscores) ever
reach it; anything else means "no grammar".
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import typing
from collections import OrderedDict
from typing import Any

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


# Node types that hold a block's statements, beyond those whose name says "block" or "body".
BLOCK_TYPES = {"compound_statement", "declaration_list", "field_declaration_list", "suite"}
OPENING_BRACKETS = {"(", "[", "{"}

GRAMMAR_NAME = re.compile(r"[a-z0-9_]{1,64}")

# A parser is not safe to share between threads, and suggestions finish on the worker's thread too.
_local = threading.local()


@functools.cache
def bundled_grammars() -> frozenset[str]:
    """The grammar names the pack ships (its ``SupportedLanguage`` list), well-formed ones only."""
    try:
        from tree_sitter_language_pack import SupportedLanguage
    except ImportError:
        return frozenset()
    names = typing.get_args(SupportedLanguage)
    return frozenset(name for name in names if GRAMMAR_NAME.fullmatch(name))


def grammar_name(language_id: object) -> str | None:
    """The bundled grammar for an LSP language id, or None (never a name the pack would turn
    into a path)."""
    if not isinstance(language_id, str):
        return None
    name = LANGUAGE_NAMES.get(language_id, language_id)
    return name if name in bundled_grammars() else None


def _parser(language_id: str) -> object | None:
    name = grammar_name(language_id)
    if name is None:
        return None
    parsers: dict[str, object | None] = _local.__dict__.setdefault("parsers", {})
    if name not in parsers:
        try:
            from tree_sitter_language_pack import get_parser

            parsers[name] = get_parser(name)  # type: ignore[arg-type]
        except (ImportError, LookupError, ValueError, OSError) as error:
            logger.warning("the tree-sitter grammar for %s does not load: %s", name, error)
            parsers[name] = None
    return parsers[name]


def parse(language_id: str, text: str) -> Any:
    """The syntax tree of ``text``, or None when the language has no grammar."""
    parser = _parser(language_id)
    if parser is None:
        return None
    return parser.parse(text.encode("utf-8", "surrogatepass"))  # type: ignore[attr-defined]


# Whole-document trees by (uri, version, language): the code-action menu and a rewrite of the
# same version share one parse. Trees are only read after parsing.
_TREES: OrderedDict[tuple[str, int, str], Any] = OrderedDict()
_TREES_KEPT = 8
_trees_lock = threading.Lock()


class _Document(typing.Protocol):
    uri: str
    version: int
    language_id: str

    @property
    def text(self) -> str: ...


def parse_document(document: _Document) -> Any:
    """The syntax tree of a document snapshot, parsed once per version (None without a grammar)."""
    key = (document.uri, document.version, document.language_id)
    with _trees_lock:
        if key in _TREES:
            _TREES.move_to_end(key)
            return _TREES[key]
    tree = parse(document.language_id, document.text)
    with _trees_lock:
        _TREES[key] = tree
        while len(_TREES) > _TREES_KEPT:
            _TREES.popitem(last=False)
    return tree


def snapshot_error_count(document: _Document) -> int | None:
    """``error_count`` of a whole document snapshot, from its cached tree."""
    tree = parse_document(document)
    return None if tree is None else _count_errors(tree)


def has_grammar(language_id: str) -> bool:
    return _parser(language_id) is not None


def error_count(language_id: str, text: str) -> int | None:
    """Syntax-error and missing nodes in ``text``; None when the language has no grammar."""
    tree = parse(language_id, text)
    return None if tree is None else _count_errors(tree)


def _count_errors(tree: Any) -> int:
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


def _is_block(node: Any) -> bool:
    kind: str = node.type
    return "block" in kind or kind.endswith("body") or kind in BLOCK_TYPES


def _is_empty(node: Any, ignoring: Any = None) -> bool:
    return all("comment" in c.type or c == ignoring for c in node.named_children)


def _docstring_statement(token: Any) -> Any:
    """The statement a token ends when it closes a block's leading docstring, else None."""
    node = token
    while node is not None and node.type != "string":
        node = node.parent
    if node is not None and node.parent is not None and node.parent.type == "expression_statement":
        node = node.parent  # grammars differ on whether a docstring is wrapped in a statement
    if node is None or node.parent is None:
        return None
    block = node.parent
    if not _is_block(block) or block.named_children[0] != node:
        return None
    return node


def starts_empty_block(language_id: str, prefix: str, suffix: str) -> bool | None:
    """True when the last token before the cursor opens a block or bracket pair that is still
    empty (``def f():`` with no body yet, ``{`` with nothing before its ``}``); False when it does
    not; None when the language has no grammar or the opener sits in a syntax error."""
    parser = _parser(language_id)
    if parser is None:
        return None
    text = (prefix + suffix).encode("utf-8", "surrogatepass")
    tree = parser.parse(text)  # type: ignore[attr-defined]
    end = len(prefix.rstrip().encode("utf-8", "surrogatepass"))
    while end > 0:
        token = tree.root_node.descendant_for_byte_range(end - 1, end)
        if token is None or token.end_byte != end:
            return False  # the cursor follows the end of a larger node, not an opening token
        if "comment" not in token.type:
            break
        end = len(text[: token.start_byte].rstrip())  # look at what precedes the comment
    else:
        return False
    if token.is_error or token.is_missing or (token.parent is not None and token.parent.is_error):
        return None
    parent = token.parent
    if parent is None:
        return False
    if (docstring := _docstring_statement(token)) is not None:
        return _is_empty(docstring.parent, ignoring=docstring)  # a body with only its docstring
    if token.type in OPENING_BRACKETS and parent.child(0) == token:
        return _is_empty(parent)  # { in a block, ( or [ in a literal or argument list
    # The block follows its opener (Python's ":"); an empty one is zero-width, which sibling
    # links skip, so look it up among the parent's children by position.
    body = next((c for c in parent.named_children if c.start_byte >= end), None)
    if body is None or not _is_block(body):
        return False
    return _is_empty(body)
