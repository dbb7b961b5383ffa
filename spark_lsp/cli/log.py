"""Logging for every command: one handler, to stderr or a file."""

from __future__ import annotations

import logging
import sys

from spark_lsp.cli.errors import UsageError

LOG_LEVELS = ("debug", "info", "warning", "error")


def configure_logging(level: str, log_file: str | None) -> None:
    try:
        handler: logging.Handler = (
            logging.FileHandler(log_file, encoding="utf-8")
            if log_file
            else logging.StreamHandler(sys.stderr)
        )
    except OSError as error:
        raise UsageError(f"cannot open log file {log_file}: {error.strerror}") from None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # pygls logs every message body at INFO; keep that for debug sessions only.
    logging.getLogger("pygls").setLevel(max(root.level, logging.WARNING))
