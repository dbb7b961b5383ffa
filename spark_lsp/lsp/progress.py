"""Work the user waits for, made visible: server-started work-done progress with a cancel
button, and the ``spark/status`` generating state, around one code action's model call."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from lsprotocol import types

from spark_lsp.actions.service import Progress
from spark_lsp.engine import CancelToken
from spark_lsp.lsp.client import Client
from spark_lsp.lsp.status import StatusReporter


def action_progress(client: Client, status: StatusReporter) -> Progress:
    """Progress for the action service: begun when the model starts, ended when it stops; the
    client's cancel button cancels the token the service watches."""

    @contextlib.asynccontextmanager
    async def progress(title: str) -> AsyncIterator[CancelToken]:
        cancel = CancelToken()
        with status.generating(title.removeprefix("spark-lsp: ")):
            begin = types.WorkDoneProgressBegin(title=title, message="generating", cancellable=True)
            token = await client.begin_progress("action", begin)
            if token is not None:
                client.on_progress_cancelled(token, lambda: cancel.cancel("cancelled by the user"))
            try:
                yield cancel
            finally:
                if token is not None:
                    client.end_progress(token, types.WorkDoneProgressEnd())

    return progress
