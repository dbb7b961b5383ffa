"""Piecewise tokenization: the same tokens as tokenizing whole, with only changed lines redone."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from spark_lsp import models
from spark_lsp.engine.line_tokens import PieceTokenizer, pieces
from spark_lsp.engine.vocabulary import LlamaVocabulary

STDLIB = Path(random.__file__).parent


def test_text_is_cut_only_before_lines_with_more_than_whitespace() -> None:
    assert pieces("a\n    b\nc") == ["a\n", "    b\n", "c"]
    assert pieces("a\n  \n\n  b\n") == ["a\n  \n\n", "  b\n"]  # blank lines join the line above
    assert pieces("x = 1\r\ny") == ["x = 1\r\n", "y"]
    assert pieces("") == [] and pieces("no break") == ["no break"]
    assert "".join(pieces("a\n\x0cb\n \n")) == "a\n\x0cb\n \n"


@pytest.mark.model
def test_piecewise_tokens_are_the_whole_texts_tokens_on_real_code() -> None:
    vocabulary = LlamaVocabulary(models.resolve())
    tokenizer = PieceTokenizer(vocabulary.tokenize)
    files = sorted(STDLIB.glob("*.py"), key=lambda path: path.stat().st_size)[-40:]
    texts = [path.read_text(encoding="utf-8", errors="replace") for path in files]
    assert tokenizer.verify(texts)
    text = texts[0]
    whole = vocabulary.tokenize(text)
    assert tokenizer.tokenize(text) == whole
    # An edit in the middle: the cached pieces around it, the edited line anew.
    middle = len(text) // 2
    edited = text[:middle] + "value = compute(x)  # typed" + text[middle:]
    assert tokenizer.tokenize(edited) == vocabulary.tokenize(edited)


def test_a_tokenizer_that_merges_across_lines_is_not_used_piecewise() -> None:
    def merging(text: str) -> list[int]:  # one token per pair of characters, across lines too
        return [hash(text[i : i + 2]) for i in range(0, len(text), 2)]

    tokenizer = PieceTokenizer(merging)
    assert not tokenizer.verify(["ab\ncd\ne"])
    assert tokenizer.tokenize("ab\ncd\ne") == merging("ab\ncd\ne")


def test_a_verdict_from_another_thread_is_adopted_by_the_owner_at_its_next_call() -> None:
    calls: list[str] = []

    def tokenize(text: str) -> list[int]:
        calls.append(text)
        return [ord(character) for character in text]

    tokenizer = PieceTokenizer(tokenize)
    assert tokenizer.verify(["ab\ncd\n"])
    assert not tokenizer.enabled  # nothing switched under a tokenization in progress
    calls.clear()
    tokenizer.tokenize("ab\ncd\n")
    assert tokenizer.enabled and calls == ["ab\n", "cd\n"]  # in pieces from this call on
