"""Inline completion over stdio with the real model: pytest-lsp and raw JSON-RPC clients."""

from __future__ import annotations

import os
import sys
import tempfile

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from tests.raw_client import RawClient

pytestmark = pytest.mark.model

SERVER = [sys.executable, "-m", "spark_lsp"]
DOC = 'def add(a, b):\n    """Return the sum of a and b."""\n    total = \n    return total\n'
URI = "file:///add.py"
# Tests check behaviour, not speed: no time limit on generation (a loaded machine would cut it).
NO_TIME_LIMIT = {"completion": {"predictTimeBudgetMs": 0}}


def capabilities(encodings: list[str]) -> types.ClientCapabilities:
    return types.ClientCapabilities(
        general=types.GeneralClientCapabilities(position_encodings=encodings),
        text_document=types.TextDocumentClientCapabilities(
            inline_completion=types.InlineCompletionClientCapabilities()
        ),
    )


@pytest_lsp.fixture(
    config=ClientServerConfig(
        server_command=SERVER,
        server_env={**os.environ, "SPARK_LSP_STATE_DIR": tempfile.mkdtemp(prefix="spark-stats-")},
    )
)
async def client(lsp_client: LanguageClient):
    yield
    await lsp_client.shutdown_session()


def open_document(client: LanguageClient, text: str, uri: str = URI) -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text=text
            )
        )
    )


def insert(client: LanguageClient, version: int, line: int, character: int, text: str) -> None:
    here = types.Position(line=line, character=character)
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=URI, version=version),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(start=here, end=here), text=text
                )
            ],
        )
    )


async def inline(
    client: LanguageClient, line: int, character: int, selected=None, uri: str = URI
) -> types.InlineCompletionList:
    return await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=character),
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Invoked,
                selected_completion_info=selected,
            ),
        )
    )


async def counters(client: LanguageClient):
    return await client.protocol.send_request_async("spark/debug/counters", {})


async def test_a_suggestion_and_type_through_without_a_model_call(client: LanguageClient) -> None:
    await client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities(["utf-16"]), initialization_options=NO_TIME_LIMIT
        )
    )
    open_document(client, DOC)
    result = await inline(client, 2, 12)
    # Invoked: the best suggestion, then up to two distinct alternatives for the same range.
    assert 1 <= len(result.items) <= 3
    texts = [other.insert_text for other in result.items]
    assert len(set(texts)) == len(texts)
    assert all(other.range == result.items[0].range for other in result.items)
    assert len({tuple(other.command.arguments) for other in result.items}) == len(texts)
    item = result.items[0]
    assert item.insert_text == "a + b"
    assert item.range == types.Range(
        start=types.Position(line=2, character=12), end=types.Position(line=2, character=12)
    )
    assert item.command.command == "spark-lsp.didAcceptCompletionItem"
    before = await counters(client)
    insert(client, 2, 2, 12, "a")
    typed = await inline(client, 2, 13)
    assert typed.items[0].insert_text == " + b"
    after = await counters(client)
    assert after.engineRequests == before.engineRequests  # served from the cache
    assert after.cacheHits == before.cacheHits + 1
    client.protocol.notify(
        "textDocument/didShowCompletion",
        {
            "item": {
                "insertText": item.insert_text,
                "command": {
                    "title": "",
                    "command": item.command.command,
                    "arguments": list(item.command.arguments),
                },
            }
        },
    )
    await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=item.command.command, arguments=item.command.arguments)
    )
    assert (await counters(client)).acceptedItems == 1
    stats = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="spark-lsp.showStatistics")
    )
    assert (stats["shown"], stats["accepted"], stats["characters_accepted"]) == (1, 1, 5)
    assert stats["suggested"] >= 1 and stats["latency_ms_p50"] > 0


async def test_selected_completion_info_is_extended(client: LanguageClient) -> None:
    await client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities(["utf-16"]), initialization_options=NO_TIME_LIMIT
        )
    )
    text = "import os\n\n\ndef here():\n    return os.pa\n"
    open_document(client, text)
    selected = types.SelectedCompletionInfo(
        range=types.Range(
            start=types.Position(line=4, character=14), end=types.Position(line=4, character=16)
        ),
        text="path",
    )
    result = await inline(client, 4, 16, selected)
    assert result.items, "expected a suggestion"
    item = result.items[0]
    assert item.insert_text.startswith("path")
    assert item.range.start == types.Position(line=4, character=14)


@pytest.mark.parametrize(("encoding", "column"), [("utf-16", 22), ("utf-8", 24)])
async def test_positions_after_astral_characters(
    client: LanguageClient, encoding: str, column: int
) -> None:
    result = await client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities([encoding]), initialization_options=NO_TIME_LIMIT
        )
    )
    assert result.capabilities.position_encoding == encoding
    text = (
        'def add(a, b):\n    """Return 😀 a plus b."""\n    s = "😀"; total = \n    return total\n'
    )
    open_document(client, text)
    result = await inline(client, 2, column)
    assert result.items
    assert result.items[0].range.start == types.Position(line=2, character=column)


