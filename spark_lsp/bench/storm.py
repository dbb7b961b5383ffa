"""``spark-lsp bench storm``: the real server under an edit storm, against the real model.

A client (this module, over the server's stdio, as an editor would) types into a real source
file at ``--rate`` edits a second for ``--seconds`` seconds: mostly characters at the cursor,
some backspaces and newlines, now and then a jump elsewhere. After every edit it sends an
Automatic ``textDocument/inlineCompletion`` at the cursor, and cancels a random pending request
now and then. Reported: requests answered (all must be), p50/p99 answer time, the server's peak
RSS (VmHWM), stale answers, and whether the server's text equals the client's at the end.

A stale answer is a suggestion for version v that arrives after the answer to a request for a
later version: by then the server had that later edit, and the suggestion belongs to text the
user no longer has. It must never happen.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spark_lsp.bench.report import format_table, write_json
from spark_lsp.lsp.framing import read_frames
from spark_lsp.percentiles import median, percentile

URI = "file:///storm/decoder.py"
ANSWER_WAIT_S = 120.0


def source_text(lines: int | None = None) -> str:
    """The standard library's ``json/decoder.py`` (356 lines), or its first ``lines`` lines."""
    import json.decoder as module

    text = Path(module.__file__).read_text(encoding="utf-8")
    return text if lines is None else "".join(text.splitlines(keepends=True)[:lines])


