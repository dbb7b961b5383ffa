"""``spark-lsp bench fuzz``: a JSON-RPC fuzzer against the real server, in-process.

The server runs as it does on stdio (the same frame reader, protocol and features; only the
engine is the fast fake, so that a hundred thousand messages take minutes, not days) and gets a
random mix of valid traffic and hostile input: params of wrong types or missing fields, huge and
negative numbers, positions inside UTF-16 surrogate pairs, lone surrogates, deep nesting,
messages that are not JSON-RPC, frames that are not JSON or not UTF-8, over-long header lines,
requests before ``initialize`` and after ``shutdown``. A reference model applies the same
document changes to plain strings. The run fails on any crash (an internal error answer or an
error logged), any request left unanswered, or any open document that differs from the
reference (text, version, and whether it is in sync).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from spark_lsp.bench.report import format_table, write_json
from spark_lsp.engine.base import Engine
from spark_lsp.engine.fake import FakeEngine
from spark_lsp.engine.settings import EngineSettings
from spark_lsp.lsp.framing import MAX_HEADER_LINE_BYTES
from spark_lsp.lsp.server import SparkLanguageServer, create_server
from spark_lsp.lsp.transports import serve_reader

PIECES = ["a", "xyz", " ", "\t", "é", "中", "😀", "\U0001d518", "\n", "\r\n", "\r", "def f():"]
METHODS = [
    "textDocument/inlineCompletion",
    "textDocument/completion",
    "textDocument/codeAction",
    "codeAction/resolve",
    "workspace/executeCommand",
    "spark/debug/document",
    "spark/debug/prompt",
    "spark/debug/counters",
    "spark/nextEdit",
    "textDocument/copilotInlineEdit",
    "spark/debug/options",
    "textDocument/didChange",
    "textDocument/didOpen",
    "textDocument/didClose",
    "textDocument/didSave",
    "textDocument/didShowCompletion",
    "textDocument/didPartiallyAcceptCompletion",
    "workspace/didChangeConfiguration",
    "$/cancelRequest",
    "$/setTrace",
    "no/such/method",
]
VALID_METHODS = METHODS[:11]  # the requests valid_request knows how to ask well
COMMANDS = (
    "spark-lsp.showStatistics",
    "spark-lsp.applyCodeAction",
    "spark-lsp.explain",
    "spark-lsp.editWithInstruction",
    "spark-lsp.didAcceptCompletionItem",
    "spark-lsp.didAcceptNextEdit",
)
INTERNAL_ERROR = -32603
MAX_DECODED_DEPTH = 900  # Python's JSON decoder gives up near the recursion limit (1000)
ENCODINGS = ("utf-8", "utf-16", "utf-32")


class Output:
    """The server's stdout: frames written by the protocol, parsed as they come."""

    def __init__(self) -> None:
        self._buffer = b""
        self.messages: list[dict[str, Any]] = []

    def write(self, data: bytes) -> None:
        self._buffer += data
        while (end := self._buffer.find(b"\r\n\r\n")) >= 0:
            length = int(re.search(rb"Content-Length: (\d+)", self._buffer[:end]).group(1))  # type: ignore[union-attr]
            if len(self._buffer) < end + 4 + length:
                return
            body = self._buffer[end + 4 : end + 4 + length]
            self._buffer = self._buffer[end + 4 + length :]
            self.messages.append(json.loads(body))

    def close(self) -> None:
        pass


