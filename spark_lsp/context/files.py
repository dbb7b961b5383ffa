"""Reading a repository's files without trusting them.

Anything in a workspace may be hostile: a committed symlink to ``/dev/zero`` or to a file outside
the workspace, a FIFO that blocks whoever opens it, a gigantic file. So a file is read only when
it is a regular file (checked on the open descriptor, opened without following a final symlink
and without blocking), its real path lies inside its workspace root, and it is within a size
cap; else it reads as None. Callers run these reads on a worker thread, never the event loop.

Git's ignore rules come from the ``.gitignore`` of the root and of every folder below it, each
read the same careful way and cached by its size and mtime; a ``.gitignore`` that exists but
cannot be read (too large, not a regular file, no permission) means nothing in its folder is
read, which is logged once per folder.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
from pathlib import Path

import pathspec

logger = logging.getLogger(__name__)

MAX_FILE_BYTES = 512 * 1024
MAX_GITIGNORE_BYTES = 256 * 1024
ALWAYS_IGNORED = (".git/", "__pycache__/", "node_modules/", ".venv/", "venv/", ".tox/")


class Unreadable(Exception):
    """A file that exists but must not or cannot be read (a reason for the log)."""


def inside(path: Path, root: Path) -> bool:
    """Whether ``path``'s real location (symlinks resolved) lies inside ``root``'s."""
    try:
        real = Path(os.path.realpath(path))
        return real.is_relative_to(os.path.realpath(root))
    except (OSError, ValueError, RuntimeError):
        return False


def read_regular_file(path: Path, root: Path, limit: int) -> bytes | None:
    """The bytes of a regular file inside ``root`` of at most ``limit`` bytes; None when it does
    not exist. Raises Unreadable for anything else (a symlink out of the root, a FIFO, a device,
    a directory, too large, no permission)."""
    if not inside(path, root):
        raise Unreadable(f"{path} lies outside {root}")
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise Unreadable(f"{path}: {error.strerror}") from None
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise Unreadable(f"{path} is not a regular file")
        if status.st_size > limit:
            raise Unreadable(f"{path} is larger than {limit} bytes")
        chunks = []
        size = 0
        while chunk := os.read(descriptor, min(65536, limit + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:  # it grew while being read
                raise Unreadable(f"{path} is larger than {limit} bytes")
        return b"".join(chunks)
    except OSError as error:
        raise Unreadable(f"{path}: {error.strerror}") from None
    finally:
        os.close(descriptor)


_UNREADABLE = object()


class IgnoreRules:
    """Git's ignore rules under one workspace root. Thread-safe."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._always = pathspec.GitIgnoreSpec.from_lines(ALWAYS_IGNORED)
        self._specs: dict[Path, tuple[tuple[int, int] | None, object]] = {}
        self._warned: set[Path] = set()
        self._lock = threading.Lock()

    def ignored(self, path: Path, is_dir: bool = False) -> bool:
        """Whether ``path`` (inside the root) is ignored: by the rules, because a folder above it
        is, or because a folder above it has an unreadable ``.gitignore``."""
        try:
            parts = path.relative_to(self.root).parts
        except ValueError:
            return True
        for depth in range(1, len(parts) + 1):
            if self._matches(parts[:depth], is_dir or depth < len(parts)):
                return True
        return False

    def _matches(self, parts: tuple[str, ...], is_dir: bool) -> bool:
        """The last rule that matches ``parts`` decides, the deepest ``.gitignore`` last."""
        suffix = "/" if is_dir else ""
        decision = self._always.check_file("/".join(parts) + suffix).include
        for level in range(len(parts)):
            spec = self._spec(self.root.joinpath(*parts[:level]))
            if spec is _UNREADABLE:
                return True
            if isinstance(spec, pathspec.GitIgnoreSpec):
                result = spec.check_file("/".join(parts[level:]) + suffix)
                if result.include is not None:
                    decision = result.include
        return bool(decision)

    def _spec(self, folder: Path) -> object:
        """The folder's rules: a GitIgnoreSpec, None (no .gitignore) or _UNREADABLE."""
        gitignore = folder / ".gitignore"
        try:
            status = os.lstat(gitignore)
            key: tuple[int, int] | None = (status.st_size, status.st_mtime_ns)
        except FileNotFoundError:
            key = None
        except OSError:
            key = (-1, -1)
        with self._lock:
            cached = self._specs.get(folder)
            if cached is not None and cached[0] == key:
                return cached[1]
        spec = self._read(gitignore) if key is not None else None
        with self._lock:
            self._specs[folder] = (key, spec)
        return spec

    def _read(self, gitignore: Path) -> object:
        try:
            data = read_regular_file(gitignore, self.root, MAX_GITIGNORE_BYTES)
        except Unreadable as error:
            with self._lock:
                first = gitignore.parent not in self._warned
                self._warned.add(gitignore.parent)
            if first:
                logger.warning(
                    "cannot read %s (%s): nothing in %s is used as context",
                    gitignore,
                    error,
                    gitignore.parent,
                )
            return _UNREADABLE
        if data is None:
            return None
        lines = data.decode("utf-8", errors="replace").splitlines()
        return pathspec.GitIgnoreSpec.from_lines(lines)
