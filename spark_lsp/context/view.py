"""What a gathering thread may read of the context service: the workspace, its definitions
index, the settings and the known display paths as they were when the gathering started. The
event loop owns the service and replaces these (new roots, new settings); a thread reads only
this frozen view, never the service's attributes."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from spark_lsp.context.definitions import ImportedDefinitions
from spark_lsp.context.settings import ContextSettings
from spark_lsp.context.workspace import Workspace
from spark_lsp.uris import named_path, uri_to_path

logger = logging.getLogger(__name__)

GIT_FOLDER = ".git"


@dataclass(frozen=True)
class ContextView:
    workspace: Workspace
    definitions: ImportedDefinitions
    settings: ContextSettings
    paths: Mapping[str, str]  # display paths by URI, known when the view was taken

    def check_private(self, uri: str) -> bool:
        """Whether the document must stay out of prompts (touches the disk: off the loop). It
        is judged by the path its URI names, whatever the scheme (an untitled buffer saved
        later as ``.env``, a git or fugitive view of an ignored file); anything inside a
        ``.git`` folder is the repository's own and private; a URI that names no path is
        private unless ``context.namelessDocuments`` lets it in."""
        named = named_path(uri)
        if named is None:
            return not self.settings.nameless_documents
        if GIT_FOLDER in PurePosixPath(named).parts:
            return True
        path = Path(named)
        try:
            if not path.is_absolute():  # a bare name: only the deny list can judge it
                return self.workspace.denied(path)
            return self.workspace.private(path)
        except (OSError, RuntimeError, ValueError) as error:  # a symlink loop, a bad path
            logger.warning("%s is treated as private: %s", uri, error)
            return True

    def display_path(self, uri: str) -> str:
        """The document's path relative to its workspace root (its name outside the roots)."""
        known = self.paths.get(uri)
        return known if known is not None else self.path_on_disk(uri, touch_disk=False)

    def path_on_disk(self, uri: str, touch_disk: bool = True) -> str:
        path = uri_to_path(uri)
        if path is None:
            return uri.rsplit("/", 1)[-1]
        try:
            where = path.resolve() if touch_disk else Path(os.path.abspath(path))
        except (OSError, RuntimeError):
            return path.name
        root = self.workspace.root_of(where)
        return where.relative_to(root).as_posix() if root else path.name
