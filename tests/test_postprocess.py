"""Post-processing rules, one by one, and the type-through cache."""

from __future__ import annotations

from spark_lsp.completion.cache import SuggestionCache
from spark_lsp.completion.postprocess import (
    RULE_NAMES,
    CursorContext,
    balance_brackets,
    clean,
    copies_previous_line,
    cut_at_existing_line,
    cut_repeated_lines,
    is_repetitive,
    reindent_to_cursor,
    repeats_existing_code,
    skip_leading_blank_lines,
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
    # Without a grammar, indentation tells whether the block already has a body.
    assert not wants_multiline(ctx("    ", next_lines=["", "    return x"], previous="def f(x):"))
    assert wants_multiline(ctx("    ", next_lines=["", "print(1)"], previous="def f(x):"))


def test_the_syntax_tree_overrides_the_indentation_guess() -> None:
    assert not wants_multiline(ctx("    ", previous="def f(x):"), empty_block=False)
    assert wants_multiline(ctx("    ", previous="x = 1"), empty_block=True)
    assert not wants_multiline(ctx("    x", previous="def f(x):"), empty_block=True)


def test_leading_blank_lines_are_skipped_on_a_blank_line_only() -> None:
    assert skip_leading_blank_lines("\n    return x", ctx("")) == "    return x"
    assert skip_leading_blank_lines("\n  \n    return x", ctx("    ")) == "return x"
    assert skip_leading_blank_lines("\nreturn x", ctx("x = ")) == "\nreturn x"
    assert clean("\n    return x\n", ctx(""), multiline=False) == "    return x"


def test_a_line_written_at_another_indentation_moves_to_the_cursors() -> None:
    after_indent = ctx("    ", previous="for x in xs:")
    assert reindent_to_cursor("\n  y = x", after_indent) == "\n    y = x"
    assert reindent_to_cursor("\n\ty = x\n\tz = y", after_indent) == "\n    y = x\n    z = y"
    assert reindent_to_cursor("\n        y = x", after_indent) == "\n        y = x"  # deeper
    assert reindent_to_cursor("y = x", after_indent) == "y = x"  # written at the cursor
    assert reindent_to_cursor("\ny = x", ctx("", previous="x = 1")) == "\ny = x"  # column 0
    assert clean("\n  y = x", after_indent, multiline=False) == "y = x"


def test_repeated_lines_and_repetitive_output() -> None:
    raw = "x += 1\n    y = 2\n    y = 2\n    y = 2\n    y = 2"
    assert cut_repeated_lines(raw, ctx("    ")) == "x += 1\n    y = 2"
    assert is_repetitive("foo.bar.foo.bar.foo.bar.foo.bar.", ctx(""))
    assert not is_repetitive("                return True", ctx(""))  # indentation
    assert not is_repetitive("x = [0, 0, 0, 0, 0]", ctx(""))


def test_each_rule_can_be_switched_off_by_name() -> None:
    assert clean("foo()  ", ctx("x = "), False, frozenset({"strip_trailing_whitespace"})) == (
        "foo()  "
    )
    assert clean("   ", ctx("x = ", after=" y"), False, frozenset({"drop_blank"})) == ""
    assert set(RULE_NAMES) >= {"drop_blank", "stop_at_block_end", "balance_brackets"}


def test_a_block_stops_at_the_first_dedent() -> None:
    raw = "if x:\n        return 1\n    return 2\nprint('outside')"
    assert stop_at_block_end(raw, ctx("    ")) == "if x:\n        return 1\n    return 2"
    # At column 0 the first line's own indentation sets the block's depth.
    raw = "            return True\n    return False\n\n\ndef check():"
    assert stop_at_block_end(raw, ctx("")) == "            return True"


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


def test_a_suggestion_that_copies_the_line_above_is_dropped_closers_excepted() -> None:
    header = "def parse(text: str) -> Tree:"
    assert copies_previous_line(header, ctx("", previous=header))
    assert copies_previous_line("parse(text: str) -> Tree:", ctx("def ", previous=header))
    assert clean("\n" + header, ctx("", previous=header), False) is None
    assert not copies_previous_line("return tree", ctx("    ", previous=header))
    assert not copies_previous_line("}", ctx("  ", previous="    }"))  # nested blocks end
    assert clean("}", ctx("  ", previous="    }"), False) == "}"


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
