"""Work-done progress that the server starts itself (``window/workDoneProgress/create``)."""

from __future__ import annotations

import logging
import uuid

from lsprotocol import types
from pygls.lsp.server import LanguageServer

logger = logging.getLogger(__name__)


async def begin_progress(
    server: LanguageServer, kind: str, begin: types.WorkDoneProgressBegin
) -> str | None:
    """A new progress token, begun, when the client supports work-done progress and accepts
    the token; None otherwise (the work then goes on without progress)."""
    capabilities = server.client_capabilities
    window = capabilities.window if capabilities else None
    if not (window and window.work_done_progress):
        return None
    token = f"spark-lsp/{kind}/{uuid.uuid4()}"
    try:
        await server.work_done_progress.create_async(token)
    except Exception as error:  # the client refused the token
        logger.info("no work-done progress: %s", error)
        return None
    server.work_done_progress.begin(token, begin)
    return token
