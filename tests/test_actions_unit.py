"""Code-action pieces without a model: the menu, answer hygiene, minimal edits, drafting."""

from __future__ import annotations

from spark_lsp.actions import catalog, rewrite
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