def utf16_position(text: str, offset: int) -> dict[str, int]:
    line = text.count("\n", 0, offset)
    start = text.rfind("\n", 0, offset) + 1
    return {"line": line, "character": len(text[start:offset].encode("utf-16-le")) // 2}


@dataclass
class Sent:
    version: int
    at: float
    answered_at: float | None = None
    items: int = 0
    error: int | None = None


@dataclass
class Typist:
    """The client's copy of the document and its cursor. It retypes lines of the file (so the
    model sees code, not noise) on a new line below a random one, with some backspaces and now
    and then a jump elsewhere."""

    text: str
    rng: random.Random
    cursor: int = 0
    version: int = 1
    script: str = ""

    def jump(self) -> None:
        ends = [i for i, c in enumerate(self.text) if c == "\n"]
        self.cursor = self.rng.choice(ends) if ends else len(self.text)
        lines = [line for line in self.text.splitlines() if line.strip()]
        self.script = "\n" + (self.rng.choice(lines) if lines else "pass")

    def edit(self) -> dict[str, Any]:
        """The next edit as a didChange content change (positions before the edit)."""
        roll = self.rng.random()
        if roll < 0.01 or not self.script:
            self.jump()
        start = end = self.cursor
        if roll < 0.06 and self.cursor > 0:
            inserted = ""
            start = self.cursor - 1  # one code point, astral ones included
        else:
            inserted, self.script = self.script[0], self.script[1:]
        change = {
            "range": {
                "start": utf16_position(self.text, start),
                "end": utf16_position(self.text, end),
            },
            "text": inserted,
        }
        self.text = self.text[:start] + inserted + self.text[end:]
        self.cursor = start + len(inserted)
        self.version += 1
        return change


@dataclass
class Storm:
    rate: float
    seconds: float
    cancel_share: float
    seed: int
    server_args: list[str]
    lines: int | None = None
    sent: dict[int, Sent] = field(default_factory=dict)
    rss_samples: list[int] = field(default_factory=list)

    async def run(self) -> dict[str, Any]:
        command = [sys.executable, "-m", "spark_lsp", "serve", *self.server_args]
        self.process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            limit=1 << 26,
        )
        self._answers: dict[int, dict[str, Any]] = {}
        self._ready = asyncio.Event()
        self._next_id = 0
        reader = asyncio.create_task(self._read())
        try:
            typist = await self._start()
            await self._type(typist)
            return await self._finish(typist)
        finally:
            reader.cancel()
            if self.process.returncode is None:
                self.process.kill()
            await self.process.wait()

    # -- the wire ----------------------------------------------------------------------------

    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def _request(self, method: str, params: Any) -> int:
        self._next_id += 1
        self._send({"id": self._next_id, "method": method, "params": params})
        return self._next_id

    async def _answer(self, message_id: int, timeout: float = ANSWER_WAIT_S) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while message_id not in self._answers:
            if time.monotonic() > deadline:
                raise TimeoutError(f"request {message_id} was not answered in {timeout} s")
            await asyncio.sleep(0.01)
        return self._answers.pop(message_id)

    async def _read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        async for body in read_frames(stdout):  # the server's own frame reader
            self._receive(json.loads(body), time.perf_counter())

    def _receive(self, message: dict[str, Any], now: float) -> None:
        if "method" in message:
            if "id" in message:  # the server's own requests: progress tokens, configuration
                self._send({"id": message["id"], "result": None})
            elif message["method"] == "spark/status" and message["params"]["state"] == "ready":
                self._ready.set()
            return
        sent = self.sent.get(message.get("id"))  # type: ignore[arg-type]
        if sent is None:
            self._answers[message["id"]] = message
            return
        sent.answered_at = now
        if "error" in message:
            sent.error = message["error"].get("code")
        else:
            sent.items = len((message.get("result") or {}).get("items", []))

    # -- the session -------------------------------------------------------------------------

    async def _start(self) -> Typist:
        capabilities = {
            "textDocument": {"inlineCompletion": {}},
            "general": {"positionEncodings": ["utf-16"]},
        }
        init = self._request(
            "initialize", {"processId": None, "rootUri": None, "capabilities": capabilities}
        )
        await self._answer(init, timeout=60)
        self._send({"method": "initialized", "params": {}})
        await asyncio.wait_for(self._ready.wait(), timeout=600)
        typist = Typist(source_text(self.lines), random.Random(self.seed))
        item = {"uri": URI, "languageId": "python", "version": 1, "text": typist.text}
        self._send({"method": "textDocument/didOpen", "params": {"textDocument": item}})
        return typist

    async def _type(self, typist: Typist) -> None:
        rng = random.Random(self.seed + 1)
        started = time.perf_counter()
        edits = int(self.rate * self.seconds)
        for index in range(edits):
            change = typist.edit()
            self._send(
                {
                    "method": "textDocument/didChange",
                    "params": {
                        "textDocument": {"uri": URI, "version": typist.version},
                        "contentChanges": [change],
                    },
                }
            )
            params = {
                "textDocument": {"uri": URI},
                "position": utf16_position(typist.text, typist.cursor),
                "context": {"triggerKind": 2},
            }
            self._next_id += 1
            self.sent[self._next_id] = Sent(typist.version, time.perf_counter())
            self._send(
                {"id": self._next_id, "method": "textDocument/inlineCompletion", "params": params}
            )
            if rng.random() < self.cancel_share:
                pending = [i for i, s in self.sent.items() if s.answered_at is None]
                if pending:
                    self._send(
                        {"method": "$/cancelRequest", "params": {"id": rng.choice(pending[-20:])}}
                    )
            if index % 50 == 0:
                self.rss_samples.append(_rss_kib(self.process.pid, "VmRSS"))
            delay = started + (index + 1) / self.rate - time.perf_counter()
            await asyncio.sleep(max(delay, 0))
            assert self.process.stdin is not None
            await self.process.stdin.drain()

    async def _finish(self, typist: Typist) -> dict[str, Any]:
        deadline = time.monotonic() + ANSWER_WAIT_S
        while any(s.answered_at is None for s in self.sent.values()):
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        # After the storm the server still serves: an explicit (Invoked) request at the cursor.
        params = {
            "textDocument": {"uri": URI},
            "position": utf16_position(typist.text, typist.cursor),
            "context": {"triggerKind": 1},
        }
        asked = time.perf_counter()
        invoked = await self._answer(self._request("textDocument/inlineCompletion", params))
        self.after_storm = {
            "items": len((invoked.get("result") or {}).get("items", [])),
            "ms": round(1000 * (time.perf_counter() - asked), 1),
        }
        peak = _rss_kib(self.process.pid, "VmHWM")
        debug = await self._answer(self._request("spark/debug/document", {"uri": URI}))
        document = debug.get("result") or {}
        shutdown = self._request("shutdown", None)
        await self._answer(shutdown, timeout=30)
        self._send({"method": "exit"})
        return self._figures(typist, document, peak)

    def _figures(self, typist: Typist, document: dict[str, Any], peak_kib: int) -> dict[str, Any]:
        answered = [s for s in self.sent.values() if s.answered_at is not None]
        times = [1000 * (s.answered_at - s.at) for s in answered]  # type: ignore[operator]
        return {
            "edits": len(self.sent),
            "requests": len(self.sent),
            "answered": len(answered),
            "suggestions": sum(1 for s in answered if s.items),
            "cancelled": sum(1 for s in answered if s.error == -32800),
            "errors": sum(1 for s in answered if s.error not in (None, -32800)),
            "answer p50 ms": round(median(times), 1) if times else None,
            "answer p99 ms": round(percentile(times, 99), 1) if times else None,
            "stale answers": stale_answers(self.sent),
            "invoked after: items": self.after_storm["items"],
            "invoked after: ms": self.after_storm["ms"],
            "peak RSS MiB": round(peak_kib / 1024, 1),
            "max sampled RSS MiB": round(max(self.rss_samples, default=0) / 1024, 1),
            "final text equal": document.get("text") == typist.text
            and document.get("version") == typist.version
            and document.get("inSync") is True,
        }


