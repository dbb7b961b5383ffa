"""Logging for every command: one handler, to stderr or a file.

Logs never hold a header, a key or (below ``debug``) document text. The HTTP/2 and connection
libraries log request headers at debug level (hpack's lines hold the encoded Authorization
header): they are capped at WARNING whatever the level. A log file is created readable by its
owner only (0600).
"""

from __future__ import annotations

import logging
import os
import sys

from spark_lsp.cli.errors import UsageError

LOG_LEVELS = ("debug", "info", "warning", "error")
# Libraries whose debug lines carry headers (the API key) or whole message bodies.
CAPPED_LOGGERS = ("hpack", "h2", "httpcore", "httpx", "hypercorn", "websockets")


def _open_private(log_file: str) -> logging.Handler:
    """A handler appending to ``log_file``, created 0600 (an existing file is made 0600)."""
    descriptor = os.open(log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.close(descriptor)
    os.chmod(log_file, 0o600)
    return logging.FileHandler(log_file, encoding="utf-8")


def configure_logging(level: str, log_file: str | None) -> None:
    try:
        handler: logging.Handler = (
            _open_private(log_file) if log_file else logging.StreamHandler(sys.stderr)
        )
    except OSError as error:
        raise UsageError(f"cannot open log file {log_file}: {error.strerror}") from None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # pygls logs every message body at INFO (document text included).
    logging.getLogger("pygls").setLevel(max(root.level, logging.WARNING))
    for name in CAPPED_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
