"""The ways ``bench infill`` asks for a masked line, and what each answered.

- raw: the model asked at the cursor over the editor's whole window (the prompt the server
  builds for the document, uncapped), its first line as generated;
- raw-natural (line-start, indented): the same window with the prefix ending at the end of the
  line above, so that the model writes the line break and indentation itself; its first line;
- pipeline: an Invoked request to the server's own completion service (``HeadlessCompletion``:
  the same code as over LSP, in-process), on the document opened once and edited line by line;
- pipeline over LSP (``--lsp``, see ``infill_lsp``): the same through the real server's stdio.

Between masked lines the benchmark pauses as a user does (progressive context grows a cold
document's window meanwhile); a document's first request is its cold one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

from spark_lsp.bench.infill_cases import MaskedLine, passes
from spark_lsp.completion.cursor import CursorState, at_cursor, cursor_state, finish
from spark_lsp.completion.headless import HeadlessCompletion
from spark_lsp.completion.postprocess import RULE_NAMES
from spark_lsp.context.window import CursorWindow
from spark_lsp.engine import GenerationRequest, GenerationResult, InfillPrompt
from spark_lsp.engine.base import cache_key
from spark_lsp.engine.worker import run_job
from spark_lsp.percentiles import median

LINE_TOKENS = 64
ABLATED_RULES = (*RULE_NAMES, "syntax_check")
COLD_KEY = "bench#cold-raw"  # one key: each document's first prompt, evaluated afresh
# Another for the pipeline's own request replayed: on COLD_KEY it would find its prompt cached.
COLD_REPLAY_KEY = "bench#cold-replay"
PAUSE_LIMIT_S = 60.0
GENERATION_WAIT_S = 120.0  # the longest pause between masked lines (while a window grows)


def exact_line(candidate: str | None, case: MaskedLine) -> bool:
    return candidate is not None and candidate.rstrip() == case.target


def continues(candidate: str | None, case: MaskedLine, typed: str) -> bool:
    """The shown line adds to what was typed and the real line goes on with it."""
    if candidate is None:
        return False
    shown = candidate.rstrip()
    return len(shown) > len(typed.rstrip()) and case.target.startswith(shown)


@dataclass
class Outcomes:
    """Per path: exact match, first line continuing correctly, nothing shown, a block offered,
    pass@1 (HumanEval only; runs cached per candidate text) and milliseconds."""

    exact: dict[str, list[bool]] = field(default_factory=dict)
    continued: dict[str, list[bool]] = field(default_factory=dict)
    empty: dict[str, list[bool]] = field(default_factory=dict)
    block: dict[str, list[bool]] = field(default_factory=dict)
    passed: dict[str, list[bool]] = field(default_factory=dict)
    ms: dict[str, list[float]] = field(default_factory=dict)
    drops: list[dict[str, Any]] = field(default_factory=list)  # nothing shown, a raw was right
    cold: list[dict[str, Any]] = field(default_factory=list)  # each document's first request
    raw_right: int = 0
    early: int = 0  # pipeline answers shown before the model finished (the predict budget)
    _runs: dict[tuple[str, str | None], bool] = field(default_factory=dict)

    def add(
        self,
        path: str,
        case: MaskedLine,
        typed: str,
        shown: str | None,
        ms: float | None = None,
        block: bool = False,
    ) -> None:
        """``shown``: the masked line as the path would leave it (None: nothing shown)."""
        self.exact.setdefault(path, []).append(exact_line(shown, case))
        self.continued.setdefault(path, []).append(continues(shown, case, typed))
        self.empty.setdefault(path, []).append(shown is None)
        self.block.setdefault(path, []).append(block)
        if ms is not None:
            self.ms.setdefault(path, []).append(ms)
        if case.problem is not None:
            run = (f"{case.document}:{case.line}", shown)
            if run not in self._runs:
                self._runs[run] = shown is not None and passes(case, shown)
            self.passed.setdefault(path, []).append(self._runs[run])

    def right(self, path: str) -> bool:
        """Whether ``path``'s newest answer was exact."""
        return bool(self.exact.get(path)) and self.exact[path][-1]

    def summary(self, path: str) -> dict[str, Any]:
        def share(values: list[bool]) -> float:
            return round(100 * sum(values) / max(1, len(values)), 1)

        figures = {
            "cases": len(self.exact[path]),
            "exact_match": share(self.exact[path]),
            "continues": share(self.continued[path]),
            "nothing_shown": sum(self.empty[path]),
            "blocks_offered": sum(self.block[path]),
            "median_ms": round(median(self.ms[path]), 1) if self.ms.get(path) else None,
        }
        if path in self.passed:
            figures["pass_at_1"] = share(self.passed[path])
        return figures


def line_request(window: CursorWindow, key: str) -> GenerationRequest:
    """The request of the raw protocol over ``window``: the first line as generated."""
    prompt = InfillPrompt(window.prefix, window.suffix)
    return GenerationRequest(prompt, max_tokens=LINE_TOKENS, stop=("\n",), key=key)


def natural_request(window: CursorWindow, key: str) -> GenerationRequest:
    """The raw-natural protocol: the prefix ends at the end of the line above the cursor."""
    prefix = window.prefix[: window.prefix.rfind("\n")] if "\n" in window.prefix else ""
    return GenerationRequest(
        InfillPrompt(prefix, window.suffix),
        max_tokens=LINE_TOKENS,
        stop=("\n",),
        stop_after_text=True,
        key=key,
    )


def natural_line(text: str) -> str:
    """The raw-natural answer's line: the first non-blank line it writes, indentation kept."""
    return next((line for line in text.split("\n") if line.strip()), "")


