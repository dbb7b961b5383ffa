"""Document sync end to end: pytest-lsp's client drives the real server process over stdio."""

from __future__ import annotations

import random
import sys

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from spark_lsp.documents import PositionEncoding, code_points_to_units, split_lines

SERVER = [sys.executable, "-m", "spark_lsp", "--no-preload"]


def capabilities(encodings: list[str]) -> types.ClientCapabilities:
    return types.ClientCapabilities(
        general=types.GeneralClientCapabilities(position_encodings=encodings)
    )


async def start(client: LanguageClient, encodings: list[str]) -> types.InitializeResult:
    return await client.initialize_session(
        types.InitializeParams(capabilities=capabilities(encodings))
    )


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER))
async def client(lsp_client: LanguageClient):
    yield
    await lsp_client.shutdown_session()


async def server_text(client: LanguageClient, uri: str) -> dict:
    state = await client.protocol.send_request_async("spark/debug/document", {"uri": uri})
    return state._asdict() if hasattr(state, "_asdict") else state


def change(line: int, a: int, b: int, text: str, end_line: int | None = None):
    return types.TextDocumentContentChangePartial(
        range=types.Range(
            types.Position(line, a), types.Position(line if end_line is None else end_line, b)
        ),
        text=text,
    )


@pytest.mark.parametrize(
    ("encodings", "column_after_emoji"),
    [(["utf-16"], 8), (["utf-8", "utf-16"], 10), (["utf-32"], 7)],
)
async def test_edits_after_astral_characters_land_in_the_right_place(
    client: LanguageClient, encodings: list[str], column_after_emoji: int
) -> None:
    result = await start(client, encodings)
    uri = "file:///astral.py"
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text="s = '😀'\r\nnext\r\n"
            )
        )
    )
    # Insert right after the closing quote that follows the emoji.
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(version=2, uri=uri),
            content_changes=[change(0, column_after_emoji, column_after_emoji, " + 'x'")],
        )
    )
    state = await server_text(client, uri)
    assert result.capabilities.position_encoding == encodings[0]
    assert state["text"] == "s = '😀' + 'x'\r\nnext\r\n"
    assert state["version"] == 2


async def test_out_of_range_change_is_reported_and_recovered(client: LanguageClient) -> None:
    await start(client, ["utf-16"])
    uri = "file:///r.py"
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text="a\nb\n"
            )
        )
    )
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(version=2, uri=uri),
            content_changes=[change(0, 0, 0, "ok"), change(7, 0, 0, "bad")],
        )
    )
    state = await server_text(client, uri)
    assert state["inSync"] is False
    assert state["text"] == "a\nb\n"  # the valid first change was rolled back too
    assert "line 7 is out of range" in state["outOfSyncReason"]
    assert any("out of sync" in m.message for m in client.log_messages)
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(version=3, uri=uri),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text="fresh")],
        )
    )
    state = await server_text(client, uri)
    assert (state["inSync"], state["text"], state["version"]) == (True, "fresh", 3)


async def test_random_typing_session_stays_in_sync(client: LanguageClient) -> None:
    await start(client, ["utf-16"])
    uri = "file:///typing.py"
    text = "def f(x):\n    return x  # é 😀\n"
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text=text
            )
        )
    )
    rng = random.Random(3)
    for version in range(2, 302):
        lines = split_lines(text)
        line = rng.randrange(len(lines))
        content = lines[line].rstrip("\r\n")
        column = rng.randint(0, len(content))
        units = code_points_to_units(content, column, PositionEncoding.UTF16)
        typed = rng.choice(["a", "(", "\n", "😀", "é", ""])
        end = units
        if typed == "" and column < len(content):
            end = code_points_to_units(content, column + 1, PositionEncoding.UTF16)
        offset = sum(len(entry) for entry in lines[:line]) + column
        removed = column + 1 if end != units else column
        text = text[:offset] + typed + text[offset + (removed - column) :]
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(version=version, uri=uri),
                content_changes=[change(line, units, end, typed)],
            )
        )
    state = await server_text(client, uri)
    assert state["version"] == 301
    assert state["text"] == text


async def test_close_then_request_is_a_clear_error(client: LanguageClient) -> None:
    await start(client, ["utf-16"])
    uri = "file:///c.py"
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text="x")
        )
    )
    client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    with pytest.raises(Exception, match="is not open"):
        await server_text(client, uri)
