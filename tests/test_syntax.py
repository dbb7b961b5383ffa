"""The tree-sitter syntax check: suggestions may not add syntax errors around the cursor."""

from __future__ import annotations

import asyncio

from spark_lsp.completion.syntax import error_count, has_grammar, keeps_syntax
from spark_lsp.documents import DocumentStore
from spark_lsp.engine.fake import FakeEngine
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
