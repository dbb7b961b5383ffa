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
from collections.abc import Sequence
from pathlib import Path

from spark_lsp.context.files import MAX_FILE_BYTES, IgnoreRules, Unreadable, read_regular_file

logger = logging.getLogger(__name__)


class Workspace:
    def __init__(self, roots: Sequence[Path], private_patterns: Sequence[str] = ()) -> None:
        self.roots = [root.resolve() for root in roots if root.is_dir()]
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
        parts = path.relative_to(root).parts if root is not None else (path.name,)
        return any(
            fnmatch.fnmatchcase(part.lower(), pattern)
            for part in parts
            for pattern in self.private_patterns
        )

    def private(self, path: Path) -> bool:
        """Whether ``path`` must stay out of prompts: on the deny list, or inside a root and
        ignored by git. (A file outside every root is private only by the deny list.)"""
        resolved = path.resolve()
        if self.denied(resolved):
            return True
        return self.root_of(resolved) is not None and self.ignored(resolved)

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
