"""A minimal LSP client over the real server's stdio, for benchmarks that measure what an editor
sees: it starts ``spark-lsp serve``, initialises, waits for the model, and sends notifications
and requests with their answers awaited."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import Any

from spark_lsp.lsp.framing import read_frames

ANSWER_WAIT_S = 600.0
# A checkout whose server to measure instead of this one (side by side with an older version:
# the same benchmark code, the other server): the server process starts in that folder.
SERVER_SOURCE = "SPARK_LSP_BENCH_SERVER_SOURCE"


class LspSession:
    def __init__(self, server_args: list[str], options: dict[str, Any] | None = None) -> None:
        self.server_args = server_args
        self.options = options  # initializationOptions: the editor options
        self._answers: dict[int, tuple[dict[str, Any], float]] = {}
        self._ready = asyncio.Event()
        self._next_id = 0

    async def start(self) -> None:
        command = [sys.executable, "-m", "spark_lsp", "serve", *self.server_args]
        self.process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            limit=1 << 26,
            cwd=os.environ.get(SERVER_SOURCE) or None,
        )
        self._reader = asyncio.create_task(self._read())
        capabilities = {
            "textDocument": {"inlineCompletion": {}},
            "general": {"positionEncodings": ["utf-16"]},
        }
        await self.request(
            "initialize",
            {
                "processId": None,
                "rootUri": None,
                "capabilities": capabilities,
                "initializationOptions": self.options,
            },
        )
        self.notify("initialized", {})
        await asyncio.wait_for(self._ready.wait(), timeout=ANSWER_WAIT_S)

    async def stop(self) -> None:
        try:
            await asyncio.wait_for(self.request("shutdown", None), timeout=30)
            self.notify("exit", None)
            await asyncio.wait_for(self.process.wait(), timeout=30)
        except (TimeoutError, ConnectionError):
            pass
        finally:
            self._reader.cancel()
            if self.process.returncode is None:
                self.process.kill()
                await self.process.wait()

    def notify(self, method: str, params: Any) -> None:
        self._send({"method": method, "params": params})

    async def request(self, method: str, params: Any) -> dict[str, Any]:
        """The answer's message (with ``result`` or ``error``)."""
        message, _ = await self.timed_request(method, params)
        return message

    async def timed_request(self, method: str, params: Any) -> tuple[dict[str, Any], float]:
        """The answer's message and the milliseconds from sending to receiving it."""
        self._next_id += 1
        message_id = self._next_id
        sent = time.perf_counter()
        self._send({"id": message_id, "method": method, "params": params})
        assert self.process.stdin is not None
        await self.process.stdin.drain()
        deadline = time.monotonic() + ANSWER_WAIT_S
        while message_id not in self._answers:
            if time.monotonic() > deadline or self.process.returncode is not None:
                raise TimeoutError(f"{method} was not answered")
            await asyncio.sleep(0.002)
        message, received = self._answers.pop(message_id)
        return message, (received - sent) * 1000

    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    async def _read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        async for body in read_frames(stdout):  # the server's own frame reader
            message = json.loads(body)
            if "method" not in message:
                self._answers[message["id"]] = (message, time.perf_counter())
            elif "id" in message:  # the server's own requests: progress tokens, configuration
                self._send({"id": message["id"], "result": None})
            elif message["method"] == "spark/status" and message["params"]["state"] == "ready":
                self._ready.set()