class Harness:
    """The real server behind an in-memory stdio."""

    def __init__(self, engine: Callable[[], Engine] = FakeEngine) -> None:
        settings = EngineSettings(preload=False)
        self.server: SparkLanguageServer = create_server(
            settings, lambda s, progress, health: engine()
        )
        self.reader = asyncio.StreamReader(limit=MAX_HEADER_LINE_BYTES)
        self.output = Output()
        self.server.protocol.set_writer(self.output)  # type: ignore[arg-type]
        self.task = asyncio.ensure_future(serve_reader(self.server, self.reader))

    def send_bytes(self, data: bytes) -> None:
        self.reader.feed_data(data)

    def send(self, payload: object) -> None:
        body = json.dumps(payload, ensure_ascii=True).encode()
        self.reader.feed_data(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def close(self) -> None:
        self.reader.feed_eof()
        self.server.close()


@dataclass
class ReferenceDocument:
    text: str
    version: int
    in_sync: bool = True
    desynced_by: str = ""  # the junk change that took it out of sync, for the report


def units(text: str, encoding: str) -> int:
    if encoding == "utf-8":
        return len(text.encode("utf-8"))
    if encoding == "utf-16":
        return len(text.encode("utf-16-le")) // 2
    return len(text)


def lines_of(text: str) -> list[tuple[int, str]]:
    """(offset, content) of each line, at \\r\\n, \\r and \\n (found independently of the store)."""
    found, start = [], 0
    for match in re.finditer(r"\r\n|\r|\n", text):
        found.append((start, text[start : match.start()]))
        start = match.end()
    found.append((start, text[start:]))
    return found


@dataclass
class Report:
    messages: int = 0
    requests: int = 0
    answered: int = 0
    unanswered: list[int] = field(default_factory=list)
    internal_errors: list[dict[str, Any]] = field(default_factory=list)
    logged_errors: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    documents_checked: int = 0
    unanswered_methods: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (
            self.unanswered or self.internal_errors or self.logged_errors or self.mismatches
        )


class ErrorLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(f"{record.name}: {record.getMessage()[:300]}")


class Fuzzer:
    def __init__(self, seed: int, messages: int) -> None:
        self.random = random.Random(seed)
        self.target = messages
        self.report = Report()
        self.documents: dict[str, ReferenceDocument] = {}
        self.encoding = "utf-16"
        self._ids = 0
        self._pending: set[int] = set()
        self._methods: dict[int, str] = {}

    # -- sending ---------------------------------------------------------------------------

    def request(self, method: str, params: Any) -> int:
        self._ids += 1
        self._pending.add(self._ids)
        self._methods[self._ids] = method
        self.report.requests += 1
        self.send({"jsonrpc": "2.0", "id": self._ids, "method": method, "params": params})
        return self._ids

    def notify(self, method: str, params: Any) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def send(self, payload: object) -> None:
        self.report.messages += 1
        self.harness.send(payload)

    # -- the run -----------------------------------------------------------------------------

    async def run(self) -> Report:
        errors = ErrorLog()
        logging.getLogger().addHandler(errors)
        self.harness = Harness()
        try:
            for _ in range(10):  # before initialize: ServerNotInitialized, nothing else
                self.junk_request()
            self.initialize()
            while self.report.messages < self.target:
                self.step()
                if self.report.messages % 100 == 0:
                    await self.settle()
                if self.report.messages % 500 == 0:
                    await self.check_documents()
            await self.check_documents()
            self.request("shutdown", None)
            for _ in range(5):  # after shutdown: InvalidRequest
                self.junk_request()
            await self.settle(final=True)
        finally:
            self.harness.close()
            logging.getLogger().removeHandler(errors)
        self.report.unanswered = sorted(self._pending)
        self.report.unanswered_methods = sorted({self._methods.get(i, "?") for i in self._pending})
        self.report.logged_errors = errors.records
        return self.report

    async def settle(self, final: bool = False) -> None:
        """Let the server work, then take its answers."""
        deadline = time.monotonic() + (30 if final else 0.05)
        while True:
            await asyncio.sleep(0)
            self.collect()
            if not self._pending or time.monotonic() > deadline:
                return
            await asyncio.sleep(0.005)

    def collect(self) -> None:
        for message in self.harness.output.messages:
            if "method" in message:  # the server's own request or notification
                if "id" in message:
                    self.harness.send({"jsonrpc": "2.0", "id": message["id"], "result": None})
                continue
            message_id = message.get("id")
            if message_id in self._pending:
                self._pending.discard(message_id)
                self.report.answered += 1
            error = message.get("error")
            if isinstance(error, dict) and error.get("code") == INTERNAL_ERROR:
                self.report.internal_errors.append(message)
        self.harness.output.messages.clear()

    def initialize(self) -> None:
        offered = self.random.sample(ENCODINGS, self.random.randint(0, 3))
        self.encoding = next((e for e in ENCODINGS if e in offered), "utf-16")
        capabilities: dict[str, Any] = {"general": {"positionEncodings": offered}}
        if self.random.random() < 0.5:
            capabilities["textDocument"] = {"inlineCompletion": {}}
        self.request(
            "initialize", {"processId": None, "rootUri": None, "capabilities": capabilities}
        )
        self.notify("initialized", {})

    def step(self) -> None:
        roll = self.random.random()
        open_uris = list(self.documents)
        if roll < 0.08 or not open_uris:
            self.open_document()
        elif roll < 0.40:
            self.change_document(self.random.choice(open_uris))
        elif roll < 0.43:
            self.close_document(self.random.choice(open_uris))
        elif roll < 0.45:
            self.reopen_lower(self.random.choice(open_uris))
        elif roll < 0.60:
            self.valid_request(self.random.choice(open_uris))
        elif roll < 0.72:
            self.junk_change(self.random.choice(open_uris))
        elif roll < 0.92:
            self.junk_request()
        else:
            self.junk_frame()

    # -- documents ----------------------------------------------------------------------------

    def random_text(self, pieces: int) -> str:
        return "".join(self.random.choice(PIECES) for _ in range(pieces))

    def open_document(self) -> None:
        uri = f"file:///fuzz/{self.random.randint(0, 12)}.py"
        text = self.random_text(self.random.randint(0, 60))
        version = self.random.randint(0, 5)
        item = {"uri": uri, "languageId": "python", "version": version, "text": text}
        self.notify("textDocument/didOpen", {"textDocument": item})
        self.documents[uri] = ReferenceDocument(text, version)

    def close_document(self, uri: str) -> None:
        self.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
        del self.documents[uri]

    def reopen_lower(self, uri: str) -> None:
        """Churn: close a document and open it again at a lower version with other text (an
        edit computed on the old text must never be served for the new one)."""
        version = max(0, self.documents[uri].version - self.random.randint(1, 3))
        self.close_document(uri)
        text = self.random_text(self.random.randint(0, 60))
        item = {"uri": uri, "languageId": "python", "version": version, "text": text}
        self.notify("textDocument/didOpen", {"textDocument": item})
        self.documents[uri] = ReferenceDocument(text, version)

    def position(self, document: ReferenceDocument) -> tuple[int, dict[str, int]]:
        """A random valid position: (offset into the text, the LSP position)."""
        lines = lines_of(document.text)
        line = self.random.randrange(len(lines))
        start, content = lines[line]
        column = self.random.randint(0, len(content))
        character = units(content[:column], self.encoding)
        return start + column, {"line": line, "character": character}

    def change_document(self, uri: str) -> None:
        document = self.documents[uri]
        version = document.version + 1
        if self.random.random() < 0.1:  # a full-text change, which also brings it back in sync
            text = self.random_text(self.random.randint(0, 40))
            change: dict[str, Any] = {"text": text}
            document.text, document.version, document.in_sync = text, version, True
        else:
            first, start = self.position(document)
            last, end = self.position(document)
            if last < first:
                (first, start), (last, end) = (last, end), (first, start)
            text = self.random_text(self.random.randint(0, 3))
            change = {"range": {"start": start, "end": end}, "text": text}
            if document.in_sync:
                document.text = document.text[:first] + text + document.text[last:]
                document.version = version
        params = {"textDocument": {"uri": uri, "version": version}, "contentChanges": [change]}
        self.notify("textDocument/didChange", params)

    def junk_change(self, uri: str) -> None:
        """A didChange the server must reject: the document goes out of sync."""
        document = self.documents[uri]
        kind = self.random.choice(["types", "range", "version", "surrogate", "full text"])
        version = document.version + 1
        change: Any = {
            "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
            "text": "x",
        }
        if kind == "types":
            change = self.random.choice(
                [{"range": "nope", "text": 1}, [1, 2], None, {"text": {"a": 1}}]
            )
        elif kind == "range":
            far = self.random.choice([10**12, -1, len(lines_of(document.text)) + 2])
            change["range"]["end"] = {"line": far, "character": 0}
        elif kind == "version":
            version = document.version  # the same version again
        elif kind == "full text":  # a whole new text that does not raise the version
            version = document.version - self.random.randint(0, 1)
            change = {"text": self.random_text(5)}
        else:
            change["text"] = "\ud800"
        params = {"textDocument": {"uri": uri, "version": version}, "contentChanges": [change]}
        self.notify("textDocument/didChange", params)
        if document.in_sync:
            document.in_sync, document.desynced_by = False, f"{kind}: {json.dumps(change)[:80]}"

    async def check_documents(self) -> None:
        """Compare the server's documents with the reference, once every message before was
        handled (a request sent now is answered after them: messages are handled in order)."""
        marker = self.request("spark/debug/counters", None)
        deadline = time.monotonic() + 30
        while marker in self._pending and time.monotonic() < deadline:
            await asyncio.sleep(0.002)
            self.collect()
        for uri, reference in self.documents.items():
            self.report.documents_checked += 1
            document = self.harness.server.store.get(uri)
            if document is None:
                self.report.mismatches.append(f"{uri} is not open")
                continue
            in_sync = document.out_of_sync_reason is None
            if in_sync != reference.in_sync:
                expected = reference.in_sync
                self.report.mismatches.append(
                    f"{uri}: in sync {in_sync}, expected {expected} ({reference.desynced_by})"
                )
            elif in_sync and (document.text, document.version) != (
                reference.text,
                reference.version,
            ):
                self.report.mismatches.append(f"{uri}: text or version differs")

    # -- hostile requests -------------------------------------------------------------------

    def valid_request(self, uri: str) -> None:
        _, position = self.position(self.documents[uri])
        method = self.random.choice(VALID_METHODS)
        document: dict[str, Any] = {"uri": uri}
        params: dict[str, Any] = {"textDocument": document, "position": position}
        if method == "textDocument/inlineCompletion":
            params["context"] = {"triggerKind": self.random.choice([1, 2])}
        elif method == "textDocument/codeAction":
            params = {
                "textDocument": document,
                "range": {"start": position, "end": position},
                "context": {"diagnostics": []},
            }
        elif method in ("spark/debug/document", "spark/debug/counters", "spark/debug/options"):
            params = {"uri": uri}
        elif method in ("spark/nextEdit", "textDocument/copilotInlineEdit"):
            version = self.documents[uri].version - self.random.randint(0, 1)
            params = {"textDocument": {"uri": uri, "version": version}, "position": position}
        elif method in ("codeAction/resolve", "workspace/executeCommand"):
            target = self.action_target(uri)
            params = {"title": "x", "data": target}
            if method == "workspace/executeCommand":
                command = self.random.choice(COMMANDS)
                arguments: list[Any] = [target]
                if command == "spark-lsp.editWithInstruction":
                    arguments.append("rename x to y")
                elif command.startswith("spark-lsp.didAccept"):
                    arguments = [self.random.choice([1, "x", [1], {"a": 1}, f"{uri}@1#0"])]
                params = {"command": command, "arguments": arguments}
        self.request(method, params)

    def action_target(self, uri: str) -> dict[str, Any]:
        """A code action's target as a client echoes it: often right, sometimes stale (an
        older version or opening)."""
        document = self.documents[uri]
        return {
            "uri": uri,
            "version": document.version - self.random.randint(0, 1),
            "first": 0,
            "last": max(1, len(lines_of(document.text)) - self.random.randint(0, 1)),
            "action": self.random.choice(["docstring", "type_hints", "explain", "simplify"]),
            "message": "",
            "generation": self.random.randint(0, 40),
        }

    def junk_value(self, depth: int = 0) -> Any:
        roll = self.random.random()
        if depth > 3 or roll < 0.3:
            return self.random.choice(
                [
                    None,
                    True,
                    -1,
                    0,
                    10**30,
                    -(10**30),
                    1.5e308,
                    "",
                    "x",
                    "\ud83d",
                    "😀",
                    "\x00",
                    [],
                    {},
                ]
            )
        if roll < 0.6:
            return [self.junk_value(depth + 1) for _ in range(self.random.randint(0, 3))]
        keys = [
            "uri",
            "textDocument",
            "position",
            "line",
            "character",
            "range",
            "context",
            "text",
            "version",
            "item",
            "command",
            "arguments",
            "data",
        ]
        return {
            self.random.choice(keys): self.junk_value(depth + 1)
            for _ in range(self.random.randint(0, 4))
        }

    def junk_request(self) -> None:
        method = self.random.choice(METHODS)
        if method in ("textDocument/didChange", "textDocument/didOpen", "textDocument/didClose"):
            method = "textDocument/hover"  # junk for these is junk_change's job (the reference)
        roll = self.random.random()
        if roll < 0.5:
            params = self.junk_value()
        elif roll < 0.6:
            params = {
                "textDocument": {"uri": "file:///fuzz/0.py"},
                "position": {"line": 0, "character": self.random.choice([1, 3])},
                "context": {"triggerKind": 1},
            }
        elif roll < 0.7:  # nested too deep for a recursive decoder: written by hand
            depth = self.random.choice([100, 5000, 200_000])
            self._ids += 1
            if depth < MAX_DECODED_DEPTH:  # deeper: a Parse error, which has no id to answer
                self._pending.add(self._ids)
                self.report.requests += 1
            self.report.messages += 1
            head = f'{{"jsonrpc": "2.0", "id": {self._ids}, "method": "{method}", "params": '
            body = (head + "[" * depth + "]" * depth + "}").encode()
            self.harness.send_bytes(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            return
        else:
            params = {
                "textDocument": {"uri": "file:///fuzz/missing.py"},
                "position": {"line": -5, "character": 10**20},
            }
        if method.startswith("$/") or self.random.random() < 0.2:
            self.notify(method, params)
        else:
            self.request(method, params)

    def junk_frame(self) -> None:
        kind = self.random.choice(
            ["not json", "not utf8", "long header", "not rpc", "batch", "bad id"]
        )
        self.report.messages += 1
        if kind == "not json":
            body = b"{" + self.random_text(5).encode() + b"\x7f"
        elif kind == "not utf8":
            body = b'{"jsonrpc": "2.0", "method": "\xff\xfe"}'
        elif kind == "long header":
            self.harness.send_bytes(b"X-Junk: " + b"a" * (MAX_HEADER_LINE_BYTES * 2) + b"\r\n")
            return
        elif kind == "not rpc":
            body = json.dumps(
                self.random.choice([1, "x", None, {"jsonrpc": "1.0", "id": 5, "method": "m"}])
            ).encode()
        elif kind == "batch":
            body = b'[{"jsonrpc": "2.0", "id": 9999, "method": "spark/debug/counters"}]'
        else:
            body = json.dumps(
                {"jsonrpc": "2.0", "id": {"x": 1}, "method": "spark/debug/counters"}
            ).encode()
        self.harness.send_bytes(b"Content-Length: %d\r\n\r\n" % len(body) + body)


def fuzz(seed: int, messages: int) -> Report:
    return asyncio.run(Fuzzer(seed, messages).run())


def add_parser(benches: Any) -> None:
    parser = benches.add_parser(
        "fuzz", help="JSON-RPC fuzzing: crashes, unanswered requests, desync"
    )
    parser.add_argument("--messages", type=int, default=100_000, help="messages to send")
    parser.add_argument("--seeds", type=int, default=4, help="independent sessions")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")


def main(args: argparse.Namespace) -> int:
    per_seed = max(1, args.messages // args.seeds)
    rows, reports = [], []
    started = time.perf_counter()
    for seed in range(args.seeds):
        report = fuzz(seed, per_seed)
        reports.append(report)
        rows.append(
            (
                seed,
                report.messages,
                report.requests,
                report.answered,
                len(report.unanswered),
                len(report.internal_errors) + len(report.logged_errors),
                report.documents_checked,
                len(report.mismatches),
            )
        )
        print(
            f"seed {seed}: {report.messages} messages, {time.perf_counter() - started:.0f} s",
            flush=True,
        )
    headers = (
        "seed",
        "messages",
        "requests",
        "answered",
        "unanswered",
        "crashes",
        "docs checked",
        "mismatches",
    )
    print(format_table(headers, rows))
    total = sum(r.messages for r in reports)
    ok = all(r.ok for r in reports)
    verdict = "no crash, every request answered, every document equal to the reference"
    elapsed = time.perf_counter() - started
    print(f"{total} messages in {elapsed:.0f} s: {verdict if ok else 'FAILURES'}")
    for report in reports:
        for problem in (
            *report.internal_errors[:3],
            *report.logged_errors[:3],
            *report.mismatches[:3],
            *report.unanswered_methods,
        ):
            print(f"  {problem}")
    write_json(
        args.json,
        "fuzz",
        {"rows": [dict(zip(headers, row, strict=True)) for row in rows], "ok": ok},
    )
    return 0 if ok else 1
