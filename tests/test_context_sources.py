"""Context sources one by one: recent edits, similar snippets, workspace definitions, and the
per-chunk count cache (no model needed)."""

from __future__ import annotations

from pathlib import Path

from spark_lsp.context.definitions import ImportedDefinitions, python_imports, python_outline
from spark_lsp.context.recent import RecentEdits
from spark_lsp.context.similar import SimilarSnippets, identifiers, jaccard
from spark_lsp.context.workspace import Workspace
from spark_lsp.token_counting import TokenCounter, fallback_encoding


def test_recent_edits_keep_the_latest_blocks_first() -> None:
    recent = RecentEdits(capacity=3)
    recent.record("a", 3, 3)
    recent.record("b", 40, 40)
    recent.record("a", 5, 20)  # spans two blocks of a
    assert [(b.uri, b.first_line) for b in recent.blocks()] == [("a", 16), ("a", 0), ("b", 32)]
    recent.record("c", 0, 0)
    assert len(recent.blocks()) == 3 and recent.blocks()[0].uri == "c"
    recent.forget("a")  # b's block was the oldest: evicted when c came
    assert [b.uri for b in recent.blocks()] == ["c"]


def test_similar_snippets_rank_by_shared_identifiers() -> None:
    assert jaccard(identifiers("foo bar baz"), identifiers("foo bar qux")) == 0.5
    other = [f"unrelated_{i} = {i}\n" for i in range(100)]
    other[60:64] = ["def parse_header(raw_bytes):\n", "    header_size = len(raw_bytes)\n"] * 2
    documents = [("file:///other.py", 1, other), ("file:///empty.py", 1, ["\n"])]
    query = "def read_header(raw_bytes):\n    header_size = "
    (best,) = SimilarSnippets().best(query, documents, count=2)
    assert best.uri == "file:///other.py" and best.first_line <= 60 < best.last_line
    assert "parse_header" in best.text


def test_python_imports_and_outlines() -> None:
    source = (
        "import os, a.b as c\nfrom . import x\nfrom ..pkg.mod import f\n"
        "try:\n    import j\nexcept ImportError:\n    pass\n"
    )
    assert python_imports(source) == [
        ("os", 0),
        ("a.b", 0),
        ("", 1),
        ("x", 1),
        ("pkg.mod", 2),
        ("j", 0),
    ]
    module = (
        'LIMIT = 3\n\n@cache\ndef area(w: float, h: float) -> float:\n    """Area."""\n'
        "    return w * h\n\n\nclass Box:\n    def grow(self, by: int) -> None:\n"
        "        self.size += by\n"
    )
    outline = python_outline(module)
    assert outline is not None
    assert "LIMIT = 3" in outline
    assert '@cache\ndef area(w: float, h: float) -> float:\n    """Area."""\n    ...' in outline
    assert "class Box:\n    def grow(self, by: int) -> None:\n        ..." in outline
    assert "return w * h" not in outline and "self.size" not in outline


def test_workspace_files_respect_gitignore_size_and_binary(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "util.py").write_text("def helper(x: int) -> int:\n    return x\n")
    (tmp_path / "pkg" / "secret.py").write_text("def hidden(): ...\n")
    (tmp_path / "pkg" / "blob.py").write_bytes(b"def f(): ...\n\0\0binary")
    (tmp_path / "pkg" / "huge.py").write_text("x = 1\n" * 200_000)
    (tmp_path / ".gitignore").write_text("pkg/secret.py\n")
    workspace = Workspace([tmp_path])
    definitions = ImportedDefinitions(workspace)
    main = tmp_path / "main.py"
    text = "from pkg import util, secret, blob, huge\nfrom pkg.util import helper\n"
    found = definitions.of("python", text, main)
    assert [d.path for d in found] == ["pkg/util.py"]
    assert "def helper(x: int) -> int:" in found[0].outline
    assert workspace.read_text(tmp_path / "pkg" / "secret.py") is None
    assert workspace.read_text(tmp_path / "pkg" / "blob.py") is None
    assert workspace.read_text(tmp_path / "pkg" / "huge.py") is None
    assert definitions.of("rust", text, main) == []


def test_counts_are_cached_per_chunk() -> None:
    counter = TokenCounter(fallback_encoding(), exact=False, scale=1.1)
    text = "def f(x):\n    return x\n" * 10
    first = counter.count(text)
    assert first >= len(fallback_encoding().encode_ordinary(text))
    assert counter.count(text) == first and counter.counted == 1
    counter.count(text + "y")
    assert counter.counted == 2