async def test_a_bad_position_is_invalid_params(client: LanguageClient) -> None:
    await client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities(["utf-16"]), initialization_options=NO_TIME_LIMIT
        )
    )
    open_document(client, DOC)
    with pytest.raises(Exception, match="bad position"):
        await inline(client, 40, 0)


def test_superseded_and_cancelled_requests_never_return_stale_suggestions() -> None:
    raw = RawClient()
    try:
        raw.initialize({"textDocument": {"inlineCompletion": {}}}, NO_TIME_LIMIT)
        long_prefix = "".join(f"value_{i} = {i} * 2\n" for i in range(100))
        raw.notify(
            "textDocument/didOpen",
            {
                "textDocument": {
                    "uri": URI,
                    "languageId": "python",
                    "version": 1,
                    "text": long_prefix + DOC,
                }
            },
        )
        line = long_prefix.count("\n") + 2

        def request(msg_id: int, character: int, line: int = line) -> None:
            raw.send(
                {
                    "jsonrpc": "2.0",
                    "id": msg_id,
                    "method": "textDocument/inlineCompletion",
                    "params": {
                        "textDocument": {"uri": URI},
                        "position": {"line": line, "character": character},
                        "context": {"triggerKind": 1},
                    },
                }
            )

        request(101, 12)  # a cold prompt of a thousand tokens: seconds of work
        request(102, 12)  # the same document again: supersedes 101
        first = raw.wait_for(lambda m: m.get("id") == 101, timeout=300)
        second = raw.wait_for(lambda m: m.get("id") == 102, timeout=300)
        assert first["result"]["items"] == []
        assert second["result"]["items"][0]["insertText"] == "a + b"
        raw.notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": URI, "version": 2},
                "contentChanges": [{"text": "x" * 5 + "\n" + long_prefix + DOC}],
            },
        )
        request(103, 12)
        raw.notify("$/cancelRequest", {"id": 103})
        cancelled = raw.wait_for(lambda m: m.get("id") == 103, timeout=300)
        assert (
            cancelled.get("error", {}).get("code") == -32800 or cancelled["result"]["items"] == []
        )
        # The engine keeps serving after a cancellation (it once lost its worker thread here).
        request(104, 12, line + 1)  # version 2 has one more line above
        after = raw.wait_for(lambda m: m.get("id") == 104, timeout=300)
        assert after["result"]["items"][0]["insertText"] == "a + b"
        assert raw.request("shutdown")["result"] is None
    finally:
        raw.close()


def test_completion_fallback_follows_the_client_options() -> None:
    raw = RawClient()
    try:
        raw.initialize(
            options={
                "completion": {
                    "fallbackSort": "first",
                    "automatic": False,
                    "predictTimeBudgetMs": 0,
                }
            }
        )
        document = {"uri": URI, "languageId": "python", "version": 1, "text": DOC}
        raw.notify("textDocument/didOpen", {"textDocument": document})

        def complete(trigger_kind: int) -> list[dict]:
            params = {
                "textDocument": {"uri": URI},
                "position": {"line": 2, "character": 12},
                "context": {"triggerKind": trigger_kind},
            }
            return raw.request("textDocument/completion", params, timeout=300)["result"]["items"]

        (item,) = complete(1)  # invoked
        assert item["textEdit"]["newText"] == "a + b"
        assert item["textEdit"]["range"]["start"] == {"line": 2, "character": 12}
        assert item["sortText"] == "!spark"  # fallbackSort "first"
        assert item["labelDetails"]["description"] == "spark-lsp"
        assert complete(3) == []  # as-you-type requests are off ("automatic": false)
        settings = {"sparkLsp": {"completion": {"fallbackSort": "last", "automatic": True}}}
        raw.notify("workspace/didChangeConfiguration", {"settings": settings})
        (item,) = complete(3)
        assert item["sortText"] == "~spark"
        assert raw.request("shutdown")["result"] is None
    finally:
        raw.close()


def test_status_notifications_follow_the_model_and_the_requests() -> None:
    raw = RawClient()
    try:
        raw.initialize({"textDocument": {"inlineCompletion": {}}}, NO_TIME_LIMIT)
        document = {"uri": URI, "languageId": "python", "version": 1, "text": DOC}
        raw.notify("textDocument/didOpen", {"textDocument": document})
        params = {
            "textDocument": {"uri": URI},
            "position": {"line": 2, "character": 12},
            "context": {"triggerKind": 1},
        }
        assert raw.request("textDocument/inlineCompletion", params, timeout=600)["result"]["items"]
        statuses = []
        while not raw.messages.empty():
            message = raw.messages.get()
            if message.get("method") == "spark/status":
                statuses.append(message["params"])
        states = [status["state"] for status in statuses]
        distinct = [state for i, state in enumerate(states) if i == 0 or states[i - 1] != state]
        # --no-preload: the model is announced as loading on demand, then loads at the request.
        assert distinct == ["ready", "loading", "ready", "generating", "ready"]
        assert statuses[0]["message"] == "the model loads at the first suggestion"
        assert statuses[-1]["latencyMs"] > 0
    finally:
        raw.close()
