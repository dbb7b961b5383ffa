"""Logging for every command: one handler, to stderr or a file.

Logs never hold a header, a key or (below ``debug``) document text. The HTTP/2 and connection
libraries log request headers at debug level (hpack's lines hold the encoded Authorization
header): they are capped at WARNING whatever the level. A log file is created readable by its
owner only (0600). Strings a client sends (a URI, a command's argument, a reason) reach the
log cut: each string argument of a line to a few hundred characters, a whole line (and each line
of a traceback) to a few thousand, with the number of characters left out.
"""

from __future__ import annotations

import logging
import os
import sys
from types import TracebackType

from spark_lsp.cli.errors import UsageError

LOG_LEVELS = ("debug", "info", "warning", "error")
# Libraries whose debug lines carry headers (the API key) or whole message bodies.
CAPPED_LOGGERS = ("hpack", "h2", "httpcore", "httpx", "hypercorn", "websockets")
MAX_LOGGED_ARGUMENT_CHARACTERS = 500
MAX_LOGGED_LINE_CHARACTERS = 2000


ExceptionInfo = (
    tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]
)


def cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... [{len(text) - limit:,} more characters]"


class CuttingFormatter(logging.Formatter):
    """A formatter that holds every line to a bounded length (see the module's doc)."""

    def format(self, record: logging.LogRecord) -> str:
        record = logging.makeLogRecord(record.__dict__)  # other handlers see the record whole
        if isinstance(record.args, tuple):
            record.args = tuple(
                cut(arg, MAX_LOGGED_ARGUMENT_CHARACTERS) if isinstance(arg, str) else arg
                for arg in record.args
            )
        record.msg, record.args = cut(record.getMessage(), MAX_LOGGED_LINE_CHARACTERS), ()
        return super().format(record)

    def formatException(self, ei: ExceptionInfo) -> str:
        text = super().formatException(ei)
        return "\n".join(cut(line, MAX_LOGGED_LINE_CHARACTERS) for line in text.splitlines())


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
    handler.setFormatter(CuttingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # pygls logs every message body at INFO (document text included).
    logging.getLogger("pygls").setLevel(max(root.level, logging.WARNING))
    for name in CAPPED_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
