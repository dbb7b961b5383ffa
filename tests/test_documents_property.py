"""Random edit sequences through the store equal the same edits on a plain reference string."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spark_lsp.documents import (
    InvalidChange,
    Position,
    PositionEncoding,
    Range,
    TextChange,
    TextDocument,
)

PIECES = ["a", "b", "xyz", " ", "\t", "é", "中", "😀", "\U0001d518", "\n", "\r\n", "\r"]
text_strategy = st.lists(st.sampled_from(PIECES), max_size=30).map("".join)
encodings = st.sampled_from(list(PositionEncoding))


def reference_lines(text: str) -> list[tuple[int, str]]:
    """(offset of line start, line content) for each line, found independently of the store."""
    result = []
    start = 0
    for match in re.finditer(r"\r\n|\r|\n", text):
        result.append((start, text[start : match.start()]))
        start = match.end()
    result.append((start, text[start:]))
    return result


def units(char: str, encoding: PositionEncoding) -> int:
    if encoding is PositionEncoding.UTF8:
        return len(char.encode("utf-8"))
    if encoding is PositionEncoding.UTF16:
        return 2 if ord(char) > 0xFFFF else 1
    return 1


def to_units(content: str, code_points: int, encoding: PositionEncoding) -> int:
    return sum(units(c, encoding) for c in content[:code_points])


def reference_offset(text: str, line: int, column_units: int, encoding: PositionEncoding) -> int:
    start, content = reference_lines(text)[line]
    count = 0
    for index, char in enumerate(content):
        if count >= column_units:
            return start + index
        count += units(char, encoding)
    return start + len(content)  # past the end: clamped to the line's length


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_edit_sequences_match_reference(data: st.DataObject) -> None:
    initial = data.draw(text_strategy)
    encoding = data.draw(encodings)
    document = TextDocument("file:///t", "python", 0, initial)
    text = initial
    for version in range(1, data.draw(st.integers(1, 8)) + 1):
        changes = []
        for _ in range(data.draw(st.integers(1, 3))):
            if data.draw(st.integers(0, 19)) == 0:
                text = data.draw(text_strategy)
                changes.append(TextChange(text))
                continue
            lines = reference_lines(text)
            start_line = data.draw(st.integers(0, len(lines) - 1))
            end_line = data.draw(st.integers(start_line, min(len(lines) - 1, start_line + 2)))
            start_content, end_content = lines[start_line][1], lines[end_line][1]
            start_col = data.draw(st.integers(0, len(start_content)))
            low = start_col if end_line == start_line else 0
            end_col = data.draw(st.integers(low, len(end_content)))
            start = Position(start_line, to_units(start_content, start_col, encoding))
            end = Position(end_line, to_units(end_content, end_col, encoding))
            if end_col == len(end_content) and data.draw(st.integers(0, 9)) == 0:
                end = Position(end.line, end.character + 5)  # past the end: clamped
            inserted = data.draw(text_strategy)
            a = reference_offset(text, start.line, start.character, encoding)
            b = reference_offset(text, end.line, end.character, encoding)
            text = text[:a] + inserted + text[b:]
            changes.append(TextChange(inserted, Range(start, end)))
        document.apply_changes(changes, version, encoding)
        assert document.text == text
        assert document.version == version
        assert [document.line(i) for i in range(document.line_count)] == [
            content for _, content in reference_lines(text)
        ]


@settings(max_examples=500, deadline=None)
@given(st.data())
def test_invalid_change_is_never_applied_half_way(data: st.DataObject) -> None:
    initial = data.draw(text_strategy)
    encoding = data.draw(encodings)
    document = TextDocument("file:///t", "python", 3, initial)
    lines = reference_lines(initial)
    valid_line = data.draw(st.integers(0, len(lines) - 1))
    good = TextChange("inserted", Range(Position(valid_line, 0), Position(valid_line, 0)))
    bad_line = len(lines) + data.draw(st.integers(1, 5))
    bad = TextChange("x", Range(Position(bad_line, 0), Position(bad_line, 0)))
    with pytest.raises(InvalidChange):
        document.apply_changes([good, bad], 4, encoding)
    assert document.text == initial
    assert document.version == 3
    assert document.out_of_sync_reason is not None
