"""No lost or corrupted text: rewrites on the store's own lines, checked before they leave;
line endings kept; versions that do not increase; test files appended to; lone surrogates."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spark_lsp.actions import rewrite
from spark_lsp.actions.errors import ActionFailed
from spark_lsp.actions.service import ActionService
from spark_lsp.actions.target import Target
from spark_lsp.context.service import ContextService
from spark_lsp.documents import (
    DocumentStore,
    InvalidChange,
    Position,
    PositionEncoding,
    Range,
    TextChange,
    TextDocument,
    split_lines,
)
from spark_lsp.engine.fake import FakeEngine
from spark_lsp.engine.worker import InferenceWorker
from spark_lsp.token_counting import TokenCounter, fallback_encoding
from tests.raw_client import RawClient

# Everything str.splitlines breaks at, the three LSP line breaks among them, and astral text.
SEPARATORS = ["\n", "\r\n", "\r", "\f", "\v", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
PIECES = ["a", "x = 1", "    ", "é", "😀", "\U0001d518", "'a\x0cb'", *SEPARATORS]
text_strategy = st.lists(st.sampled_from(PIECES), min_size=1, max_size=40).map("".join)
code_strategy = st.lists(
    st.sampled_from(["y = 2", "    ", "😀", "\n", "'\x0c'", "\u2028", "return s"]), max_size=12
).map("".join)


def apply_as_client(text: str, edits: list[rewrite.LineEdit], encoding: PositionEncoding) -> str:
    """What a client holds after applying the edits (LSP TextEdits at column 0, sent in the
    negotiated encoding), with the document store's own rules."""
    document = TextDocument("file:///t", "python", 1, text)
    for version, edit in enumerate(sorted(edits, key=lambda e: e.first, reverse=True), 2):
        span = Range(Position(edit.first, 0), Position(edit.last, 0))
        document.apply_changes([TextChange(edit.text, span)], version, encoding)
    return document.text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=text_strategy, code=code_strategy, data=st.data())
def test_rewrite_edits_give_exactly_the_intended_text(
    text: str, code: str, data: st.DataObject
) -> None:
    lines = split_lines(text)
    first = data.draw(st.integers(0, len(lines) - 1))
    last = data.draw(st.integers(first + 1, len(lines)))
    edits, intended = rewrite.rewrite_edits(lines, first, last, code)
    for encoding in PositionEncoding:
        assert apply_as_client(text, list(edits), encoding) == intended
    # Lines outside the range are untouched, whatever separators the text holds.
    assert intended.startswith("".join(lines[:first]))
    assert intended.endswith("".join(lines[last:]))


def test_a_form_feed_in_a_string_does_not_shift_the_edit() -> None:
    text = "def f():\n    s = 'a\x0cb'\n    return s\nx = 1\n"
    lines = split_lines(text)
    edits, intended = rewrite.rewrite_edits(
        lines, 0, 3, "def f():\n    s = 'a\x0cb'\n    return s + s\n"
    )
    assert apply_as_client(text, list(edits), PositionEncoding.UTF16) == intended
    assert intended.endswith("    return s + s\nx = 1\n")
    assert [(e.first, e.last) for e in edits] == [(2, 3)]


def test_a_crlf_document_keeps_its_line_endings() -> None:
    text = "def f(a):\r\n    x = a\r\n    return x\r\n"
    lines = split_lines(text)
    edits, intended = rewrite.rewrite_edits(
        lines, 0, 3, "def f(a: int) -> int:\n    x = a\n    return x\n"
    )
    assert intended == "def f(a: int) -> int:\r\n    x = a\r\n    return x\r\n"
    assert [(e.first, e.last) for e in edits] == [(0, 1)]  # only the changed line
    assert "\n" not in intended.replace("\r\n", "")


def test_a_version_that_does_not_increase_marks_the_document_out_of_sync() -> None:
    store = DocumentStore()
    store.open("file:///a.py", "python", 5, "x\n")
    change = TextChange("y", Range(Position(0, 0), Position(0, 0)))
    store.change("file:///a.py", 6, [change], PositionEncoding.UTF16)
    for stale in (6, 3):
        try:
            store.change("file:///a.py", stale, [change], PositionEncoding.UTF16)
        except InvalidChange as error:
            assert "does not follow" in str(error)
        else:
            raise AssertionError("a repeated version was applied")
    document = store.document("file:///a.py")
    assert document.out_of_sync_reason is not None
    assert document.text == "yx\n"  # the repeated change was not applied twice
    store.change("file:///a.py", 7, [TextChange("z\n")], PositionEncoding.UTF16)  # full text
    assert document.out_of_sync_reason is None and document.text == "z\n"


def action_service(
    tmp_path: Path, store: DocumentStore, answer: str
) -> tuple[ActionService, InferenceWorker]:
    worker = InferenceWorker(FakeEngine(lambda request: answer))

    async def ready() -> InferenceWorker:
        return worker

    context = ContextService(store.snapshots)
    context.set_roots([tmp_path])
    counter = TokenCounter(fallback_encoding(), exact=False)

    def open_document(uri: str):
        return store.snapshot(uri) if uri in store else None

    service = ActionService(store.snapshot, ready, lambda: counter, context, open_document)
    return service, worker


