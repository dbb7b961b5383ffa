"""``bench infill --lsp``: the pipeline path through the real server, as an editor asks. Each
document is opened once (didOpen); for each masked line the line is erased (or partly typed)
by a didChange, an Invoked inlineCompletion request is sent at the cursor, the line is put back,
and the benchmark pauses while the server grows a capped window (progressive context), as a
user pauses between requests. A document's first request is its cold one."""

from __future__ import annotations

import time
from typing import Any

from spark_lsp.bench.first_contact import INVOKED, inline_params
from spark_lsp.bench.infill_cases import MaskedLine
from spark_lsp.bench.infill_paths import Outcomes, first_line
from spark_lsp.bench.lsp_session import LspSession
from spark_lsp.bench.lsp_typing import warm_window
from spark_lsp.documents import (
    PositionEncoding,
    code_points_to_units,
    line_content,
    units_to_code_points,
)

UTF16 = PositionEncoding.UTF16
PAUSE_LIMIT_S = 60.0
PAUSE_POLL_S = 0.05
PATH = "pipeline over LSP"


def utf16_length(text: str) -> int:
    return code_points_to_units(text, len(text), UTF16)


def applied(typed: str, answer: dict[str, Any]) -> tuple[str | None, bool]:
    """The masked line with the answer's first item applied (its first line), and whether the
    item is a block; (None, False): nothing shown."""
    items = (answer.get("result") or {}).get("items") or []
    if not items:
        return None, False
    item = items[0]
    start = units_to_code_points(typed, item["range"]["start"]["character"], UTF16)
    end = units_to_code_points(typed, item["range"]["end"]["character"], UTF16)
    text = item["insertText"]
    text = text if isinstance(text, str) else text.get("value", "")
    return first_line(typed[:start] + text + typed[end:]), "\n" in text.strip("\n")


class OverLsp:
    def __init__(self, session: LspSession, cursor: str) -> None:
        self.session = session
        self.cursor = cursor
        self._open: str | None = None
        self._versions: dict[str, int] = {}

    async def run(self, case: MaskedLine, outcomes: Outcomes) -> None:
        typed = case.typed(self.cursor)
        uri = self._document(case)
        cold = self._versions[uri] == 1
        self._replace(uri, case, line_content(case.lines[case.line]), typed)
        params = inline_params(uri, case.line, utf16_length(typed), INVOKED)
        started = time.perf_counter()
        answer = await self.session.request("textDocument/inlineCompletion", params)
        ms = (time.perf_counter() - started) * 1000
        shown, block = applied(typed, answer)
        outcomes.add(PATH, case, typed, shown, ms, block)
        if cold:
            outcomes.cold.append({"document": case.document, "pipeline_ms": round(ms, 1)})
        self._replace(uri, case, typed, line_content(case.lines[case.line]))
        await warm_window(self.session, PAUSE_LIMIT_S, PAUSE_POLL_S)

    def close(self) -> None:
        if self._open is not None:
            self.session.notify("textDocument/didClose", {"textDocument": {"uri": self._open}})
            self._open = None

    def _document(self, case: MaskedLine) -> str:
        uri = f"file:///bench/infill/{case.document}"
        if self._open != uri:
            self.close()
            document = {
                "uri": uri,
                "languageId": "python",
                "version": 1,
                "text": "".join(case.lines),
            }
            self.session.notify("textDocument/didOpen", {"textDocument": document})
            self._open = uri
            self._versions[uri] = 1
        return uri

    def _replace(self, uri: str, case: MaskedLine, old: str, new: str) -> None:
        self._versions[uri] += 1
        change = {
            "range": {
                "start": {"line": case.line, "character": 0},
                "end": {"line": case.line, "character": utf16_length(old)},
            },
            "text": new,
        }
        self.session.notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": uri, "version": self._versions[uri]},
                "contentChanges": [change],
            },
        )


async def run_lsp(
    cases: list[MaskedLine],
    cursor: str,
    flags: list[str],
    outcomes: Outcomes,
    progress: Any = None,
) -> None:
    session = LspSession(flags)
    await session.start()
    runner = OverLsp(session, cursor)
    try:
        for index, case in enumerate(cases):
            await runner.run(case, outcomes)
            if progress is not None:
                progress(index + 1)
        runner.close()
    finally:
        await session.stop()
