"""Document URIs and file paths: which documents live on disk, where, and in which language."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

# The LSP language ids of common source files, for paths that come without one.
LANGUAGE_IDS = {
    ".py": "python",
    ".js": "javascript",
    ".ts": "typescript",
    ".rs": "rust",
    ".go": "go",
    ".lua": "lua",
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".java": "java",
    ".rb": "ruby",
}


def language_id(path: str | Path, unknown: str) -> str:
    """The language id of a file by its suffix, ``unknown`` for other suffixes."""
    return LANGUAGE_IDS.get(Path(path).suffix, unknown)


def named_path(uri: str) -> str | None:
    """The path a URI names, whatever its scheme (``untitled:/ws/.env``, ``git:/ws/a.py?ref``,
    ``fugitive:///ws/.git//0/a.py``): its path part, percent-decoded; None when it has none."""
    path = unquote(urlparse(uri).path)
    return path or None


def uri_to_path(uri: str) -> Path | None:
    """The file a ``file:`` URI names; None for other schemes (untitled buffers, remote files)."""
    parsed = urlparse(uri)
    return Path(unquote(parsed.path)) if parsed.scheme == "file" else None
