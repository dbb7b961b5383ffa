"""Conversions between lsprotocol types and the server's own types, kept in one place."""

from __future__ import annotations

from lsprotocol import types

from spark_lsp import documents


def position_encoding(kind: types.PositionEncodingKind | str) -> documents.PositionEncoding:
    return documents.PositionEncoding(str(kind.value if hasattr(kind, "value") else kind))


def to_position(position: types.Position) -> documents.Position:
    return documents.Position(position.line, position.character)


def to_range(lsp_range: types.Range) -> documents.Range:
    return documents.Range(to_position(lsp_range.start), to_position(lsp_range.end))


def to_text_change(change: types.TextDocumentContentChangeEvent) -> documents.TextChange:
    if isinstance(change, types.TextDocumentContentChangePartial):
        return documents.TextChange(change.text, to_range(change.range))
    return documents.TextChange(change.text)
