"""What features hear of documents and of the session: a document opened, changed (its edited
lines) or closed, and the server shutting down. A feature overrides the hooks it needs; the
text synchronisation calls every registered feature's, so nothing is wired by hand and a hook
cannot be forgotten for one caller.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from spark_lsp.documents import DocumentSnapshot

logger = logging.getLogger(__name__)


class DocumentHooks:
    """Each hook does nothing unless overridden; hooks run on the event loop and must not block."""

    def opened(self, snapshot: DocumentSnapshot) -> None:
        """A document opened (or reopened: anything kept of it before is gone)."""

    def changed(self, uri: str, first_line: int, last_line: int) -> None:
        """Lines [first_line, last_line] of ``uri`` were edited (after the store applied it)."""

    def closed(self, uri: str) -> None:
        """Forget ``uri``: nothing may be kept of a closed document."""

    def shutdown(self) -> None:
        """The session ends: stop background work, free what is held."""


class Lifecycle:
    """The registered features' hooks, called in registration order. A hook that fails is
    logged and the others still run: one feature's bug never leaves another's state stale."""

    def __init__(self, features: Sequence[DocumentHooks] = ()) -> None:
        self._features = list(features)

    def add(self, feature: DocumentHooks) -> None:
        self._features.append(feature)

    def opened(self, snapshot: DocumentSnapshot) -> None:
        self._each(lambda feature: feature.opened(snapshot), "opened")

    def changed(self, uri: str, first_line: int, last_line: int) -> None:
        self._each(lambda feature: feature.changed(uri, first_line, last_line), "changed")

    def closed(self, uri: str) -> None:
        self._each(lambda feature: feature.closed(uri), "closed")

    def shutdown(self) -> None:
        self._each(lambda feature: feature.shutdown(), "shutdown")

    def _each(self, call: Callable[[DocumentHooks], None], hook: str) -> None:
        for feature in self._features:
            try:
                call(feature)
            except Exception:
                logger.exception("the %s hook of %s failed", hook, type(feature).__name__)
