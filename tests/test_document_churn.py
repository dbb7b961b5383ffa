"""After didClose nothing of a document survives: open / request / close churn through the real
server (in-memory stdio, fake engine), requests left in flight when the document closes, leaves
every per-document map empty and the Python heap flat. (The heap, traced, rather than RSS: the
threads that gather context each get a malloc arena, which moves RSS by tens of megabytes from
run to run without any object kept.)"""

from __future__ import annotations

import asyncio
import gc
import itertools
import tracemalloc
from typing import Any

from spark_lsp.bench.fuzz import Harness
from spark_lsp.lsp.server import SparkLanguageServer
from spark_lsp.nextedit.service import NextEditService

ROUNDS = 200
# About 100 kB: a leak of the closed documents' text would be 15 MB and more.
TEXT = "".join(
    f"def handler_{i}(event):\n    return event['key_{i}'] * {i}\n\n" for i in range(2000)
)


def per_document_state(server: SparkLanguageServer) -> dict[str, int]:
    context, completions = server.context, server.completions
    next_edits = next(f for f in server.lifecycle._features if isinstance(f, NextEditService))
    return {
        "next-edit answers and histories": next_edits.tracked(),
        "open documents": len(server.store),
        "context frozen": len(context._frozen),
        "context placements": len(context._placements),
        "context private": len(context._private),
        "context paths": len(context._paths),
        "recent edits": len(context.recent._blocks),
        "similar snippets": len(context.similar._windows),
        "completion records": len(completions._documents._records),
    }


def heap_kib() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0] // 1024


def test_two_hundred_open_request_close_rounds_leave_nothing_behind() -> None:
    ids = itertools.count(1)

    async def scenario() -> tuple[dict[str, int], int, int, list[dict[str, Any]]]:
        harness = Harness()
        try:
            return await churn(harness)
        finally:
            harness.close()

    async def churn(harness: Harness) -> tuple[dict[str, int], int, int, list[dict[str, Any]]]:
        def send(method: str, params: object, request: bool = False) -> int:
            message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
            if request:
                message["id"] = next(ids)
            harness.send(message)
            return message.get("id", 0)

        async def answered(wanted: set[int]) -> list[dict[str, Any]]:
            for _ in range(6000):
                found = [m for m in harness.output.messages if m.get("id") in wanted]
                if len(found) == len(wanted) and all("method" not in m for m in found):
                    return found
                await asyncio.sleep(0.01)
            raise AssertionError("requests left unanswered")

        await answered({send("initialize", {"processId": None, "capabilities": {}}, True)})
        send("initialized", {})
        before = 0
        asked: set[int] = set()
        for round_ in range(ROUNDS):
            uri = f"file:///churn/module_{round_ % 7}.py"
            document = {"uri": uri, "languageId": "python", "version": 1, "text": TEXT}
            send("textDocument/didOpen", {"textDocument": document})
            position = {"line": 1, "character": 4}
            where = {"textDocument": {"uri": uri}, "position": position}
            asked.add(send("spark/debug/prompt", where, True))
            change = {"range": {"start": position, "end": position}, "text": "x"}
            versioned = {"uri": uri, "version": 2}
            send("textDocument/didChange", {"textDocument": versioned, "contentChanges": [change]})
            asked.add(
                send("spark/nextEdit", {"textDocument": versioned, "position": position}, True)
            )
            asked.add(
                send(
                    "textDocument/inlineCompletion", {**where, "context": {"triggerKind": 1}}, True
                )
            )
            await asyncio.sleep(0.01)  # the handlers start, then the document closes under them
            send("textDocument/didClose", {"textDocument": {"uri": uri}})
            if round_ == ROUNDS // 4:
                await answered(asked)
                before = heap_kib()
        answers = await answered(asked)
        await asyncio.sleep(0.5)  # background work of the last rounds settles
        return per_document_state(harness.server), before, heap_kib(), answers

    tracemalloc.start()
    try:
        state, before, after, answers = asyncio.run(scenario())
    finally:
        tracemalloc.stop()
    assert {name: count for name, count in state.items() if count} == {}
    assert not [a for a in answers if a.get("error", {}).get("code") == -32603]  # no internal error
    # KiB: flat. One closed text kept per round would be 15 MB; the fake engine keeps each
    # request it saw (about 2 MB of prompts).
    assert after - before < 6 * 1024, (before, after)
