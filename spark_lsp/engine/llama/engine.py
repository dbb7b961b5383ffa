"""The in-process llama.cpp engine, with KV-cache reuse across keystrokes: the facade.

Its parts, each in a module of this package: ``runtime`` (the model, the context, decoding and
the abort callback), ``tokens`` (the vocabulary), ``layout`` (a request's prompt as tokens),
``sequences`` (each document's cells: reuse, parking, refresh), ``decoding`` (the answer's token
loop) and ``alternatives``. A request's own state is a ``run.Run``, created per request.

Cancellation: between tokens the loop checks the request's CancelToken, and so does prompt
evaluation between micro-batches; inside one llama_decode call of a long prompt, llama.cpp's
abort callback checks it between graph nodes. Cells that were computed before a stop are kept
for the next request.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from pathlib import Path

from spark_lsp import templates
from spark_lsp.engine.base import (
    CancelToken,
    ChatPrompt,
    EngineCapabilities,
    EngineCounters,
    EngineError,
    GenerationRequest,
    GenerationResult,
    StopReason,
    TokenCallback,
)
from spark_lsp.engine.line_tokens import PieceTokenizer
from spark_lsp.engine.llama.alternatives import BranchFinder, alternatives
from spark_lsp.engine.llama.decoding import Decoder
from spark_lsp.engine.llama.layout import Layout, build_layout, fit
from spark_lsp.engine.llama.run import NO_DEADLINE, Aborted, NoSlot, Run, deadline_after
from spark_lsp.engine.llama.runtime import Runtime
from spark_lsp.engine.llama.sequences import SequenceCache
from spark_lsp.engine.llama.tokens import ModelTokens
from spark_lsp.engine.reuse import SequenceState
from spark_lsp.engine.settings import EngineSettings
from spark_lsp.token_counting import TokenCounter, calibration_texts, counter_for

logger = logging.getLogger(__name__)

DEFAULT_KEY = "<default>"


class LlamaEngine:
    """Engine over one GGUF model; not thread-safe: one worker thread calls ``generate``."""

    # A preempted request keeps its cells; a pause's refresh recomputes stale ones.
    capabilities = EngineCapabilities(resumable=True, refreshes_cells=True)
    _fit = staticmethod(fit)  # the prompt trimmer, where tests of its steps look for it

    def __init__(self, model_path: Path, settings: EngineSettings | None = None) -> None:
        self.model_path = model_path
        self.runtime = Runtime(model_path, settings or EngineSettings())
        self.n_vocab = self.runtime.n_vocab
        self.n_ctx_train = self.runtime.n_ctx_train
        self.n_ctx = self.runtime.n_ctx
        self.tokens = ModelTokens(self.runtime.model)
        self.template = templates.detect(self)
        stop_ids = templates.stop_token_ids(self.template, self) | self.tokens.eog_ids()
        self.sequences = SequenceCache(self.runtime)
        self.decoder = Decoder(self.runtime, self.tokens, stop_ids)
        self.requests = 0  # for tests and benchmarks

    @property
    def settings(self) -> EngineSettings:
        """The settings every part reads at each request (the context's sizes stay as built)."""
        return self.runtime.settings

    @settings.setter
    def settings(self, settings: EngineSettings) -> None:
        self.runtime.settings = settings

    # -- what tests and benchmarks look at -----------------------------------------------------

    @property
    def tokens_evaluated(self) -> int:
        return self.runtime.tokens_evaluated

    def counters(self) -> EngineCounters:
        return EngineCounters(requests=self.requests, tokens_evaluated=self.tokens_evaluated)

    @property
    def _states(self) -> OrderedDict[str, SequenceState]:
        return self.sequences.states

    @property
    def _pieces(self) -> PieceTokenizer:
        return self.tokens.pieces

    @property
    def _healing_build(self) -> object:
        return self.tokens.healing_build

    # -- vocabulary ------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return f"llama.cpp:{self.model_path.name}"

    @property
    def model_name(self) -> str:
        return self.model_path.name

    def special_token_id(self, text: str) -> int | None:
        return self.tokens.special_token_id(text)

    def tokenize(self, text: str) -> list[int]:
        """Document text as plain tokens: special-token spellings in it stay plain text."""
        return self.tokens.tokenize(text)

    def token_bytes(self, token: int) -> bytes:
        return self.tokens.token_bytes(token)

    @property
    def add_bos(self) -> bool:
        return self.tokens.add_bos

    def is_normal_token(self, token: int) -> bool:
        return self.tokens.is_normal_token(token)

    def detokenize(self, tokens: list[int]) -> str:
        return self.tokens.detokenize(tokens)

    def metadata(self, key: str) -> str | None:
        return self.tokens.metadata(key)

    def token_counter(self) -> TokenCounter:
        return counter_for(self, calibration_texts())

    def render_chat(self, prompt: ChatPrompt) -> str:
        return self.tokens.render_chat(prompt, self.model_path.name)

    def layout(self, request: GenerationRequest) -> Layout:
        return build_layout(self.tokens, self.template, request, self.n_ctx, self.model_name)

    # -- requests --------------------------------------------------------------------------------

    def reset(self) -> None:
        self.sequences.reset()

    def generate(
        self,
        request: GenerationRequest,
        cancel: CancelToken,
        on_text: TokenCallback | None = None,
    ) -> GenerationResult:
        run = Run(request, cancel, request.key or DEFAULT_KEY)
        self.requests += 1
        if request.refresh:
            reason = self.sequences.refresh(run)
            run.stats.total_ms = run.since_start_ms()
            return GenerationResult("", reason, run.stats)
        layout = self.layout(request)
        run.stats.prompt_tokens = len(layout.body) + 1
        run.stats.layout_ms = run.since_start_ms()
        run.deadline = deadline_after(run.started, request.prompt_time_budget_ms)
        try:
            seq_id = self._prepare(run, layout)
        except Aborted as aborted:
            run.stats.total_ms = run.since_start_ms()
            return GenerationResult("", aborted.reason, run.stats)
        finally:
            run.deadline = NO_DEADLINE
        result = self._answer(run, seq_id, layout, on_text)
        if request.adopt_as and result.stop_reason not in (
            StopReason.CANCELLED,
            StopReason.PREEMPTED,
        ):
            self.sequences.adopt(run.key, request.adopt_as)
        return result

    def _prepare(self, run: Run, layout: Layout) -> int:
        # prepare parks every other document first: a full cache is this one's alone.
        for _ in range(2):
            try:
                return self.sequences.prepare(run, layout)
            except NoSlot:
                logger.info("KV cache full: resetting the context")
                self.reset()
        raise EngineError("the prompt does not fit the KV cache even after a reset")

    def _answer(
        self, run: Run, seq_id: int, layout: Layout, on_text: TokenCallback | None
    ) -> GenerationResult:
        """The answer on the prepared cells, its alternatives, and what its cells become."""
        request = run.request
        finder = BranchFinder(self.decoder, request.alternatives, layout)
        generated: list[int] = []
        reason: StopReason | None = None
        try:
            result, reason = self.decoder.generate(
                run, seq_id, layout, on_text, generated, finder if request.alternatives else None
            )
        finally:
            branch = finder.branch if reason is not StopReason.CANCELLED else None
            if reason is StopReason.PREEMPTED:
                self.sequences.keep_answer(run.key, seq_id, layout, generated)
            else:
                # The answer's cells go (they are not part of any prompt), and so does the
                # trigger's, except those before the branch (where alternatives start).
                start = len(layout.body) if branch is None else branch.position
                self.runtime.remove(seq_id, start, -1)
        if reason is StopReason.PREEMPTED:
            result.resume = tuple(generated)
        elif branch is not None:
            started = time.perf_counter()
            result.alternatives, result.alternative_stops = alternatives(
                self.decoder, run, seq_id, layout, branch, result
            )
            self.runtime.remove(seq_id, len(layout.body), -1)
            result.stats.alternatives_ms = (time.perf_counter() - started) * 1000
        return result

    def close(self) -> None:
        self.tokens.healing_build.join()  # it reads the vocabulary that closing frees
        self.runtime.close()
