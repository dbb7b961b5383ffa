"""Code actions over stdio: the menu without the model, then resolve with the real model."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.raw_client import RawClient

URI = "file:///shapes.py"
TEXT = (
    "import math\n\n\n"
    "def circle_area(radius):\n"
    "    area = math.pi * radius * radius\n"
    "    return area\n\n\n"
    "def square_area(side):\n"
    "    return side * side\n"
)
INVALID_PARAMS = -32602
CONTENT_MODIFIED = -32801
REQUEST_CANCELLED = -32800
# VS Code and Neovim resolve an action's edit lazily; eglot 1.9 cannot (see the last tests).
RESOLVES_EDITS = {"codeAction": {"resolveSupport": {"properties": ["edit"]}}}
APPLIES_EDITS = {"applyEdit": True, "workspaceEdit": {"documentChanges": True}}


@pytest.fixture
def client() -> Iterator[RawClient]:
    raw = RawClient()
    raw.initialize({"window": {"workDoneProgress": False}, "textDocument": RESOLVES_EDITS})
    document = {"uri": URI, "languageId": "python", "version": 1, "text": TEXT}
    raw.notify("textDocument/didOpen", {"textDocument": document})
    yield raw
    raw.close()


def code_actions(client: RawClient, line: int, uri: str = URI, end_line: int | None = None):
    end = {"line": line if end_line is None else end_line, "character": 0}
    params = {
        "textDocument": {"uri": uri},
        "range": {"start": {"line": line, "character": 0}, "end": end},
        "context": {"diagnostics": []},
    }
    return client.request("textDocument/codeAction", params)


def test_the_menu_comes_back_without_the_model(client: RawClient) -> None:
    actions = code_actions(client, 4)["result"]
    titles = [action["title"] for action in actions]
    assert titles == [
        "spark-lsp: Add docstring",
        "spark-lsp: Add type hints",
        "spark-lsp: Simplify",
        "spark-lsp: Explain",
        "spark-lsp: Edit with instruction...",
    ]
    assert actions[1]["data"]["first"] == 3 and actions[1]["data"]["last"] == 6
    assert actions[3]["command"]["command"] == "spark-lsp.explain"
    # Clients resolve every action without an edit: a command action comes back as it was.
    assert client.request("codeAction/resolve", actions[3])["result"] == actions[3]
    counters = client.request("spark/debug/counters")["result"]
    without_params = {"jsonrpc": "2.0", "id": 800, "method": "spark/debug/counters"}
    client.send(without_params)  # JSON-RPC allows omitting params
    assert client.wait_for(lambda m: m.get("id") == 800)["result"] == counters
    assert counters["engineRequests"] == 0 and counters["modelCalls"] == 0


def test_bad_ranges_and_unknown_documents_are_invalid_params(client: RawClient) -> None:
    assert code_actions(client, 0, uri="file:///nope.py")["error"]["code"] == INVALID_PARAMS
    assert code_actions(client, 99)["error"]["code"] == INVALID_PARAMS
    assert code_actions(client, 5, end_line=4)["error"]["code"] == INVALID_PARAMS
    bad = {"title": "x", "data": {"uri": URI}}
    assert client.request("codeAction/resolve", bad)["error"]["code"] == INVALID_PARAMS


@pytest.mark.model
def test_resolve_gives_a_minimal_version_stamped_edit_and_refuses_stale_ones(
    client: RawClient,
) -> None:
    action = code_actions(client, 4)["result"][1]  # Add type hints to circle_area
    resolved = client.request("codeAction/resolve", action, timeout=600)["result"]
    (change,) = resolved["edit"]["documentChanges"]
    assert change["textDocument"] == {"uri": URI, "version": 1}
    for edit in change["edits"]:
        assert 3 <= edit["range"]["start"]["line"] <= edit["range"]["end"]["line"] <= 6
        assert edit["range"]["start"]["character"] == edit["range"]["end"]["character"] == 0
    new_text = "".join(edit["newText"] for edit in change["edits"])
    assert "radius" in new_text and "->" in new_text  # hints on the signature
    untouched = sum(
        e["range"]["end"]["line"] - e["range"]["start"]["line"] for e in change["edits"]
    )
    assert untouched < 3, "only changed lines are replaced, not the whole function"

    here = {"line": 0, "character": 0}
    change_params = {
        "textDocument": {"uri": URI, "version": 2},
        "contentChanges": [{"range": {"start": here, "end": here}, "text": "# note\n"}],
    }
    client.notify("textDocument/didChange", change_params)
    stale = client.request("codeAction/resolve", action, timeout=600)
    assert stale["error"]["code"] == CONTENT_MODIFIED


@pytest.mark.model
def test_a_resolve_can_be_cancelled(client: RawClient) -> None:
    action = code_actions(client, 4)["result"][2]  # Simplify
    client.send({"jsonrpc": "2.0", "id": 900, "method": "codeAction/resolve", "params": action})
    client.notify("$/cancelRequest", {"id": 900})
    answer = client.wait_for(lambda message: message.get("id") == 900, timeout=600)
    assert answer.get("error", {}).get("code") == REQUEST_CANCELLED
    # The server keeps serving.
    assert code_actions(client, 8)["result"]


@pytest.fixture
def editor() -> Iterator[RawClient]:
    """A client that shows progress and applies workspace edits, as VS Code and Neovim do."""
    raw = RawClient()
    raw.answers = {"window/workDoneProgress/create": None, "workspace/applyEdit": {"applied": True}}
    raw.initialize(
        {
            "window": {"workDoneProgress": True},
            "workspace": APPLIES_EDITS,
            "textDocument": RESOLVES_EDITS,
        }
    )
    document = {"uri": URI, "languageId": "python", "version": 1, "text": TEXT}
    raw.notify("textDocument/didOpen", {"textDocument": document})
    yield raw
    raw.close()


def execute(client: RawClient, request_id: int, command: str, arguments: list) -> None:
    params = {"command": command, "arguments": arguments}
    client.send(
        {"jsonrpc": "2.0", "id": request_id, "method": "workspace/executeCommand", "params": params}
    )


def progress_begin(client: RawClient, title: str) -> dict:
    return client.wait_for(
        lambda m: (
            m.get("method") == "$/progress"
            and m["params"]["value"].get("kind") == "begin"
            and m["params"]["value"].get("title") == title
        ),
        timeout=600,
    )["params"]


@pytest.mark.model
def test_edit_with_instruction_applies_through_the_client(editor: RawClient) -> None:
    target = code_actions(editor, 4)["result"][-1]["command"]["arguments"][0]
    instruction = "Rename the local variable area to result."
    execute(editor, 901, "spark-lsp.editWithInstruction", [target, instruction])
    assert progress_begin(editor, "spark-lsp: rewriting")["value"]["cancellable"] is True
    apply = editor.wait_for(lambda m: m.get("method") == "workspace/applyEdit", timeout=600)
    (change,) = apply["params"]["edit"]["documentChanges"]
    assert change["textDocument"] == {"uri": URI, "version": 1}
    assert "result" in "".join(edit["newText"] for edit in change["edits"])
    answer = editor.wait_for(lambda m: m.get("id") == 901, timeout=600)
    assert answer["result"] == {"applied": True}


@pytest.mark.model
def test_the_progress_cancel_button_stops_an_explanation(editor: RawClient) -> None:
    explain = code_actions(editor, 4)["result"][3]["command"]
    execute(editor, 902, explain["command"], explain["arguments"])
    token = progress_begin(editor, "spark-lsp: explaining")["token"]
    editor.notify("window/workDoneProgress/cancel", {"token": token})
    answer = editor.wait_for(lambda m: m.get("id") == 902, timeout=600)
    assert answer.get("error", {}).get("code") == REQUEST_CANCELLED
    execute(editor, 903, explain["command"], explain["arguments"])
    answer = editor.wait_for(lambda m: m.get("id") == 903, timeout=600)
    markdown = answer["result"]["markdown"]
    assert len(markdown) > 40 and "<|" not in markdown


@pytest.fixture
def lsp_3_15_client() -> Iterator[RawClient]:
    """A client that applies edits but cannot resolve actions (eglot 1.9, older clients)."""
    raw = RawClient()
    raw.answers = {"workspace/applyEdit": {"applied": True}}
    raw.initialize({"workspace": APPLIES_EDITS})
    document = {"uri": URI, "languageId": "python", "version": 1, "text": TEXT}
    raw.notify("textDocument/didOpen", {"textDocument": document})
    yield raw
    raw.close()


def test_a_client_that_cannot_resolve_gets_each_edit_as_a_command() -> None:
    raw = RawClient()
    try:
        capabilities = raw.initialize({"workspace": APPLIES_EDITS})["result"]["capabilities"]
        assert "spark-lsp.applyCodeAction" in capabilities["executeCommandProvider"]["commands"]
        document = {"uri": URI, "languageId": "python", "version": 1, "text": TEXT}
        raw.notify("textDocument/didOpen", {"textDocument": document})
        docstring = code_actions(raw, 4)["result"][0]
        assert docstring["title"] == "spark-lsp: Add docstring" and "data" not in docstring
        assert docstring["command"]["command"] == "spark-lsp.applyCodeAction"
        assert docstring["command"]["arguments"][0]["action"] == "docstring"
        bad = {"command": "spark-lsp.applyCodeAction", "arguments": []}
        assert raw.request("workspace/executeCommand", bad)["error"]["code"] == INVALID_PARAMS
    finally:
        raw.close()


@pytest.mark.model
def test_the_command_computes_the_edit_and_applies_it_through_the_client(
    lsp_3_15_client: RawClient,
) -> None:
    command = code_actions(lsp_3_15_client, 4)["result"][0]["command"]
    execute(lsp_3_15_client, 904, command["command"], command["arguments"])
    # Answered before the model runs: eglot gives a command 10 s.
    answer = lsp_3_15_client.wait_for(lambda m: m.get("id") == 904, timeout=30)
    assert answer["result"] is None
    apply = lsp_3_15_client.wait_for(lambda m: m.get("method") == "workspace/applyEdit", 600)
    (change,) = apply["params"]["edit"]["documentChanges"]
    assert change["textDocument"] == {"uri": URI, "version": 1}
    assert '"""' in "".join(edit["newText"] for edit in change["edits"])


@pytest.mark.model
def test_an_edit_the_document_outran_is_reported_not_applied(lsp_3_15_client: RawClient) -> None:
    command = code_actions(lsp_3_15_client, 4)["result"][0]["command"]
    execute(lsp_3_15_client, 905, command["command"], command["arguments"])
    here = {"line": 0, "character": 0}
    lsp_3_15_client.notify(
        "textDocument/didChange",
        {
            "textDocument": {"uri": URI, "version": 2},
            "contentChanges": [{"range": {"start": here, "end": here}, "text": "# note\n"}],
        },
    )
    shown = lsp_3_15_client.wait_for(lambda m: m.get("method") == "window/showMessage", 600)
    assert shown["params"]["type"] == 1 and "docstring" in shown["params"]["message"]
    assert not any(
        m.get("method") == "workspace/applyEdit" for m in list(lsp_3_15_client.messages.queue)
    )
