"""What the real-editor tests (VS Code, Emacs) share: the server they start and the check of an
"Add docstring" edit."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

SERVER = Path(sys.executable).parent / "spark-lsp"


def assert_only_a_docstring_was_added(before: str, after: str, function: str) -> None:
    """``function`` gained a docstring, and its code and every other function are as they were."""
    old, new = ast.parse(before), ast.parse(after)
    edited = {node.name: node for node in new.body if isinstance(node, ast.FunctionDef)}
    assert ast.get_docstring(edited[function]), after
    for node in old.body:
        if isinstance(node, ast.FunctionDef):
            body = edited[node.name].body
            body = body[1:] if node.name == function else body
            assert ast.dump(ast.Module(body, [])) == ast.dump(ast.Module(node.body, [])), after