def test_a_test_file_that_exists_is_appended_to(tmp_path: Path) -> None:
    source = tmp_path / "shapes.py"
    source.write_text("def area(r):\n    return r * r\n")
    tests = tmp_path / "test_shapes.py"
    tests.write_text("import shapes\r\n\r\ndef test_old():\r\n    assert True")  # no final break
    store = DocumentStore()
    store.open(source.as_uri(), "python", 1, source.read_text())
    answer = "```python\ndef test_area():\n    assert shapes.area(2) == 4\n```"
    service, worker = action_service(tmp_path, store, answer)
    generation = store.document(source.as_uri()).generation
    target = Target(source.as_uri(), 1, 0, 2, "unit_test", generation=generation)
    try:
        edit = asyncio.run(service.unit_test(target))
        assert not edit.create and edit.uri == tests.as_uri() and edit.version is None
        after = apply_as_client(
            tests.read_bytes().decode(), list(edit.edits), PositionEncoding.UTF16
        )
        assert after.startswith("import shapes\r\n\r\ndef test_old():\r\n    assert True\r\n")
        assert after.endswith("def test_area():\r\n    assert shapes.area(2) == 4\r\n")
        # Open in the editor: appended at its version.
        store.open(tests.as_uri(), "python", 9, "import shapes\n")
        edit = asyncio.run(service.unit_test(target))
        assert edit.version == 9
        after = apply_as_client("import shapes\n", list(edit.edits), PositionEncoding.UTF8)
        assert after == "import shapes\n\ndef test_area():\n    assert shapes.area(2) == 4\n"
        tests.unlink()
        store.close(tests.as_uri())
        edit = asyncio.run(service.unit_test(target))
        assert edit.create and edit.edits[0].first == 0
    finally:
        worker.stop()


def test_a_test_file_that_is_a_fifo_or_a_symlink_out_is_refused_not_read(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside.py"
    root.mkdir()
    outside.write_text("SECRET = 1\n")
    store = DocumentStore()
    service, worker = action_service(root, store, "```python\ndef test_a():\n    pass\n```")
    try:
        for name, make in (("fifo", os.mkfifo), ("link", lambda path: path.symlink_to(outside))):
            source = root / f"{name}.py"
            source.write_text("def a():\n    return 1\n")
            opened = store.open(source.as_uri(), "python", 1, source.read_text())
            make(root / f"test_{name}.py")
            target = Target(source.as_uri(), 1, 0, 2, "unit_test", generation=opened.generation)
            with pytest.raises(ActionFailed, match=f"cannot add to test_{name}.py"):
                asyncio.run(asyncio.wait_for(service.unit_test(target), 30))
    finally:
        worker.stop()


def test_lone_surrogates_are_invalid_params_and_harm_nothing() -> None:
    client = RawClient()
    try:
        client.initialize()
        good = {"uri": "file:///good.py", "languageId": "python", "version": 1, "text": "x = 1\n"}
        client.notify("textDocument/didOpen", {"textDocument": good})
        # A lone surrogate is valid JSON: write the frame by hand, the JSON encoder would not.
        body = (
            b'{"jsonrpc": "2.0", "id": 77, "method": "textDocument/inlineCompletion", "params": '
            b'{"textDocument": {"uri": "file:///good.py\\ud800"}, "position": {"line": 0, '
            b'"character": 0}, "context": {"triggerKind": 1}}}'
        )
        assert client.process.stdin is not None
        client.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        client.process.stdin.flush()
        answer = client.wait_for(lambda m: m.get("id") == 77)
        assert answer["error"]["code"] == -32602 and "surrogate" in answer["error"]["message"]
        bad_open = (
            b'{"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": '
            b'{"uri": "file:///bad.py", "languageId": "python", "version": 1, "text": "a\\udc00"}}}'
        )
        client.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(bad_open) + bad_open)
        client.process.stdin.flush()
        missing = client.request("spark/debug/document", {"uri": "file:///bad.py"})
        assert missing["error"]["code"] == -32602  # never opened
        kept = client.request("spark/debug/document", {"uri": "file:///good.py"})["result"]
        assert kept["text"] == "x = 1\n" and kept["inSync"]
    finally:
        client.close()


def test_broken_frames_and_bad_json_are_answered_on_stdio() -> None:
    client = RawClient()
    try:
        client.initialize()
        assert client.process.stdin is not None
        write = client.process.stdin.write
        write(b"Content-Length: 5\r\n\r\n{oops")  # not JSON: a Parse error
        write(b"X" * 20000 + b"\r\n")  # a header line over the limit: skipped
        write(b"Content-Length: 3\r\n\r\n\xff\xfe\x00")  # not UTF-8
        nested = "[" * 100_000 + "]" * 100_000  # nested too deep to decode
        write(b"Content-Length: %d\r\n\r\n" % len(nested) + nested.encode())
        client.process.stdin.flush()
        errors = [client.wait_for(lambda m: m.get("id") is None and "error" in m) for _ in range(3)]
        assert all(error["error"]["code"] == -32700 for error in errors)
        answer = client.request("spark/debug/counters")
        assert "result" in answer  # still serving, frames back in step
    finally:
        client.close()
