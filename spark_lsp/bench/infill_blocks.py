"""``bench infill --blocks``: whole blocks masked at a blank line, the case where a block is
meant. The body of a compound statement (the lines indented under a line that ends with ``:``,
2 to ``MAX_BLOCK_LINES`` of them) is erased and the cursor put on the one empty line left, at
column 0 (``line-start``) or after the body's indentation (``indented``).

Paths: raw-natural-block (the model asked with the prefix ending at the opener's line, cut at
the block's end as the server cuts a block answer, at most ``BLOCK_TOKENS``); the pipeline (an
Invoked request to the server's completion service in-process, ``HeadlessCompletion``: the
code the server runs); and the pipeline accepting (each suggestion accepted in turn, with the
Automatic request an editor sends after an accept, until nothing is shown or the block is as
long as the real one: what a user pressing Tab has, the time being the requests' sum).
Reported per path: the whole block exact (every line, trailing spaces and blank lines aside),
the first line exact, a block offered, nothing shown and the median time. How often a block
is offered where one line was meant is the single-line runs' "blocks" column.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from spark_lsp.bench.infill_cases import evenly
from spark_lsp.bench.report import format_table
from spark_lsp.completion.headless import HeadlessCompletion
from spark_lsp.documents import line_content
from spark_lsp.engine import GenerationRequest, InfillPrompt
from spark_lsp.engine.worker import run_job
from spark_lsp.percentiles import median

MIN_BLOCK_LINES = 2
MAX_BLOCK_LINES = 8
BLOCK_TOKENS = 256
PAUSE_LIMIT_S = 60.0
PATHS = ("raw-natural-block", "pipeline", "pipeline-accepting")


@dataclass(frozen=True)
class MaskedBlock:
    document: str
    lines: tuple[str, ...]  # the real document, terminators kept
    line: int  # the body's first line
    end: int  # past the body's last line

    @property
    def body(self) -> list[str]:
        return [line_content(entry).rstrip() for entry in self.lines[self.line : self.end]]

    def typed(self, cursor: str) -> str:
        first = self.body[0]
        return first[: len(first) - len(first.lstrip())] if cursor == "indented" else ""


def block_cases(documents: Iterable[tuple[str, list[str]]], limit: int) -> list[MaskedBlock]:
    """Bodies of compound statements, ``limit`` of them (0: all) at an even stride."""
    cases = []
    for name, lines in documents:
        contents = [line_content(entry) for entry in lines]
        for index, opener in enumerate(contents[:-1]):
            if not opener.rstrip().endswith(":") or opener.lstrip().startswith("#"):
                continue
            end = _body_end(contents, index)
            if MIN_BLOCK_LINES <= end - index - 1 <= MAX_BLOCK_LINES:
                cases.append(MaskedBlock(name, tuple(lines), index + 1, end))
    return evenly(cases, limit) if limit else cases


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip())


def _body_end(contents: list[str], opener: int) -> int:
    """Past the last non-blank line indented deeper than the opener's (blank lines inside the
    body belong to it, trailing ones do not)."""
    depth, end = _indent(contents[opener]), opener + 1
    for index in range(opener + 1, len(contents)):
        if not contents[index].strip():
            continue
        if _indent(contents[index]) <= depth:
            break
        end = index + 1
    return end


def within_block(lines: list[str], opener_indent: int) -> list[str]:
    """The lines of an answer up to the first one with text indented no deeper than the
    opener's (the block is over), blank lines inside kept."""
    for index, line in enumerate(lines):
        if line.strip() and _indent(line) <= opener_indent:
            return lines[:index]
    return lines


def same_block(shown: list[str], case: MaskedBlock) -> bool:
    while shown and not shown[-1].strip():
        shown = shown[:-1]
    return [line.rstrip() for line in shown] == case.body


@dataclass
class BlockOutcomes:
    exact: dict[str, list[bool]] = field(default_factory=dict)
    first_line: dict[str, list[bool]] = field(default_factory=dict)
    offered: dict[str, list[bool]] = field(default_factory=dict)
    empty: dict[str, list[bool]] = field(default_factory=dict)
    ms: dict[str, list[float]] = field(default_factory=dict)

    def add(self, path: str, case: MaskedBlock, shown: list[str] | None, ms: float) -> None:
        """``shown``: the lines from the cursor's line on as the path leaves them."""
        self.exact.setdefault(path, []).append(shown is not None and same_block(shown, case))
        right_first = bool(shown) and shown[0].rstrip() == case.body[0]  # type: ignore[index]
        self.first_line.setdefault(path, []).append(right_first)
        lines = [line for line in shown or [] if line.strip()]
        self.offered.setdefault(path, []).append(len(lines) > 1)
        self.empty.setdefault(path, []).append(not lines)
        self.ms.setdefault(path, []).append(ms)

    def summary(self, path: str) -> dict[str, Any]:
        def share(values: list[bool]) -> float:
            return round(100 * sum(values) / max(1, len(values)), 1)

        return {
            "cases": len(self.exact[path]),
            "block_exact": share(self.exact[path]),
            "first_line_exact": share(self.first_line[path]),
            "blocks_offered": share(self.offered[path]),
            "nothing_shown": sum(self.empty[path]),
            "median_ms": round(median(self.ms[path]), 1),
        }


