"""Document URIs and file paths: which documents live on disk, and where."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse


def uri_to_path(uri: str) -> Path | None:
    """The file a ``file:`` URI names; None for other schemes (untitled buffers, remote files)."""
    parsed = urlparse(uri)
    return Path(unquote(parsed.path)) if parsed.scheme == "file" else None
