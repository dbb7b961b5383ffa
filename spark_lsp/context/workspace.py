"""The workspace as context sees it: its roots, which files are private, and their text.

A file is private when git ignores it (nested ``.gitignore`` files honoured, see ``files.py``)
or when a part of its path matches the deny list (``context.privateFiles``: ``.env*``, ``*.pem``,
``*.key``, ``id_*``, ``*secret*`` by default). Private files never enter a prompt: not as
definitions, not as similar snippets or recent edits of an open document, and not as the current
document (it gets no suggestions). Every check may touch the disk: call it off the event loop.
"""

from __future__ import annotations

import fnmatch
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from spark_lsp.context.files import MAX_FILE_BYTES, IgnoreRules, Unreadable, read_regular_file

logger = logging.getLogger(__name__)

MAX_LINKS = 40  # symlinks followed when naming a file (the kernel's own limit)


class Workspace:
    def __init__(self, roots: Sequence[Path], private_patterns: Sequence[str] = ()) -> None:
        self.roots = [root.resolve() for root in roots if root.is_dir()]
        # The roots as named, before symlinks are followed: a path is judged by both names.
        self._aliases = {Path(os.path.abspath(root)): root.resolve() for root in roots}
        self.private_patterns = tuple(pattern.lower() for pattern in private_patterns)
        self._rules = {root: IgnoreRules(root) for root in self.roots}

    def root_of(self, path: Path) -> Path | None:
        return next((root for root in self.roots if path.is_relative_to(root)), None)

    def ignored(self, path: Path) -> bool:
        """Whether git ignores ``path`` (a resolved path); everything outside the roots is."""
        root = self.root_of(path)
        if root is None:
            return True
        return self._rules[root].ignored(path)

    def denied(self, path: Path) -> bool:
        """Whether a part of ``path`` (below its root, or its name outside the roots) matches
        the deny list."""
        root = self.root_of(path)
        parts = path.relative_to(root).parts if root is not None else path.parts
        return any(
            fnmatch.fnmatchcase(part.lower(), pattern)
            for part in parts
            for pattern in self.private_patterns
        )

    def private(self, path: Path) -> bool:
        """Whether ``path`` must stay out of prompts: on the deny list, or inside a root and
        ignored by git, under any name it goes by: its own, each symlink's on the way, its
        target's (a symlink ``.env`` to a plain file is private, and so is a plain name for an
        ignored one). A file outside every root is private only by the deny list, which then
        looks at every folder name."""
        return any(
            self.denied(name) or (self.root_of(name) is not None and self.ignored(name))
            for name in self._names(path)
        )

    def _names(self, path: Path) -> list[Path]:
        """``path`` as named, each symlink's target in turn (at most MAX_LINKS), the resolved
        path; each under the resolved root it was named by."""
        names, named = [], Path(os.path.abspath(path))
        for _ in range(MAX_LINKS):
            names.append(self._under_root(named))
            try:
                target = os.readlink(named)
            except OSError:  # not a symlink (or gone)
                break
            named = Path(os.path.abspath(named.parent / target))
        names.append(path.resolve())
        return names

    def _under_root(self, named: Path) -> Path:
        for alias, root in self._aliases.items():
            if named.is_relative_to(alias):
                return root / named.relative_to(alias)
        return named

    def read_text(self, path: Path) -> str | None:
        """A workspace file's text, or None when it is private, outside the roots, not a regular
        file, too large, binary or unreadable."""
        root = self.root_of(path)
        if root is None or self.private(path):
            return None
        try:
            data = read_regular_file(path, root, MAX_FILE_BYTES)
        except Unreadable as error:
            logger.debug("not read: %s", error)
            return None
        if data is None or b"\0" in data[:8192]:
            return None
        return data.decode("utf-8", errors="replace")
