"""Definitions from the workspace modules the current file imports (Python).

Imports are read from the current text with tree-sitter (it copes with code being edited); each
module is resolved under the workspace roots (``a.b`` -> ``a/b.py`` or ``a/b/__init__.py``, also
under ``src/``; relative imports from the file's directory). A module becomes an outline: its
top-level functions and classes with their signatures and docstrings, bodies elided, constants
kept. Files are read through the Workspace (private, irregular, large and binary files are
skipped). Outlines are cached by path, size and mtime.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spark_lsp.context.workspace import Workspace
from spark_lsp.syntax import parse

logger = logging.getLogger(__name__)

DEFINITION_TYPES = ("function_definition", "class_definition", "decorated_definition")


@dataclass(frozen=True)
class Definitions:
    path: str  # relative to its workspace root
    outline: str


class ImportedDefinitions:
    """Outlines of workspace modules, cached by path, size and mtime (the most recent
    ``capacity`` modules). Thread-safe."""

    def __init__(self, workspace: Workspace, capacity: int = 2048) -> None:
        self.workspace = workspace
        self._outlines: OrderedDict[Path, tuple[int, int, str | None]] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def resolve_python(self, module: str, level: int, current: Path | None) -> Path | None:
        parts = [part for part in module.split(".") if part]
        if level:
            if current is None:
                return None
            base = current.parent
            for _ in range(level - 1):
                base = base.parent
            bases = [base]
        else:
            bases = [base for root in self.workspace.roots for base in (root, root / "src")]
        for base in bases:
            target = base.joinpath(*parts)
            if parts:
                candidates = (target.with_suffix(".py"), target / "__init__.py")
            else:
                candidates = (base / "__init__.py",)
            for candidate in candidates:
                resolved = candidate.resolve()
                inside_roots = self.workspace.root_of(resolved) is not None
                if inside_roots and candidate.is_file() and not self.workspace.private(resolved):
                    return resolved
        return None

    def outline(self, path: Path) -> str | None:
        try:
            status = path.stat()
        except OSError:
            return None
        with self._lock:
            cached = self._outlines.get(path)
            if cached is not None:
                self._outlines.move_to_end(path)
        if cached is not None and cached[:2] == (status.st_size, status.st_mtime_ns):
            return cached[2]
        text = self.workspace.read_text(path)
        outline = python_outline(text) if text is not None else None
        with self._lock:
            self._outlines[path] = (status.st_size, status.st_mtime_ns, outline)
            while len(self._outlines) > self._capacity:
                self._outlines.popitem(last=False)
        return outline

    def of(self, language_id: str, text: str, current: Path | None) -> list[Definitions]:
        """Outlines of the workspace modules ``text`` imports, in import order (private
        modules are left out: ``read_text`` does not read them)."""
        if language_id != "python" or not self.workspace.roots:
            return []
        found: list[Definitions] = []
        seen: set[Path] = set()
        for module, level in python_imports(text):
            path = self.resolve_python(module, level, current)
            if path is None or path in seen or path == current:
                continue
            seen.add(path)
            outline = self.outline(path)
            root = self.workspace.root_of(path)
            if outline and root is not None:
                found.append(Definitions(path.relative_to(root).as_posix(), outline))
        return found


def python_imports(text: str) -> list[tuple[str, int]]:
    """(module, relative level) for each import in ``text``; ``from . import x`` gives ("x", 1)
    as well as ("", 1), since x may be a module."""
    tree = parse("python", text)
    if tree is None:
        return []
    found: list[tuple[str, int]] = []
    stack: list[Any] = list(reversed(tree.root_node.children))
    while stack:
        node = stack.pop()
        if node.type == "import_statement":
            for child in node.named_children:
                name = (
                    child.child_by_field_name("name") if child.type == "aliased_import" else child
                )
                if name is not None and name.type == "dotted_name":
                    found.append((_text(name), 0))
        elif node.type == "import_from_statement":
            module = node.child_by_field_name("module_name")
            if module is None:
                continue
            if module.type == "relative_import":
                dots = next((c for c in module.children if c.type == "import_prefix"), None)
                level = len(_text(dots)) if dots is not None else 1
                named = next((c for c in module.named_children if c.type == "dotted_name"), None)
                base = _text(named) if named is not None else ""
                found.append((base, level))
                if not base:
                    for child in node.children_by_field_name("name"):
                        name = (
                            child.child_by_field_name("name")
                            if child.type == "aliased_import"
                            else child
                        )
                        if name is not None:
                            found.append((_text(name), level))
            else:
                found.append((_text(module), 0))
        elif node.type in (
            "if_statement",
            "try_statement",
            "block",
            "else_clause",
            "except_clause",
        ):
            stack.extend(reversed(node.named_children))
    return found


def _text(node: Any) -> str:
    return node.text.decode("utf-8", errors="replace")


def python_outline(text: str) -> str | None:
    """Top-level definitions with bodies elided (signature, docstring, "..."), methods inside
    classes likewise, and one-line top-level assignments."""
    tree = parse("python", text)
    if tree is None:
        return None
    source = text.encode("utf-8")
    lines: list[str] = []
    for node in tree.root_node.named_children:
        if node.type in DEFINITION_TYPES:
            lines.extend(_definition_outline(node, source, ""))
        elif node.start_point[0] == node.end_point[0] and _is_assignment(node):
            lines.append(_text(node))
    return "\n".join(lines) + "\n" if lines else None


def _is_assignment(node: Any) -> bool:
    """A top-level assignment (grammars differ on wrapping it in an expression statement)."""
    if node.type == "expression_statement" and node.named_children:
        node = node.named_children[0]
    return bool(node.type == "assignment")


def _definition_outline(node: Any, source: bytes, indent: str) -> list[str]:
    definition = node
    if node.type == "decorated_definition":
        definition = node.child_by_field_name("definition")
    body = definition.child_by_field_name("body") if definition is not None else None
    if definition is None or body is None:
        return [indent + _text(node)]
    header = source[node.start_byte : body.start_byte].decode("utf-8", errors="replace").rstrip()
    lines = [indent + header]
    inner = indent + "    "
    statements = body.named_children
    if statements and statements[0].type in ("expression_statement", "string"):
        first = statements[0]
        string = first if first.type == "string" else first.named_children[0]
        if string.type == "string":
            lines.append(inner + _text(first))
    if definition.type == "class_definition":
        methods = [child for child in statements if child.type in DEFINITION_TYPES]
        for method in methods:
            lines.extend(_definition_outline(method, source, inner))
        if not methods:
            lines.append(inner + "...")
    else:
        lines.append(inner + "...")
    return lines
