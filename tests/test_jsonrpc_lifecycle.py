"""Lifecycle and error rules, exercised with raw JSON-RPC against the real server process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.raw_client import RawClient

SERVER_NOT_INITIALIZED = -32002
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602
METHOD_NOT_FOUND = -32601


@pytest.fixture
def client() -> Iterator[RawClient]:
    raw = RawClient()
    yield raw
    raw.close()


def test_requests_before_initialize_get_server_not_initialized(client: RawClient) -> None:
    response = client.request("textDocument/hover", {"textDocument": {"uri": "file:///a"}})
    assert response["error"]["code"] == SERVER_NOT_INITIALIZED
    client.notify("textDocument/didOpen", {"textDocument": {"uri": "file:///a"}})  # dropped
    assert "capabilities" in client.initialize()["result"]
    assert client.request("shutdown")["result"] is None


def test_initialize_result_announces_version_and_only_implemented_features(
    client: RawClient,
) -> None:
    from spark_lsp import __version__

    result = client.initialize()["result"]
    assert result["serverInfo"] == {"name": "spark-lsp", "version": __version__}
    capabilities = result["capabilities"]
    assert capabilities["textDocumentSync"]["change"] == 2  # incremental
    assert capabilities["textDocumentSync"]["openClose"] is True
    assert capabilities["positionEncoding"] == "utf-16"
    for unimplemented in ("hoverProvider", "definitionProvider", "renameProvider"):
        assert unimplemented not in capabilities
    assert capabilities["codeActionProvider"]["resolveProvider"] is True
    # Without inline completion on the client side, the completion fallback is advertised.
    assert "inlineCompletionProvider" in capabilities
    assert "completionProvider" in capabilities
    assert sorted(capabilities["executeCommandProvider"]["commands"]) == [
        "spark-lsp.applyCodeAction",  # code actions for clients that cannot resolve them
        "spark-lsp.didAcceptCompletionItem",
        "spark-lsp.didAcceptNextEdit",
        "spark-lsp.editWithInstruction",
        "spark-lsp.explain",
        "spark-lsp.showStatistics",
    ]


def test_the_completion_fallback_is_hidden_from_inline_completion_clients() -> None:
    raw = RawClient()
    try:
        result = raw.initialize({"textDocument": {"inlineCompletion": {}}})
        capabilities = result["result"]["capabilities"]
        assert "inlineCompletionProvider" in capabilities
        assert "completionProvider" not in capabilities
    finally:
        raw.close()


def test_a_second_initialize_is_an_invalid_request(client: RawClient) -> None:
    client.initialize()
    assert client.initialize()["error"]["code"] == INVALID_REQUEST


def test_every_request_is_answered_even_with_unreadable_params(client: RawClient) -> None:
    client.initialize()
    response = client.request("textDocument/codeAction", [])
    assert response["error"]["code"] == INVALID_PARAMS
    assert "textDocument/codeAction" in response["error"]["message"]
    response = client.request("textDocument/didOpen-ish", {"x": 1})
    assert response["error"]["code"] == METHOD_NOT_FOUND
    response = client.request("spark/debug/document", {"uri": 5})
    assert response["error"]["code"] == INVALID_PARAMS
    # The server keeps serving.
    assert client.request("shutdown")["result"] is None


def test_after_shutdown_requests_are_invalid_and_exit_returns_zero(client: RawClient) -> None:
    client.initialize()
    assert client.request("shutdown")["result"] is None
    assert client.request("spark/debug/document", {"uri": "x"})["error"]["code"] == INVALID_REQUEST
    client.notify("exit")
    assert client.process.wait(timeout=10) == 0
    assert client.stray_stdout == []


def test_exit_without_shutdown_returns_one(client: RawClient) -> None:
    client.initialize()
    client.notify("exit")
    assert client.process.wait(timeout=10) == 1


def test_position_encoding_prefers_utf8_then_utf16(client: RawClient) -> None:
    result = client.initialize({"general": {"positionEncodings": ["utf-32", "utf-16", "utf-8"]}})
    assert result["result"]["capabilities"]["positionEncoding"] == "utf-8"


@pytest.mark.parametrize(
    ("offered", "chosen"),
    [(["utf-32"], "utf-32"), (["utf-32", "utf-16"], "utf-16"), ([], "utf-16")],
)
def test_position_encoding_fallbacks(offered: list[str], chosen: str) -> None:
    raw = RawClient()
    try:
        result = raw.initialize({"general": {"positionEncodings": offered}})
        assert result["result"]["capabilities"]["positionEncoding"] == chosen
    finally:
        raw.close()


def test_an_unreadable_did_change_leaves_the_document_out_of_sync(client: RawClient) -> None:
    client.initialize()
    uri = "file:///t.py"
    client.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": "x = 1\n"}},
    )
    client.notify(
        "textDocument/didChange",
        {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"range": "garbage"}]},
    )
    warning = client.wait_for(lambda m: m.get("method") == "window/logMessage")
    assert "out of sync" in warning["params"]["message"]
    state = client.request("spark/debug/document", {"uri": uri})["result"]
    assert state["inSync"] is False
    client.notify(
        "textDocument/didChange",
        {"textDocument": {"uri": uri, "version": 3}, "contentChanges": [{"text": "y = 2\n"}]},
    )
    state = client.request("spark/debug/document", {"uri": uri})["result"]
    assert state == {
        "uri": uri,
        "version": 3,
        "lineCount": 2,
        "inSync": True,
        "outOfSyncReason": None,
        "text": "y = 2\n",
    }
