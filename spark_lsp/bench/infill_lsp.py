"""``bench infill --lsp``: the pipeline path through the real server, as an editor asks. Each
document is opened once (didOpen); for each masked line the line is erased (or partly typed)
by a didChange, an Invoked inlineCompletion request is sent at the cursor, the line is put back,
and the benchmark pauses while the server grows a capped window (progressive context), as a
user pauses between requests. A document's first request is its cold one."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from spark_lsp.bench.infill_cases import MaskedLine
from spark_lsp.bench.infill_paths import Outcomes, first_line
from spark_lsp.bench.lsp_session import LspSession
from spark_lsp.documents import line_content

INVOKED = 1
PAUSE_LIMIT_S = 60.0
PATH = "pipeline over LSP"


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def code_points(text: str, units: int) -> int:
    """How many of ``text``'s characters ``units`` UTF-16 code units cover."""
    counted = 0
    for index, character in enumerate(text):
        if counted >= units:
            return index
        counted += 2 if ord(character) > 0xFFFF else 1
    return len(text)


def applied(typed: str, answer: dict[str, Any]) -> tuple[str | None, bool]:
    """The masked line with the answer's first item applied (its first line), and whether the
    item is a block; (None, False): nothing shown."""
    items = (answer.get("result") or {}).get("items") or []
    if not items:
        return None, False
    item = items[0]
    start = code_points(typed, item["range"]["start"]["character"])
    end = code_points(typed, item["range"]["end"]["character"])
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
        params = {
            "textDocument": {"uri": uri},
            "position": {"line": case.line, "character": utf16_length(typed)},
            "context": {"triggerKind": INVOKED},
        }
        started = time.perf_counter()
        answer = await self.session.request("textDocument/inlineCompletion", params)
        ms = (time.perf_counter() - started) * 1000
        shown, block = applied(typed, answer)
        outcomes.add(PATH, case, typed, shown, ms, block)
        if cold:
            outcomes.cold.append({"document": case.document, "pipeline_ms": round(ms, 1)})
        self._replace(uri, case, typed, line_content(case.lines[case.line]))
        await self._pause()

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

    async def _pause(self) -> None:
        deadline = time.monotonic() + PAUSE_LIMIT_S
        while time.monotonic() < deadline:
            answer = await self.session.request("spark/debug/counters", None)
            if not (answer.get("result") or {}).get("cappedWindows"):
                return
            await asyncio.sleep(0.05)


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