def stale_answers(sent: dict[int, Sent]) -> int:
    """Suggestions for a version that arrived after an answer for a later version."""
    by_arrival = sorted(
        (s for s in sent.values() if s.answered_at is not None), key=lambda s: s.answered_at or 0
    )
    newest_answered, stale = 0, 0
    for answer in by_arrival:
        if answer.items and answer.version < newest_answered:
            stale += 1
        newest_answered = max(newest_answered, answer.version)
    return stale


def _rss_kib(pid: int, field_name: str) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    return 0


def storm(
    rate: float,
    seconds: float,
    cancel_share: float = 0.1,
    seed: int = 0,
    server_args: list[str] | None = None,
    lines: int | None = None,
) -> dict[str, Any]:
    return asyncio.run(Storm(rate, seconds, cancel_share, seed, server_args or [], lines).run())


def add_parser(benches: Any) -> None:
    parser = benches.add_parser(
        "storm", help="an edit storm with an inline request per edit, against the real model"
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to type (60)")
    parser.add_argument("--rate", type=float, default=200.0, help="edits a second (200)")
    parser.add_argument(
        "--cancel-share",
        type=float,
        default=0.1,
        help="share of edits followed by a random $/cancelRequest (0.1)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--lines", type=int, help="type into the first N lines of the file (default: all 356)"
    )
    parser.add_argument(
        "--server-args",
        default="",
        help='extra `spark-lsp serve` flags, e.g. "--model PATH --threads 2"',
    )
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")


def main(args: argparse.Namespace) -> int:
    figures = storm(
        args.rate,
        args.seconds,
        args.cancel_share,
        args.seed,
        shlex.split(args.server_args),
        args.lines,
    )
    print(format_table(("figure", "value"), list(figures.items())))
    write_json(args.json, "storm", {"rate": args.rate, "seconds": args.seconds, **figures})
    ok = (
        figures["answered"] == figures["requests"]
        and figures["stale answers"] == 0
        and figures["final text equal"]
        and figures["errors"] == 0
    )
    print("every request answered, no stale answer, final text equal" if ok else "FAILURES")
    return 0 if ok else 1
