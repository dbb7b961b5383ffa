"""A minimal JSON-RPC client over a child process's stdio, for messages no LSP library will send."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
from queue import Empty, Queue
from typing import Any

SERVER_COMMAND = [sys.executable, "-m", "spark_lsp", "--no-preload"]


class RawClient:
    def __init__(self, *extra_args: str, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            [*SERVER_COMMAND, *extra_args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **(env or {})},
        )
        self._ids = itertools.count(1)
        self.messages: Queue[dict[str, Any]] = Queue()
        self.stray_stdout: list[bytes] = []
        # Server-to-client requests answered at once, by method (the message is still queued).
        self.answers: dict[str, Any] = {}
        self._write_lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        while True:
            header = stream.readline()
            if not header:
                return
            if not header.startswith(b"Content-Length: "):
                self.stray_stdout.append(header)
                continue
            length = int(header.split(b":")[1])
            while stream.readline() not in (b"\r\n", b""):
                pass
            message = json.loads(stream.read(length))
            if "id" in message and message.get("method") in self.answers:
                self.send(
                    {
                        "jsonrpc": "2.0",
                        "id": message["id"],
                        "result": self.answers[message["method"]],
                    }
                )
            self.messages.put(message)

    def send(self, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        assert self.process.stdin is not None
        with self._write_lock:
            self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            self.process.stdin.flush()

    def notify(self, method: str, params: Any = None) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def request(self, method: str, params: Any = None, timeout: float = 20) -> dict[str, Any]:
        msg_id = next(self._ids)
        self.send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        return self.wait_for(lambda m: m.get("id") == msg_id and "method" not in m, timeout)

    def wait_for(self, predicate: Any, timeout: float = 20) -> dict[str, Any]:
        skipped = []
        try:
            while True:
                message = self.messages.get(timeout=timeout)
                if predicate(message):
                    return message
                skipped.append(message)
        except Empty:
            raise AssertionError(f"no matching message within {timeout}s; saw {skipped}") from None
        finally:
            for message in skipped:
                self.messages.put(message)

    def initialize(
        self, capabilities: dict[str, Any] | None = None, options: Any = None
    ) -> dict[str, Any]:
        params = {"processId": None, "rootUri": None, "capabilities": capabilities or {}}
        if options is not None:
            params["initializationOptions"] = options
        response = self.request("initialize", params)
        self.notify("initialized", {})
        return response

    def close(self) -> int:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        return self.process.returncode
