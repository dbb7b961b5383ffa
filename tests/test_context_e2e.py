"""Workspace context over stdio with the real model: imported definitions, other documents,
recent edits, and the idle refresh that warms new context before requests use it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.raw_client import RawClient

pytestmark = pytest.mark.model

GEOMETRY = '''"""Shapes."""

UNIT = "cm"


def area_of_rectangle(width: float, height: float) -> float:
    """The area of a width x height rectangle."""
    return width * height


class Circle:
    """A circle of a given radius."""

    def __init__(self, radius: float) -> None:
        self.radius = radius

    def area(self) -> float:
        return 3.14159 * self.radius**2
'''
MAIN = (
    "from pkg.geometry import area_of_rectangle\n"
    "from pkg.secret import hidden\n\n\n"
    "def floor_area(rooms):\n"
    "    total = 0\n"
    "    for width, height in rooms:\n"
    "        total += \n"
    "    return total\n"
)
NOTES = (
    "def wall_area(walls):\n"
    "    total = 0\n"
    "    for width, height in walls:\n"
    "        total += width * height\n"
    "    return total\n"
)


def make_workspace(root: Path) -> None:
    (root / "pkg").mkdir()
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "geometry.py").write_text(GEOMETRY)
    (root / "pkg" / "secret.py").write_text("def hidden(): ...\n")
    (root / ".gitignore").write_text("pkg/secret.py\n")
    (root / "main.py").write_text(MAIN)


def open_document(client: RawClient, uri: str, text: str) -> None:
    document = {"uri": uri, "languageId": "python", "version": 1, "text": text}
    client.notify("textDocument/didOpen", {"textDocument": document})


def prompt(client: RawClient, uri: str, line: int, character: int) -> dict:
    params = {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}
    return client.request("spark/debug/prompt", params, timeout=300)["result"]


def test_prompts_carry_workspace_context_and_refresh_it_when_idle(tmp_path: Path) -> None:
    make_workspace(tmp_path)
    client = RawClient()
    main_uri = (tmp_path / "main.py").as_uri()
    notes_uri = (tmp_path / "notes.py").as_uri()
    try:
        client.request(
            "initialize",
            {
                "processId": None,
                "rootUri": tmp_path.as_uri(),
                "capabilities": {"textDocument": {"inlineCompletion": {}}},
                "initializationOptions": {
                    "completion": {"contextRefreshIdleMs": 100, "predictTimeBudgetMs": 0}
                },
            },
        )
        client.notify("initialized", {})
        open_document(client, main_uri, MAIN)
        params = {
            "textDocument": {"uri": main_uri},
            "position": {"line": 7, "character": 17},
            "context": {"triggerKind": 1},
        }
        first = client.request("textDocument/inlineCompletion", params, timeout=300)["result"]
        # The imported function's signature is in the prompt, and the model uses it.
        assert first["items"][0]["insertText"].startswith("area_of_rectangle(")
        built = prompt(client, main_uri, 7, 17)
        assert built["tokens"] <= built["budget"] < 8192
        paths = [chunk["path"] for chunk in built["extraContext"]]
        assert paths == ["pkg/geometry.py"]  # pkg/secret.py is ignored by .gitignore
        outline = built["extraContext"][0]["text"]
        assert "def area_of_rectangle(width: float, height: float) -> float:" in outline
        assert "def area(self) -> float:" in outline and "return width * height" not in outline

        # Another document, edited: after a pause, main.py's prompts take it in (warmed first).
        open_document(client, notes_uri, NOTES)
        change = {
            "range": {"start": {"line": 3, "character": 0}, "end": {"line": 3, "character": 0}},
            "text": "        # area\n",
        }
        client.notify(
            "textDocument/didChange",
            {"textDocument": {"uri": notes_uri, "version": 2}, "contentChanges": [change]},
        )
        client.request("textDocument/inlineCompletion", params, timeout=300)
        deadline = time.monotonic() + 300
        while client.request("spark/debug/counters")["result"]["contextWarmups"] < 1:
            assert time.monotonic() < deadline, "the context refresh never finished"
            time.sleep(0.2)
        sources = [chunk["path"] for chunk in prompt(client, main_uri, 7, 17)["extraContext"]]
        assert sources.count("notes.py") == 2  # a similar snippet and a recent edit
        assert "pkg/geometry.py" in sources
        assert client.request("shutdown")["result"] is None
    finally:
        client.close()
