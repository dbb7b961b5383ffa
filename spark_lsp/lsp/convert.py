"""Conversions between lsprotocol types and the services' own types, kept in one place."""

from __future__ import annotations

from collections.abc import Sequence

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from spark_lsp import documents
from spark_lsp.actions.service import DocumentEdit
from spark_lsp.documents import DocumentSnapshot, InvalidChange, PositionEncoding


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


def to_code_points(
    snapshot: DocumentSnapshot, position: types.Position, encoding: PositionEncoding
) -> tuple[int, int]:
    """A request's position as (line, code-point column); InvalidParams when it is not one."""
    try:
        return snapshot.to_code_points(to_position(position), encoding)
    except InvalidChange as error:
        raise JsonRpcInvalidParams(f"bad position: {error}") from None


def line_range(
    snapshot: DocumentSnapshot, line: int, start: int, end: int, encoding: PositionEncoding
) -> types.Range:
    """Code-point columns [start, end) of ``line`` as an LSP range in ``encoding``."""
    return types.Range(
        start=types.Position(line=line, character=snapshot.to_units(line, start, encoding)),
        end=types.Position(line=line, character=snapshot.to_units(line, end, encoding)),
    )


def workspace_edit(edits: Sequence[DocumentEdit]) -> types.WorkspaceEdit:
    """Line edits as version-stamped text-document edits (whole lines: the encoding does not
    matter), with a CreateFile first for a document the edit creates."""
    changes: list[types.TextDocumentEdit | types.CreateFile] = []
    for edit in edits:
        if edit.create:
            options = types.CreateFileOptions(ignore_if_exists=True)
            changes.append(types.CreateFile(uri=edit.uri, options=options))
        changes.append(
            types.TextDocumentEdit(
                text_document=types.OptionalVersionedTextDocumentIdentifier(
                    uri=edit.uri, version=edit.version
                ),
                edits=[
                    types.TextEdit(
                        range=types.Range(
                            start=types.Position(line=change.first, character=0),
                            end=types.Position(line=change.last, character=0),
                        ),
                        new_text=change.text,
                    )
                    for change in edit.edits
                ],
            )
        )
    return types.WorkspaceEdit(document_changes=changes)
