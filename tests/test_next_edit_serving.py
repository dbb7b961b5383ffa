"""Next-edit suggestions served: the per-document edit history, ``spark/nextEdit`` and
``textDocument/copilotInlineEdit`` over stdio against the real server, the cursor line's edit as
an inline completion item, and private documents kept from the model."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from spark_lsp.actions.rewrite import LineEdit, apply_line_edits
from spark_lsp.documents import DocumentSnapshot, PositionEncoding
from spark_lsp.lsp.next_edit import on_line_item
from spark_lsp.nextedit.history import EditHistory, UserEdit, edit_between
from spark_lsp.nextedit.service import NextEdit, NextEditService
from tests.raw_client import RawClient

SOURCE = (
    "def mean(values):\n"
    "    count = len(values)\n"
    "    if count == 0:\n"
    "        return 0.0\n"
    "    return sum(values) / count\n"
)
RENAMED_FIRST = SOURCE.replace("    count = len", "    total = len")
URI = "file:///tmp/spark-next-edit/stats.py"


def test_the_edit_between_two_texts_is_the_changed_span_of_lines() -> None:
    old = ["a\n", "b\n", "c\n", "d\n"]
    assert edit_between(old, old) is None
    assert edit_between(old, ["a\n", "B\n", "c\n", "d\n"]) == UserEdit(1, 2, "b\n", "B\n")
    assert edit_between(old, ["a\n", "b\n", "x\n", "c\n", "d\n"]) == UserEdit(2, 3, "", "x\n")
    assert edit_between(old, ["a\n", "d\n"]) == UserEdit(1, 1, "b\nc\n", "")


def test_edits_on_the_lines_of_the_one_before_merge_into_one() -> None:
    history = EditHistory()
    history.opened("u", ["x = count\n", "y = count\n"])
    assert history.settle("u", "f.py", ["x = count\n", "y = count\n"]) is None
    deleted = history.settle("u", "f.py", ["x = \n", "y = count\n"])
    assert deleted == UserEdit(0, 1, "x = count\n", "x = \n")
    typed = history.settle("u", "f.py", ["x = total\n", "y = count\n"])
    assert typed == UserEdit(0, 1, "x = count\n", "x = total\n")
    assert history.earlier("u") == ()
    elsewhere = history.settle("u", "f.py", ["x = total\n", "y = count + 1\n"])
    assert elsewhere is not None and elsewhere.before == "y = count\n"
    assert [edit.after for edit in history.earlier("u")] == ["x = total\n"]


def _opened_client(options: dict[str, object] | None = None) -> RawClient:
    client = RawClient()
    capabilities = {"textDocument": {"synchronization": {"dynamicRegistration": False}}}
    client.initialize(capabilities, options)
    document = {"uri": URI, "languageId": "python", "version": 1, "text": SOURCE}
    client.notify("textDocument/didOpen", {"textDocument": document})
    return client


def _change(
    client: RawClient, line: int, start: int, end: int, text: str, version: int = 2
) -> None:
    """That version of the document: ``text`` in place of columns [start, end) of ``line``."""
    change = {
        "range": {
            "start": {"line": line, "character": start},
            "end": {"line": line, "character": end},
        },
        "text": text,
    }
    client.notify(
        "textDocument/didChange",
        {"textDocument": {"uri": URI, "version": version}, "contentChanges": [change]},
    )


def _rename_first_use(client: RawClient) -> None:
    _change(client, 1, 4, 9, "total")


def _params(version: int | None) -> dict[str, object]:
    document: dict[str, object] = {"uri": URI}
    if version is not None:
        document["version"] = version
    return {"textDocument": document, "position": {"line": 1, "character": 9}}


def test_a_rename_is_followed_by_the_other_uses_over_both_methods() -> None:
    client = _opened_client()
    try:
        _rename_first_use(client)
        answer = client.request("spark/nextEdit", _params(2))["result"]
        assert answer["source"] == "substitution"
        edits = [
            LineEdit(edit["range"]["start"]["line"], edit["range"]["end"]["line"], edit["text"])
            for edit in answer["edits"]
        ]
        assert all(edit["textDocument"] == {"uri": URI, "version": 2} for edit in answer["edits"])
        lines = RENAMED_FIRST.splitlines(keepends=True)
        assert apply_line_edits(lines, edits) == SOURCE.replace("count", "total")
        # The same version gets the same answer through copilot-language-server's method.
        copilot = client.request("textDocument/copilotInlineEdit", _params(2))["result"]
        assert copilot["edits"] == answer["edits"]
        command = answer["edits"][0]["command"]
        accepted = client.request(
            "workspace/executeCommand",
            {"command": command["command"], "arguments": command["arguments"]},
        )
        assert "error" not in accepted
    finally:
        client.close()


def test_a_stale_version_or_bad_params_get_errors_and_the_server_keeps_serving() -> None:
    client = _opened_client()
    try:
        _rename_first_use(client)
        stale = client.request("spark/nextEdit", _params(1))
        assert stale["error"]["code"] == -32801  # ContentModified
        wrong_version = {"textDocument": {"uri": URI, "version": "2"}}
        for bad in ({}, {"textDocument": {"uri": 7}}, wrong_version):
            assert client.request("spark/nextEdit", bad)["error"]["code"] == -32602
        unknown = client.request("spark/nextEdit", {"textDocument": {"uri": "file:///nowhere.py"}})
        assert "error" in unknown
        answer = client.request("spark/nextEdit", _params(None))["result"]
        assert answer["edits"]
    finally:
        client.close()


@pytest.mark.model
def test_an_edit_without_a_substitution_asks_the_real_model_once_allowed() -> None:
    client = _opened_client()
    try:
        # Next edits never start or wait for the model load: an invoked completion does.
        invoked = {**_params(1), "position": {"line": 1, "character": 0}}
        invoked["context"] = {"triggerKind": 1}  # Invoked
        client.request("textDocument/inlineCompletion", invoked, timeout=300)

        def engine_requests() -> int:
            return int(client.request("spark/debug/counters")["result"]["engineRequests"])

        before = engine_requests()
        _change(client, 0, 15, 15, ", default=0.0")
        assert client.request("spark/nextEdit", _params(2))["result"] == {"edits": []}
        assert engine_requests() == before  # completion.nextEditModel is off by default
        allowed = {"sparkLsp": {"completion": {"nextEditModel": True}}}
        client.notify("workspace/didChangeConfiguration", {"settings": allowed})
        _change(client, 0, 28, 28, ", strict=False", version=3)
        answer = client.request("spark/nextEdit", _params(3), timeout=600)["result"]
        assert engine_requests() > before
        signature = "values, default=0.0, strict=False):"
        lines = SOURCE.replace("values):", signature).splitlines(keepends=True)
        for edit in answer["edits"]:
            assert edit["textDocument"] == {"uri": URI, "version": 3}
            assert 0 <= edit["range"]["start"]["line"] <= edit["range"]["end"]["line"]
            assert edit["range"]["end"]["line"] <= len(lines)
        if answer["edits"]:
            assert answer["source"].startswith("model:")
    finally:
        client.close()


def test_two_requests_for_one_version_share_one_answer() -> None:
    async def no_worker() -> None:
        return None

    service = NextEditService(no_worker, lambda uri: False)
    service.opened(DocumentSnapshot(URI, "python", 1, tuple(SOURCE.splitlines(keepends=True))))
    renamed = DocumentSnapshot(URI, "python", 2, tuple(RENAMED_FIRST.splitlines(keepends=True)))

    async def both() -> list[NextEdit | None]:
        return list(await asyncio.gather(service.suggest(renamed), service.suggest(renamed)))

    first, second = asyncio.run(both())
    assert first is not None and first.source == "substitution"
    assert second == first


def test_an_answer_cancelled_before_it_ran_still_ends_its_edit() -> None:
    """An edit, its request, and at once the next edit's request (the first answer is dropped
    before it starts): the second edit alone is the user's last, and its rename is repeated.
    Settled only when an answer ran, both edits merged into one span that no single rename
    explains (a flaky Neovim session on a loaded machine)."""

    async def no_worker() -> None:
        return None

    service = NextEditService(no_worker, lambda uri: False)
    service.opened(DocumentSnapshot(URI, "python", 1, tuple(SOURCE.splitlines(keepends=True))))
    guarded = SOURCE.replace("/ count\n", "/ max(count, 1)\n")
    renamed = guarded.replace("    count = len", "    total = len")
    first = DocumentSnapshot(URI, "python", 2, tuple(guarded.splitlines(keepends=True)))
    second = DocumentSnapshot(URI, "python", 3, tuple(renamed.splitlines(keepends=True)))

    async def both() -> list[NextEdit | None]:
        return list(await asyncio.gather(service.suggest(first), service.suggest(second)))

    dropped, answer = asyncio.run(both())
    assert dropped is None
    assert answer is not None and answer.source == "substitution"


def test_the_cursor_line_s_next_edit_comes_as_an_inline_item_replacing_the_line() -> None:
    client = _opened_client()
    try:
        _rename_first_use(client)
        assert client.request("spark/nextEdit", _params(2))["result"]["edits"]
        last_line = SOURCE.splitlines()[4]
        automatic = {
            "textDocument": {"uri": URI},
            "position": {"line": 4, "character": len(last_line)},
            "context": {"triggerKind": 2},  # Automatic: the model is not loaded, no completion
        }
        (item,) = client.request("textDocument/inlineCompletion", automatic)["result"]["items"]
        assert item["insertText"] == last_line.replace("count", "total")
        assert item["range"] == {
            "start": {"line": 4, "character": 0},
            "end": {"line": 4, "character": len(last_line)},
        }
        assert item["command"]["command"] == "spark-lsp.didAcceptNextEdit"
        # A line the answer leaves alone gets no item.
        unchanged = {**automatic, "position": {"line": 3, "character": 8}}
        assert client.request("textDocument/inlineCompletion", unchanged)["result"]["items"] == []
    finally:
        client.close()


def test_an_edit_of_more_than_the_cursor_line_is_no_inline_item() -> None:
    lines = tuple(RENAMED_FIRST.splitlines(keepends=True))
    snapshot = DocumentSnapshot(URI, "python", 2, lines)
    two_lines = NextEdit(
        URI, 2, (LineEdit(2, 4, "    if total == 0:\n        return 1.0\n"),), "model"
    )
    assert on_line_item(two_lines, snapshot, 2, PositionEncoding.UTF16) is None
    one_line = NextEdit(URI, 2, (LineEdit(2, 3, "    if total == 0:\n"),), "substitution")
    item = on_line_item(one_line, snapshot, 2, PositionEncoding.UTF16)
    assert item is not None and item.insert_text == "    if total == 0:"
    assert on_line_item(one_line, snapshot, 1, PositionEncoding.UTF16) is None
    stale = NextEdit(URI, 1, one_line.edits, "substitution")
    assert on_line_item(stale, snapshot, 2, PositionEncoding.UTF16) is None


def test_a_private_document_never_reaches_the_model_but_gets_the_substitution() -> None:
    asked: list[object] = []

    class Worker:
        def submit(self, request: object) -> None:
            asked.append(request)
            raise AssertionError("a private document reached the model")

    async def worker() -> Worker:
        return Worker()

    service = NextEditService(worker, lambda uri: True)  # type: ignore[arg-type]
    lines = tuple(SOURCE.splitlines(keepends=True))
    service.opened(DocumentSnapshot(URI, "python", 1, lines))
    added = lines[0].replace("values):", "values, default=0.0):")
    no_substitution = DocumentSnapshot(URI, "python", 2, (added, *lines[1:]))
    assert asyncio.run(service.suggest(no_substitution)) is None and asked == []
    renamed = DocumentSnapshot(URI, "python", 3, tuple(RENAMED_FIRST.splitlines(keepends=True)))
    renamed = replace(renamed, lines=(added, *renamed.lines[1:]))
    found = asyncio.run(service.suggest(renamed))
    assert found is not None and found.source == "substitution" and asked == []
