"""Post-processing rules, one by one, and the type-through cache."""

from __future__ import annotations

from spark_lsp.completion.cache import SuggestionCache
from spark_lsp.completion.postprocess import (
    CursorContext,
    balance_brackets,
    clean,
    cut_at_existing_line,
    repeats_existing_code,
    stop_at_block_end,
    trim_suffix_overlap,
    wants_multiline,
)


def ctx(before: str, after: str = "", next_lines=(), previous: str = "") -> CursorContext:
    return CursorContext(before, after, tuple(next_lines), previous)


def test_multiline_only_on_an_empty_line_after_a_block_opener() -> None:
    assert wants_multiline(ctx("    ", previous="def f(x):"))
    assert not wants_multiline(ctx("    x = ", previous="def f(x):"))
    assert not wants_multiline(ctx("    ", previous="x = 1"))
    assert not wants_multiline(ctx("    ", after="pass", previous="def f(x):"))


def test_a_block_stops_at_the_first_dedent() -> None:
    raw = "if x:\n        return 1\n    return 2\nprint('outside')"
    assert stop_at_block_end(raw, ctx("    ")) == "if x:\n        return 1\n    return 2"


def test_overlap_with_the_text_after_the_cursor_is_removed() -> None:
    assert trim_suffix_overlap("len(x))", ctx("print(", after=")")) == "len(x)"
    assert trim_suffix_overlap('b"):', ctx('f("a', after='"):')) == "b"
    assert trim_suffix_overlap("abc", ctx("", after="xyz")) == "abc"


def test_an_unbalanced_closer_the_line_already_has_is_cut() -> None:
    assert balance_brackets("x, y) + 1", ctx("f(", after=")")) == "x, y"
    assert balance_brackets("g(x), y", ctx("f(", after=")")) == "g(x), y"


def test_a_block_is_cut_where_it_repeats_the_following_code() -> None:
    raw = "for x in xs:\n        total += x\n    return total\n"
    context = ctx("    ", next_lines=["    return total"], previous="def f(xs):")
    assert cut_at_existing_line(raw, context) == "for x in xs:\n        total += x"


def test_a_suggestion_repeating_the_next_line_is_detected() -> None:
    assert repeats_existing_code("return x", ctx("    ", next_lines=["", "    return x"]))
    assert not repeats_existing_code("return y", ctx("    ", next_lines=["    return x"]))


def test_clean_drops_empty_whitespace_and_rest_of_line_suggestions() -> None:
    assert clean("   \n", ctx("x = "), multiline=False) is None
    assert clean("foo()", ctx("x = ", after="foo()"), multiline=False) is None
    assert clean("foo()  \nbar", ctx("x = "), multiline=False) == "foo()"
    assert clean("return x\n    ", ctx("    ", next_lines=["    return x"]), False) is None


def test_type_through_serves_the_remainder_without_the_model() -> None:
    cache = SuggestionCache()
    cache.store("def f(x):\n    return ", "\n", "x * 2")
    assert cache.lookup("def f(x):\n    return ", "\n") == "x * 2"
    assert cache.lookup("def f(x):\n    return x", "\n") == " * 2"
    assert cache.lookup("def f(x):\n    return x *", "\n") == " 2"
    assert cache.lookup("def f(x):\n    return x * 2", "\n") is None  # fully typed
    assert cache.lookup("def f(x):\n    return y", "\n") is None  # diverged
    assert cache.lookup("def f(x):\n    return x", "\nother") is None  # suffix changed
    assert cache.hits == 3


def test_the_cache_is_bounded() -> None:
    cache = SuggestionCache(capacity=2)
    for index in range(3):
        cache.store(f"p{index}", "", "s")
    assert cache.lookup("p0", "") is None
    assert cache.lookup("p2", "") == "s"