def drop_reason(raw: str, state: CursorState) -> str:
    """Which rule or check made the pipeline show nothing for ``raw`` (the first one that, left
    out, would let it through; "several" when no single one would)."""
    if not raw.strip():
        return "blank answer"
    if at_cursor(raw, state.boundary) is None:
        return "went on with the line above"
    for rule in ABLATED_RULES:
        if finish(raw, state, disabled=frozenset({rule})) is not None:
            return rule
    return "several"


class InProcess:
    """The raw protocols and the in-process pipeline over one engine (every generation goes
    through the completion service's worker, so idle work never runs beside it)."""

    def __init__(self, completion: HeadlessCompletion, cursor: str, language_id: str) -> None:
        self.completion = completion
        self.cursor = cursor
        self.language_id = language_id

    def uri(self, case: MaskedLine) -> str:
        return f"file:///bench/infill/{case.document}"

    async def run(self, case: MaskedLine, outcomes: Outcomes, raw_only: bool = False) -> None:
        typed = case.typed(self.cursor)
        uri = self._document(case)
        self.completion.replace_line(uri, case.line, typed)
        try:
            window = self._window(uri, case, typed)
            raw = await self._ask(line_request(window, f"{case.document}#raw"))
            outcomes.add("raw", case, typed, typed + raw.text, raw.stats.total_ms)
            if self.cursor != "typed":
                natural = await self._ask(natural_request(window, f"{case.document}#natural"))
                line = natural_line(natural.text)
                outcomes.add("raw-natural", case, typed, line, natural.stats.total_ms)
            raw_right = outcomes.right("raw") or outcomes.right("raw-natural")
            outcomes.raw_right += raw_right
            if not raw_only:
                await self._pipeline(uri, case, typed, outcomes, raw_right)
        finally:
            self.completion.replace_line(uri, case.line, case.lines[case.line].rstrip("\r\n"))
        await self.completion.settle(PAUSE_LIMIT_S)

    async def _pipeline(
        self, uri: str, case: MaskedLine, typed: str, outcomes: Outcomes, raw_right: bool
    ) -> None:
        cold = self._first_request(uri)
        before = len(self.completion.engine.results)
        started = time.perf_counter()
        suggestion = await self.completion.suggest(uri, case.line, len(typed))
        ms = (time.perf_counter() - started) * 1000
        shown = None
        if suggestion is not None:
            shown = first_line(typed[: suggestion.start_column] + suggestion.text)
        block = suggestion is not None and "\n" in suggestion.text.strip("\n")
        outcomes.add("pipeline", case, typed, shown, ms, block)
        result = await self.completion.generation_behind(uri, before)
        if result is None:
            return
        outcomes.early += result.stats.total_ms > ms
        state = self._state(uri, case, typed)
        if cold:
            outcomes.cold.append(await self._cold(case, result, ms))
        if suggestion is None and raw_right:
            reason = drop_reason(result.text, state)
            outcomes.drops.append(
                {"case": f"{case.document}:{case.line + 1}", "reason": reason, "raw": result.text}
            )
        for rule in ABLATED_RULES:
            candidate = finish(result.text, state, disabled=frozenset({rule}))
            line = None if candidate is None else first_line(typed + candidate)
            outcomes.add(f"without {rule}", case, typed, line)

    async def _cold(self, case: MaskedLine, result: GenerationResult, ms: float) -> dict[str, Any]:
        """A document's first request against the raw model on the same prompt tokens (the
        pipeline's prompt, asked afresh under a key of its own)."""
        asked = next(q for q, r in self.completion.engine.results if r is result)
        # Its first line, as the pipeline's (whose prompt may end at the line above, so that
        # the model writes the line break first).
        request = GenerationRequest(
            asked.prompt, max_tokens=LINE_TOKENS, stop=("\n",), stop_after_text=True, key=COLD_KEY
        )
        raw = await self._ask(request)
        # The pipeline's own request (its line break first, token healing) without the
        # alternatives, the predict budget or the pipeline around it: what its decoding asked.
        same = replace(
            asked,
            key=COLD_REPLAY_KEY,
            alternatives=0,
            alternatives_allowance=None,
            predict_time_budget_ms=None,
            adopt_as="",
        )
        same_request = await self._ask(same)
        return {
            "document": case.document,
            "prompt_tokens": result.stats.prompt_tokens,
            "pipeline_ms": round(ms, 1),
            "raw_ms": round(raw.stats.total_ms, 1),
            "same_request_ms": round(same_request.stats.total_ms, 1),
            "phases": {
                k: round(v, 1) for k, v in self.completion.service.last_trace.phases.items()
            },
        }

    def _first_request(self, uri: str) -> bool:
        results = self.completion.engine.results
        return not any(request.key == cache_key(uri) for request, _ in results)

    def _document(self, case: MaskedLine) -> str:
        uri = self.uri(case)
        self.completion.switch_to(uri, self.language_id, "".join(case.lines))
        return uri

    def _window(self, uri: str, case: MaskedLine, typed: str) -> CursorWindow:
        """The editor's whole window at the cursor: the server's prompt for the document,
        uncapped (no extra context: a benchmark document is alone)."""
        snapshot = self.completion.store.snapshot(uri)
        tokens = self.completion.service.settings.max_new_tokens
        built = self.completion.context.build(snapshot, case.line, len(typed), tokens, extra=())
        assert built is not None
        return built.window

    def _state(self, uri: str, case: MaskedLine, typed: str) -> CursorState:
        snapshot = self.completion.store.snapshot(uri)
        return cursor_state(snapshot.lines, case.line, len(typed), language_id=self.language_id)

    async def _ask(self, request: GenerationRequest) -> GenerationResult:
        return await run_job(self.completion.worker.submit(request))


def first_line(applied: str) -> str:
    """The masked line once a suggestion is applied (a block's first line)."""
    return applied.split("\n", 1)[0]
