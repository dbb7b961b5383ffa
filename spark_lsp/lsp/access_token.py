"""The token a TCP or WebSocket client must present: random for each start, or the user's own.

A new token is written to a file only its owner can read (0600, in a 0700 folder), printed to
stderr, and removed when the server stops. ``--token-file PATH`` takes the token from PATH when it
exists (a file others can read is refused: the token would be no secret), else writes a new one
there and keeps it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

import platformdirs

from spark_lsp.private_dir import PrivateFolderError, check_not_writable_by_others

MIN_TOKEN_CHARACTERS = 16


class TokenFileError(Exception):
    """The message names the file and the fix."""


def default_token_path(port: int) -> Path:
    base = os.environ.get("SPARK_LSP_STATE_DIR") or platformdirs.user_runtime_dir("spark-lsp")
    return Path(base) / f"token-{port}"


def read_token(path: Path) -> str:
    try:
        status = os.stat(path)
    except OSError as error:
        raise TokenFileError(f"cannot read the token file {path}: {error.strerror}") from None
    if not stat.S_ISREG(status.st_mode):
        raise TokenFileError(f"the token file {path} is not a regular file")
    if status.st_mode & 0o077:
        raise TokenFileError(
            f"the token file {path} is readable by other users; run: chmod 600 {path}"
        )
    token = path.read_text(encoding="utf-8").strip()
    if len(token) < MIN_TOKEN_CHARACTERS:
        raise TokenFileError(
            f"the token in {path} is shorter than {MIN_TOKEN_CHARACTERS} characters"
        )
    return token


def write_new_token(path: Path) -> str:
    """A new random token, written to ``path`` (0600; the folder is created 0700)."""
    token = secrets.token_urlsafe(32)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _check_folder(path.parent)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(token + "\n")
    except OSError as error:
        raise TokenFileError(f"cannot write the token file {path}: {error.strerror}") from None
    return token


def _check_folder(folder: Path) -> None:
    """Another user must not be able to swap the token file."""
    try:
        check_not_writable_by_others(folder, "token file's folder")
    except PrivateFolderError as error:
        raise TokenFileError(str(error)) from None


def token_for(token_file: str | None, port: int) -> tuple[str, Path, bool]:
    """(the token, its file, whether this start created the file and should remove it)."""
    if token_file is not None:
        path = Path(token_file).expanduser()
        if path.exists():
            return read_token(path), path, False
        return write_new_token(path), path, False
    path = default_token_path(port)
    return write_new_token(path), path, True