class BlockRunner:
    def __init__(self, completion: HeadlessCompletion, cursor: str, language_id: str) -> None:
        self.completion = completion
        self.cursor = cursor
        self.language_id = language_id

    async def run(self, case: MaskedBlock, outcomes: BlockOutcomes) -> None:
        typed = case.typed(self.cursor)
        uri = self._document(case)
        self.completion.replace_lines(uri, case.line, case.end, typed)
        try:
            await self._raw(uri, case, typed, outcomes)
            started = time.perf_counter()
            suggestion = await self.completion.suggest(uri, case.line, len(typed))
            ms = (time.perf_counter() - started) * 1000
            shown = None
            if suggestion is not None:
                shown = (typed[: suggestion.start_column] + suggestion.text).split("\n")
            outcomes.add("pipeline", case, shown, ms)
            accepted, accepting_ms = await self._accepting(uri, case, typed, shown, ms)
            outcomes.add("pipeline-accepting", case, accepted, accepting_ms)
        finally:
            self.completion.replace_lines(uri, case.line, case.line + 1, "\n".join(case.body))
        await self.completion.settle(PAUSE_LIMIT_S)

    async def _accepting(
        self, uri: str, case: MaskedBlock, typed: str, shown: list[str] | None, ms: float
    ) -> tuple[list[str] | None, float]:
        """The lines a user has after accepting each suggestion in turn, starting from the first
        request's ``shown`` lines, and the requests' time in all. The document is left as it
        was (the cursor's line holding ``typed``)."""
        accepted = list(shown) if shown else None
        written = 1  # lines of the document that now stand for the body
        try:
            for _ in range(MAX_BLOCK_LINES):
                if not accepted or len([x for x in accepted if x.strip()]) >= len(case.body):
                    break
                self._write(uri, case.line, written, accepted)
                written = len(accepted)
                started = time.perf_counter()
                more = await self.completion.suggest(
                    uri, case.line + written - 1, len(accepted[-1]), automatic=True
                )
                ms += (time.perf_counter() - started) * 1000
                if more is None or not more.text.strip():
                    break
                accepted[-1:] = (accepted[-1][: more.start_column] + more.text).split("\n")
        finally:
            self._write(uri, case.line, written, [typed])
        return accepted, ms

    def _write(self, uri: str, line: int, written: int, lines: list[str]) -> None:
        self.completion.replace_lines(uri, line, line + written, "\n".join(lines))

    async def _raw(self, uri: str, case: MaskedBlock, typed: str, outcomes: BlockOutcomes) -> None:
        snapshot = self.completion.store.snapshot(uri)
        tokens = self.completion.service.settings.max_new_tokens
        built = self.completion.context.build(snapshot, case.line, len(typed), tokens, extra=())
        assert built is not None
        window = built.window
        prefix = window.prefix[: window.prefix.rfind("\n")] if "\n" in window.prefix else ""
        request = GenerationRequest(
            InfillPrompt(prefix, window.suffix), max_tokens=BLOCK_TOKENS, key=f"{uri}#raw-block"
        )
        result = await run_job(self.completion.worker.submit(request))
        text = result.text[1:] if result.text.startswith("\n") else result.text
        opener = line_content(case.lines[case.line - 1])
        shown = within_block(text.split("\n"), _indent(opener))
        outcomes.add("raw-natural-block", case, shown, result.stats.total_ms)

    def _document(self, case: MaskedBlock) -> str:
        uri = f"file:///bench/infill/{case.document}"
        self.completion.switch_to(uri, self.language_id, "".join(case.lines))
        return uri


def report(cursor: str, outcomes: BlockOutcomes) -> dict[str, Any]:
    summary = {path: outcomes.summary(path) for path in PATHS if path in outcomes.exact}
    columns = ("path", "cases", "block exact %", "first line exact %", "block offered %")
    rows = [
        (
            path,
            values["cases"],
            values["block_exact"],
            values["first_line_exact"],
            values["blocks_offered"],
            values["nothing_shown"],
            values["median_ms"],
        )
        for path, values in summary.items()
    ]
    print(f"masked blocks, cursor: {cursor}")
    print(format_table((*columns, "nothing shown", "ms"), rows))
    return summary
