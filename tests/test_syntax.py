"""The tree-sitter syntax check: suggestions may not add syntax errors around the cursor."""

from __future__ import annotations

import asyncio

from spark_lsp.documents import DocumentStore
from spark_lsp.engine.fake import FakeEngine
from spark_lsp.syntax import error_count, has_grammar, keeps_syntax
from tests.test_pipeline import URI, service


def test_grammars_are_bundled_for_common_languages() -> None:
    for language in ("python", "javascript", "typescript", "rust", "go", "lua", "c", "cpp"):
        assert has_grammar(language), language
    assert not has_grammar("no-such-language")


def test_error_counts() -> None:
    assert error_count("python", "def f(x):\n    return x\n") == 0
    assert error_count("python", "def f(x:\n    return x\n") >= 1
    assert error_count("no-such-language", "anything") is None


def test_suggestions_that_add_errors_are_rejected() -> None:
    prefix, suffix = "def f(xs):\n    total = sum(", ")\n    return total\n"
    assert keeps_syntax("python", prefix, "xs", suffix)
    assert not keeps_syntax("python", prefix, "xs))", suffix)
    assert keeps_syntax("javascript", "const a = [1, ", "];\n", "];\n") is False
    assert keeps_syntax("no-such-language", prefix, "xs))", suffix)


def test_the_pipeline_drops_a_suggestion_that_breaks_the_syntax() -> None:
    store = DocumentStore()
    store.open(URI, "python", 1, "def f(xs):\n    total = sum(\n    return total\n")
    engine = FakeEngine(lambda request: "xs]] + [")
    completions, worker = service(engine, store)
    try:
        result = asyncio.run(completions.suggest(store.snapshot(URI), 1, 16, automatic=False))
        assert result is None
        assert engine.calls == 1
    finally:
        worker.stop()


def test_an_empty_block_start_is_recognised_in_several_grammars() -> None:
    from spark_lsp.syntax import starts_empty_block

    cases = [
        ("python", "def f(x):\n    ", "\n\nprint(1)\n", True),
        ("python", "def f(x):\n    ", "\n    return x\n", False),  # the body exists
        ("python", "def f(x):\n    ", "", True),
        ("python", "if x:\n    ", "\nelse:\n    pass\n", True),
        ("python", "for a in b:\n    # a comment\n    ", "\n", True),
        ("python", 'def f():\n    """Doc."""\n    ', "\n", True),  # only a docstring so far
        ("python", 'def f():\n    """Doc."""\n    ', "\n    return 1\n", False),
        ("python", "x = 1\n", "\n", False),
        ("python", "x = [\n    ", "\n]\n", True),
        ("python", "x = [\n    ", "\n    1]\n", False),
        ("javascript", "function f() {\n  ", "\n}\n", True),
        ("javascript", "function f() {\n  ", "\n  return 1;\n}\n", False),
        ("rust", "fn main() {\n    ", "\n}\n", True),
        ("go", "func main() {\n\t", "\n}\n", True),
        ("c", "int main() {\n    ", "\n}\n", True),
        ("no-such-language", "def f():\n    ", "\n", None),
    ]
    for language, prefix, suffix, expected in cases:
        assert starts_empty_block(language, prefix, suffix) is expected, (language, prefix)
