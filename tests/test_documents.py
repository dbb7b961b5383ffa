"""Unit tests of the document store's edge cases."""

from __future__ import annotations

import logging

import pytest

from spark_lsp.documents import (
    DocumentOutOfSync,
    DocumentStore,
    InvalidChange,
    Position,
    PositionEncoding,
    Range,
    TextChange,
    TextDocument,
    UnknownDocument,
    code_points_to_units,
    split_lines,
    units_to_code_points,
)

U8, U16, U32 = PositionEncoding.UTF8, PositionEncoding.UTF16, PositionEncoding.UTF32


def insert(line: int, character: int, text: str) -> TextChange:
    here = Position(line, character)
    return TextChange(text, Range(here, here))


def replace(a: tuple[int, int], b: tuple[int, int], text: str) -> TextChange:
    return TextChange(text, Range(Position(*a), Position(*b)))


def test_split_lines_keeps_every_kind_of_break_and_a_final_remainder() -> None:
    assert split_lines("") == [""]
    assert split_lines("a\r\nb\rc\nd") == ["a\r\n", "b\r", "c\n", "d"]
    assert split_lines("a\n") == ["a\n", ""]
    assert split_lines("a\x0bb\u2028c") == ["a\x0bb\u2028c"]  # only \r\n, \r and \n break lines


@pytest.mark.parametrize(
    ("encoding", "units", "expected"),
    [(U16, 0, 0), (U16, 1, 1), (U16, 3, 2), (U16, 4, 3), (U8, 1, 1), (U8, 5, 2), (U32, 2, 2)],
)
def test_units_to_code_points_on_astral_text(
    encoding: PositionEncoding, units: int, expected: int
) -> None:
    content = "a😀b"  # 😀 is 2 UTF-16 units and 4 UTF-8 bytes
    assert units_to_code_points(content, units, encoding) == expected
    assert code_points_to_units(content, expected, encoding) == units


@pytest.mark.parametrize(("encoding", "units"), [(U16, 2), (U8, 2), (U8, 4)])
def test_a_column_inside_a_character_is_rejected(encoding: PositionEncoding, units: int) -> None:
    with pytest.raises(InvalidChange, match="inside a character"):
        units_to_code_points("a😀b", units, encoding)


def test_a_column_past_the_end_is_clamped_as_the_spec_says() -> None:
    assert units_to_code_points("abc", 10, U16) == 3
    assert units_to_code_points("é", 10, U8) == 1


def test_inserting_a_newline_after_a_lone_cr_makes_one_crlf_break() -> None:
    document = TextDocument("u", "text", 0, "a\rb")
    document.apply_changes([insert(1, 0, "\n")], 1, U16)
    assert document.text == "a\r\nb"
    assert document.line_count == 2
    assert document.line(1) == "b"


def test_deleting_between_cr_and_lf_lines_joins_them() -> None:
    document = TextDocument("u", "text", 0, "a\rX\nb")
    document.apply_changes([replace((1, 0), (1, 1), "")], 1, U16)
    assert document.text == "a\r\nb"
    assert [document.line(i) for i in range(document.line_count)] == ["a", "b"]


def test_edits_at_the_very_end_and_on_empty_documents() -> None:
    document = TextDocument("u", "text", 0, "")
    assert document.line_count == 1
    document.apply_changes([insert(0, 0, "x\n")], 1, U16)
    document.apply_changes([insert(1, 0, "y")], 2, U16)
    assert document.text == "x\ny"
    document.apply_changes([insert(2, 0, "!")], 3, U16)  # (line_count, 0) is the end
    assert document.text == "x\ny!"
    document.apply_changes([replace((0, 0), (1, 2), "")], 4, U16)
    assert document.text == ""


def test_a_reversed_range_is_rejected_and_nothing_changes() -> None:
    document = TextDocument("u", "text", 0, "hello")
    with pytest.raises(InvalidChange, match="before its start"):
        document.apply_changes([replace((0, 3), (0, 1), "")], 1, U16)
    assert document.text == "hello"


def test_store_reports_out_of_sync_once_and_recovers_with_a_full_change(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = DocumentStore()
    store.open("u", "python", 1, "line\n")
    with caplog.at_level(logging.WARNING), pytest.raises(InvalidChange) as first:
        store.change("u", 2, [insert(9, 0, "x")], U16)
    assert first.value.newly_out_of_sync
    with pytest.raises(DocumentOutOfSync, match="reopen it or send a full-text change"):
        store.snapshot("u")
    # Later incremental changes are skipped silently; the state stays out of sync.
    store.change("u", 3, [insert(0, 0, "y")], U16)
    assert len([r for r in caplog.records if "out of sync" in r.message]) == 1
    store.change("u", 4, [TextChange("fresh\n"), insert(1, 0, "more")], U16)
    snapshot = store.snapshot("u")
    assert snapshot.text == "fresh\nmore"
    assert snapshot.version == 4


def test_reopening_an_out_of_sync_document_brings_it_back() -> None:
    store = DocumentStore()
    store.open("u", "python", 1, "a")
    store.mark_out_of_sync("u", "test")
    store.open("u", "python", 5, "b")
    assert store.snapshot("u").text == "b"


def test_unknown_documents_raise() -> None:
    store = DocumentStore()
    with pytest.raises(UnknownDocument):
        store.snapshot("file:///nope")
    with pytest.raises(UnknownDocument):
        store.close("file:///nope")
    assert not store.mark_out_of_sync("file:///nope", "x")


def test_snapshot_is_immutable_while_the_document_changes() -> None:
    store = DocumentStore()
    store.open("u", "python", 1, "abc\ndef")
    snapshot = store.snapshot("u")
    store.change("u", 2, [insert(0, 0, "zz")], U16)
    assert snapshot.text == "abc\ndef"
    assert snapshot.offset_at(1, 2) == 6
    assert store.snapshot("u").text == "zzabc\ndef"
