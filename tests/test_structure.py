"""The package's layout rules, read from the source with ``ast`` (nothing is imported):

- no import cycles between the package's modules (imports inside functions and under
  ``TYPE_CHECKING`` count too);
- no runtime module imports ``spark_lsp.bench`` (only the ``bench`` command loads benchmarks,
  by name);
- no function is longer than 60 lines unless a comment inside it starts with ``# Long:`` and
  says why;
- the in-process engine's modules (``engine/llama/``) and the completion service's
  (``completion/``) stay under 300 lines each; the engine imports nothing above it.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "spark_lsp"
MAX_FUNCTION_LINES = 60


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imported_modules(path: Path) -> set[str]:
    """The package's modules that ``path`` imports (``from a import b`` is module a.b when that
    is a module, else a)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [
                f"{node.module}.{alias.name}"
                if f"{node.module}.{alias.name}" in MODULES
                else node.module
                for alias in node.names
            ]
        else:
            continue
        found.update(name for name in names if name in MODULES)
    return found


def import_graph() -> dict[str, set[str]]:
    return {name: imported_modules(path) - {name} for name, path in MODULES.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_package_has_no_import_cycles() -> None:
    assert cycles(import_graph()) == []


def test_the_cycle_finder_finds_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_no_runtime_module_imports_the_benchmarks() -> None:
    offenders = {
        name: sorted(target for target in targets if target.startswith("spark_lsp.bench"))
        for name, targets in import_graph().items()
        if not name.startswith("spark_lsp.bench")
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def long_functions(path: Path) -> list[str]:
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        assert node.end_lineno is not None
        length = node.end_lineno - node.lineno + 1
        body = lines[node.lineno - 1 : node.end_lineno]
        explained = any(line.strip().startswith("# Long:") for line in body)
        if length > MAX_FUNCTION_LINES and not explained:
            found.append(f"{module_name(path)}.{node.name}: {length} lines")
    return found


def test_no_function_is_long_without_a_reason() -> None:
    assert [entry for path in MODULES.values() for entry in long_functions(path)] == []


def test_the_engine_package_is_split_into_small_modules() -> None:
    engine = PACKAGE / "engine" / "llama"
    sizes = {
        path.name: len(path.read_text(encoding="utf-8").splitlines())
        for path in engine.glob("*.py")
    }
    assert {"engine.py", "run.py", "runtime.py", "sequences.py", "decoding.py"} <= set(sizes)
    assert max(sizes.values()) <= 300, sizes


def test_the_completion_package_is_split_by_job() -> None:
    completion = PACKAGE / "completion"
    sizes = {
        path.name: len(path.read_text(encoding="utf-8").splitlines())
        for path in completion.glob("*.py")
    }
    assert {"service.py", "model_call.py", "idle.py", "state.py", "trace.py"} <= set(sizes)
    assert max(sizes.values()) <= 300, sizes


def test_the_engine_serves_and_never_reaches_up_into_product_policy() -> None:
    """Engines decode what they are asked within the limits they are given; completion,
    context and actions decide (their modules import the engine, never the reverse)."""
    graph = import_graph()
    above = ("spark_lsp.completion", "spark_lsp.context", "spark_lsp.actions", "spark_lsp.lsp")
    reaching_up = {
        name: sorted(target for target in imports if target.startswith(above))
        for name, imports in graph.items()
        if name.startswith("spark_lsp.engine")
    }
    assert {name: found for name, found in reaching_up.items() if found} == {}
