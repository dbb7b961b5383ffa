"""Code-action pieces without a model: the menu, answer hygiene, minimal edits, drafting."""

from __future__ import annotations

from spark_lsp.actions import catalog, rewrite
from spark_lsp.actions.docstrings import keep_only_docstrings
from spark_lsp.documents import split_lines
from spark_lsp.engine.lookup import DraftLookup, PromptLookup

SOURCE = (
    "import os\n\n\n"
    "class Store:\n"
    "    @property\n"
    "    def size(self):\n"
    "        return len(self.items)\n\n"
    "    def add(self, item):\n"
    "        self.items.append(item)\n"
)


def test_an_empty_range_means_the_enclosing_function() -> None:
    lines = split_lines(SOURCE)
    assert catalog.target_lines("python", lines, (6, 3), (6, 3)) == (4, 7)  # decorator kept
    assert catalog.target_lines("python", lines, (9, 0), (9, 0)) == (8, 10)
    assert catalog.target_lines("python", lines, (0, 2), (0, 2)) == (0, 1)  # no function
    assert catalog.target_lines("python", lines, (8, 4), (10, 0)) == (8, 10)
    assert catalog.target_lines("no-grammar", lines, (6, 0), (6, 0)) == (6, 7)


def test_a_range_on_a_function_header_means_the_function() -> None:
    """eglot sends the bounds of the thing at point: the `def` line means its function."""
    lines = split_lines(SOURCE)
    header = lines[5]
    assert catalog.target_lines("python", lines, (5, 0), (5, len(header) - 1)) == (4, 7)
    assert catalog.target_lines("python", lines, (4, 0), (5, 0)) == (4, 7)  # the decorator line
    assert catalog.target_lines("python", lines, (6, 4), (6, 9)) == (6, 7)  # a body line stays


def test_the_menu_is_computed_without_a_model() -> None:
    lines = split_lines(SOURCE)
    menu = catalog.offers("python", lines, (9, 0), (9, 0), [(9, "'Store' has no 'items'")], False)
    assert [offer.title for offer in menu] == [
        "Fix: 'Store' has no 'items'",
        "spark-lsp: Add docstring",
        "spark-lsp: Add type hints",
        "spark-lsp: Simplify",
        "spark-lsp: Explain",
    ]
    assert (menu[0].first_line, menu[0].last_line) == (8, 10)
    with_tests = catalog.offers("python", lines, (9, 0), (9, 0), [], True)
    assert with_tests[-1].action == "unit_test"


def test_code_is_taken_from_the_answer_and_reindented() -> None:
    answer = (
        "Here you go:\n```python\ndef add(self, item: int) -> None:\n"
        "    self.items.append(item)\n```\nDone."
    )
    code = rewrite.extract_code(answer)
    assert code == "def add(self, item: int) -> None:\n    self.items.append(item)\n"
    original = "    def add(self, item):\n        self.items.append(item)\n"
    assert rewrite.reindent(code, original) == (
        "    def add(self, item: int) -> None:\n        self.items.append(item)\n"
    )
    assert rewrite.extract_code("x = 1\n") == "x = 1\n"
    assert rewrite.extract_code("Sorry, I cannot ```") is None


def test_edits_are_minimal() -> None:
    old = "def f(a):\n    x = a\n    y = 2\n    return x + y\n"
    new = "def f(a: int) -> int:\n    x = a\n    y = 2\n    return x + y\n"
    (edit,) = rewrite.minimal_edits(old, new)
    assert (edit.first, edit.last, edit.text) == (0, 1, "def f(a: int) -> int:\n")
    assert rewrite.minimal_edits(old, old) == []
    assert rewrite.kept_fraction(old, new) == 0.75


def test_prompt_lookup_drafts_what_followed_in_the_source() -> None:
    lookup = DraftLookup([1, 2, 3, 4, 5, 1, 2, 9, 9])
    assert lookup.propose([7, 1, 2], 3) == [3, 4, 5]
    assert lookup.propose([1, 2, 3, 4, 5, 1, 2], 2) == [9, 9]  # the later occurrence
    assert lookup.propose([42], 3) == []
    assert DraftLookup([]).propose([1], 3) == []


def test_a_completion_drafts_from_its_prompt_nearest_the_cursor() -> None:
    source = [1, 2, 3, 4, 5, 9, 9, 2, 3, 7, 8]
    lookup = PromptLookup(source, cursor=9)
    assert lookup.propose([2, 3], 3) == [7, 8]  # of two matches, the nearer the cursor
    assert PromptLookup(source, cursor=0).propose([2, 3], 3) == [4, 5, 9]
    assert lookup.propose([1, 2, 3], 2) == [4, 5]  # the longest n-gram first
    assert lookup.propose([6], 2) == [] and lookup.propose([0, 6], 2) == []
    assert lookup.propose([7, 8], 2) == []  # nothing follows the match


CIRCLE = "def circle_area(radius):\n    return math.pi * radius * radius\n"


def test_a_docstring_answer_that_changes_nothing_else_is_taken_whole() -> None:
    answer = 'def circle_area(radius):\n    """The area."""\n    return math.pi * radius * radius\n'
    assert keep_only_docstrings(CIRCLE, answer) == answer


def test_a_docstring_answer_that_rewrote_the_code_gives_only_its_docstrings() -> None:
    # Seen with the 0.5B model through eglot: the body came back rewritten.
    answer = 'def circle_area(radius):\n    """\n    Area.\n    """\n    return 3.14 * radius**2\n'
    kept = keep_only_docstrings(CIRCLE, answer)
    assert (
        kept == 'def circle_area(radius):\n    """\n    Area.\n    """\n' + CIRCLE.split("\n", 1)[1]
    )
    method = "    def area(self):\r\n        return self.r ** 2\r\n"
    odd = '    def area(self):\n      """Area\n      of it."""\n      return 3\n'
    kept_lines = [
        "    def area(self):",
        '        """Area',
        '        of it."""',
        "        return self.r ** 2",
    ]
    assert keep_only_docstrings(method, odd) == "\r\n".join(kept_lines) + "\r\n"
    nested = 'class A:\n    """A."""\n    def f(self):\n        """F."""\n        return 1\n'
    assert keep_only_docstrings("class A:\n    def f(self):\n        pass\n", nested) == (
        'class A:\n    """A."""\n    def f(self):\n        """F."""\n        pass\n'
    )


def test_an_answer_that_documents_nothing_new_gives_none_and_unparsable_code_passes() -> None:
    assert keep_only_docstrings(CIRCLE, "def circle_area(radius):\n    return 1\n") is None
    assert keep_only_docstrings("x = (", "y = 1\n") == "y = 1\n"
