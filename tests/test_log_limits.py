"""Strings a client sends reach the log cut, whatever their size."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from spark_lsp.cli.log import (
    MAX_LOGGED_ARGUMENT_CHARACTERS,
    MAX_LOGGED_LINE_CHARACTERS,
    CuttingFormatter,
)
from tests.raw_client import RawClient


def test_log_lines_cut_client_strings_and_say_how_much() -> None:
    formatter = CuttingFormatter("%(levelname)s %(message)s")
    huge = "y" * 5_000_000
    record = logging.LogRecord(
        "t", logging.INFO, __file__, 1, "%s accepted (%s)", (huge, "ok"), None
    )
    line = formatter.format(record)
    assert line.startswith("INFO yyy") and line.endswith(" more characters] accepted (ok)")
    assert f"[{len(huge) - MAX_LOGGED_ARGUMENT_CHARACTERS:,} more characters]" in line
    assert len(line) < MAX_LOGGED_ARGUMENT_CHARACTERS + 100
    assert record.args == (huge, "ok")  # other handlers see the record whole
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "%s", ([huge],), None)
    assert len(formatter.format(record)) < MAX_LOGGED_LINE_CHARACTERS + 100
    try:
        raise ValueError(huge)
    except ValueError:
        failure = sys.exc_info()
    record = logging.LogRecord("t", logging.ERROR, __file__, 1, "failed", (), failure)
    lines = formatter.format(record).splitlines()
    assert (
        lines[-1].startswith("ValueError: yyy")
        and max(map(len, lines)) < MAX_LOGGED_LINE_CHARACTERS + 100
    )


def test_a_huge_command_argument_makes_no_huge_log_line(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    client = RawClient("--log-file", str(log))
    try:
        client.initialize()
        argument = "y" * 5_000_000
        for command, arguments in (
            ("spark-lsp.didAcceptNextEdit", [argument]),
            ("spark-lsp.didAcceptNextEdit", [[argument]]),  # not a string: cut all the same
            ("spark-lsp.didAcceptCompletionItem", [argument]),
        ):
            params = {"command": command, "arguments": arguments}
            assert "result" in client.request("workspace/executeCommand", params)
    finally:
        client.close()
    lines = log.read_text().splitlines()
    assert sum("yyyy" in line for line in lines) == 3
    assert max(len(line) for line in lines) < MAX_LOGGED_LINE_CHARACTERS + 200
