""" "Add docstring" must change nothing else: a small model often rewrites the body it documents
(seen: `math.pi * radius * radius` became `3.14159 * radius ** 2`). For Python, the answer's
code is compared with the original's with every docstring removed; when they differ, only the
answer's new docstrings are taken, each inserted into the original at its own definition.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Iterator

from spark_lsp.documents import line_content, split_lines

Documented = ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


def _parse(code: str) -> ast.Module | None:
    try:
        return ast.parse(textwrap.dedent(code))
    except (SyntaxError, ValueError):
        return None


def _docstring_node(node: Documented) -> ast.Expr | None:
    first = node.body[0] if node.body else None
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        return first
    return None


def _definitions(tree: ast.Module) -> Iterator[tuple[tuple[str, ...], Documented]]:
    """Every definition that can hold a docstring, by its path of names (the module: ())."""

    def walk(
        node: Documented, path: tuple[str, ...]
    ) -> Iterator[tuple[tuple[str, ...], Documented]]:
        yield path, node
        for child in node.body:
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                yield from walk(child, (*path, child.name))

    yield from walk(tree, ())


def _without_docstrings(tree: ast.Module) -> str:
    for _, node in _definitions(tree):
        if _docstring_node(node) is not None:
            node.body = node.body[1:] or [ast.Pass()]
    return ast.dump(tree)


def _indentation(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _reindented(lines: list[str], have: str, want: str, ending: str) -> list[str]:
    out = []
    for line in lines:
        content = line_content(line)
        if content.startswith(have):
            content = want + content[len(have) :]
        out.append(content + ending)
    return out


def keep_only_docstrings(original: str, answer: str) -> str | None:
    """The answer when it only added docstrings; else the original with the answer's new
    docstrings inserted; None when the answer documents nothing the original lacks. An answer
    or original that does not parse as Python is returned as the answer (other checks apply)."""
    before, after = _parse(original), _parse(answer)
    if before is None or after is None:
        return answer
    if _without_docstrings(before) == _without_docstrings(after):
        return answer
    before, after = _parse(original), _parse(answer)  # unstripped again
    assert before is not None and after is not None
    old_lines, new_lines = split_lines(original), split_lines(answer)
    ending = next(
        (line[len(line_content(line)) :] for line in old_lines if line != line_content(line)), "\n"
    )
    targets = dict(_definitions(before))
    insertions: list[tuple[int, list[str]]] = []
    for path, node in _definitions(after):
        docstring, target = _docstring_node(node), targets.get(path)
        if not path or docstring is None or target is None or docstring.end_lineno is None:
            continue  # the snippet's own "module" docstring is not the model's to add
        if _docstring_node(target) is not None or docstring.lineno == node.lineno:
            continue
        at = target.body[0].lineno - 1  # before the original's first statement
        piece = new_lines[docstring.lineno - 1 : docstring.end_lineno]
        want = _indentation(old_lines[at])
        have = _indentation(new_lines[docstring.lineno - 1])
        insertions.append((at, _reindented(piece, have, want, ending)))
    if not insertions:
        return None
    result = list(old_lines)
    for at, piece in sorted(insertions, key=lambda item: item[0], reverse=True):
        result[at:at] = piece
    return "".join(result)
