"""The prompt's boundary (a blank line's prompt ends at the last non-blank character) and token
healing's vocabulary search: fast logic tests; the real model's side is in test_llama_engine."""

from __future__ import annotations

import numpy as np

from spark_lsp.completion.cursor import (
    at_cursor,
    cursor_state,
    finish,
    line_break_lead,
    natural_boundary,
    open_block_placeholder,
)
from spark_lsp.completion.postprocess import CursorContext
from spark_lsp.completion.settings import CompletionSettings
from spark_lsp.context.window import CursorWindow
from spark_lsp.documents import split_lines
from spark_lsp.engine.healing import HealingVocabulary, spelled

TEXT = "def f(xs):\n    out = []\n\n    return out\n"


def state_at(column: int, typed: str = "") -> object:
    lines = split_lines(TEXT)
    lines[2] = typed + "\n"
    return cursor_state(lines, 2, column, language_id="python")


def test_a_blank_line_prompt_ends_after_the_last_non_blank_character() -> None:
    at_start = state_at(0)
    assert at_start.window.prefix.endswith("out = []")
    assert at_start.boundary == "\n"
    indented = state_at(4, "    ")
    assert indented.window.prefix.endswith("out = []")
    assert indented.boundary == "\n    "
    assert indented.key.prefix.endswith("out = []\n    ")  # the cache keys on the real text


def test_an_answer_from_the_boundary_must_start_with_the_line_break() -> None:
    assert line_break_lead("\n    ") == "\n"
    assert line_break_lead("  \n") == "\n"  # spaces ending the line above are not written
    assert line_break_lead("") == ""
    assert line_break_lead("\r\n") == ""  # models write "\n": unconstrained, at_cursor maps it
    assert state_at(4, "    ").request(CompletionSettings(), "k", "").lead == "\n"
    lines = split_lines(TEXT)
    typed = cursor_state(lines, 1, 8, language_id="python")  # inside "out = []"
    assert typed.request(CompletionSettings(), "k", "").lead == ""


def test_the_boundary_only_moves_on_blank_lines() -> None:
    window = CursorWindow("x = (\n    a", ")\n", 0, 2)
    context = CursorContext(line_before="    a", line_after=")", next_lines=())
    assert natural_boundary(window, context) == (window, "")
    first_line = CursorWindow("", "\n", 0, 1)
    blank = CursorContext(line_before="", line_after="", next_lines=())
    assert natural_boundary(first_line, blank) == (first_line, "")  # nothing to back up to


def test_answers_from_the_boundary_become_text_at_the_cursor() -> None:
    at_start, indented = state_at(0), state_at(4, "    ")
    assert finish("\n    out.append(1)", at_start, "python", False) == "    out.append(1)"
    assert finish("\n\n    out.append(1)", indented, "python", False) == "out.append(1)"
    # deeper than the cursor: the rest of the indentation is added
    assert finish("\n        out.sort()", indented, "python", False) == "    out.sort()"
    # an answer that goes on with the line above is not for this line
    assert finish(" + [1]", at_start, "python", False) is None
    assert at_cursor("\r\n  x", "\n") == "\n  x"
    assert at_cursor("anything", "") == "anything"


class ToyVocabulary:
    pieces = (b"pri", b"print", b"p", b"r", b"int", b"]", b"]\n", b"])", b"x", b"", b"<s>")

    def token_bytes(self, token: int) -> bytes:
        return self.pieces[token]

    def is_normal(self, token: int) -> bool:
        return self.pieces[token] != b"<s>"


def test_healing_allows_tokens_that_spell_or_cover_the_removed_bytes() -> None:
    toy = ToyVocabulary()
    vocabulary = HealingVocabulary(len(toy.pieces), toy.token_bytes, toy.is_normal)
    allowed = {toy.pieces[t] for t in vocabulary.allowed(b"pri").tolist()}
    assert allowed == {b"p", b"pri", b"print"}  # a prefix of it, or starting with all of it
    assert {toy.pieces[t] for t in vocabulary.allowed(b"]").tolist()} == {b"]", b"]\n", b"])"}
    assert vocabulary.allowed(b"zz").dtype == np.int64 and len(vocabulary.allowed(b"zz")) == 0
    assert spelled(b"print", b"pri") == (b"nt", b"")
    assert spelled(b"p", b"pri") == (b"", b"ri")


def test_a_one_line_answer_that_opens_a_block_is_checked_with_its_body_to_come() -> None:
    """``for (...) {`` alone does not parse; the user is about to write the body (a JavaScript
    blank line's most natural answer was dropped as a syntax error)."""
    lines = split_lines("function f(xs) {\n  const out = [];\n  \n  return out;\n}\n")
    state = cursor_state(lines, 2, 2, language_id="javascript")
    assert finish("\n  for (const x of xs) {", state) == "for (const x of xs) {"
    assert finish("\n  for (const x of xs", state) is None  # a real syntax error
    assert open_block_placeholder("python", "    out = []\n    ", "if xs:") == "\n        pass"
    assert open_block_placeholder("python", "", "x = 1") == ""
