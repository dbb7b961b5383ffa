"""The in-process llama.cpp engine, with KV-cache reuse across keystrokes.

llama-cpp-python's ``Llama`` class keeps one sequence and ignores ``n_seq_max``/``kv_unified``,
so this module builds the context itself: several sequences share one unified KV cache. Only
the active document's cells stay in it; the others' are parked in memory (up to
``max_documents``, least recently used dropped) and restored when a request comes for them (see
``engine/parking.py``). A request copies the reusable cells into a scratch sequence (copying
shares cells, it computes nothing), decodes only what changed, and the scratch becomes the
document's sequence. See ``engine/reuse.py`` for the plan and the measurements behind it.

Cancellation: between tokens the loop checks the request's CancelToken, and so does prompt
evaluation between micro-batches; inside one llama_decode call of a long prompt, llama.cpp's
abort callback checks it between graph nodes. Cells that were computed before a stop are kept
for the next request.
"""

from __future__ import annotations

import codecs
import ctypes
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import llama_cpp
import numpy as np
from llama_cpp import _internals
from llama_cpp import _logger as llama_cpp_logger

from spark_lsp import templates
from spark_lsp.engine import parking
from spark_lsp.engine.answer import StreamedAnswer
from spark_lsp.engine.base import (
    CancelToken,
    ChatPrompt,
    EngineError,
    GenerationRequest,
    GenerationResult,
    GenerationStats,
    InfillPrompt,
    StopReason,
    TextPrompt,
    TokenCallback,
)
from spark_lsp.engine.branching import Branch, alternatives_allowance_ms, writes_text
from spark_lsp.engine.healing import HealingVocabulary, spelled
from spark_lsp.engine.line_tokens import PieceTokenizer
from spark_lsp.engine.lookup import DraftLookup, PromptLookup
from spark_lsp.engine.reuse import SequenceState, plan_reuse, stale_range
from spark_lsp.engine.settings import EngineSettings
from spark_lsp.engine.tokens import TokenCounter, calibration_texts, counter_for
from spark_lsp.engine.vocabulary import piece_bytes

logger = logging.getLogger(__name__)

# Prompt-lookup draft length per step: it doubles while drafts are taken whole and halves on a
# miss. On a CPU a batch of n tokens costs far less than n single decodes (measured with the
# 0.5B model: 1 token 17 ms, 8 tokens 66 ms, 32 tokens 225 ms), so long runs of copied text pay
# off, while a wrong guess wastes little once the length has come down.
DRAFT_MIN_TOKENS = 8
# Drafts from a completion's own prompt guess less often right than a rewrite's from its input.
PROMPT_DRAFT_MIN_TOKENS = 4
DRAFT_MAX_TOKENS = 64
# After a draft of which nothing was kept, drafting pauses for 1, 2, 4 ... (at most this many)
# tokens: where the answer departs from its input, plain decoding is the cheaper step.
DRAFT_MAX_PAUSE = 16
TRIM_STEP_SHARE = 16  # a prompt over the context is cut in steps of budget / this
PIECE_SAMPLES = 12  # source files that check piecewise tokenization at load
_DECODE_ABORTED = 2
_DECODE_NO_SLOT = 1


@dataclass(frozen=True)
class Layout:
    body: list[int]
    split: int  # body[:split] is the prefix side, body[split:] the suffix side
    trigger: int
    heal: bytes = b""  # the bytes of the prefix's last token, removed to be generated again
    lead: bytes = b""  # what the answer must start with after them (GenerationRequest.lead)

    @property
    def spell(self) -> bytes:
        """What the answer's first tokens are constrained to spell."""
        return self.heal + self.lead


class _Aborted(Exception):
    def __init__(self, reason: StopReason, evaluated: int) -> None:
        self.reason = reason
        self.evaluated = evaluated


class LlamaEngine:
    """Engine over one GGUF model; not thread-safe: one worker thread calls ``generate``."""

    resumable = True  # a preempted request stops with PREEMPTED and keeps its cells
    refreshes_cells = True  # takes GenerationRequest.refresh (a pause's background work)

    def __init__(self, model_path: Path, settings: EngineSettings | None = None) -> None:
        self.settings = settings or EngineSettings()
        self.model_path = model_path
        llama_cpp.llama_backend_init()
        llama_cpp_logger.set_verbose(logger.isEnabledFor(logging.DEBUG))
        model_params = _internals.LlamaModel.default_params()
        self._model = _internals.LlamaModel(
            path_model=str(model_path), params=model_params, verbose=False
        )
        self._vocab = self._model.vocab
        self.n_vocab = self._model.n_vocab()
        self.n_ctx_train = self._model.n_ctx_train()
        self.n_seq = self.settings.max_documents + 1
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = min(self.settings.n_ctx, self.n_ctx_train)
        params.n_batch = self.settings.batch_size
        params.n_ubatch = self.settings.batch_size
        params.n_seq_max = self.n_seq
        params.kv_unified = True
        params.n_threads = self.settings.thread_count
        params.n_threads_batch = self.settings.thread_count
        params.no_perf = True
        self._context = _internals.LlamaContext(model=self._model, params=params, verbose=False)
        self._ctx = self._context.ctx
        self._memory = llama_cpp.llama_get_memory(self._ctx)
        self.n_ctx = llama_cpp.llama_n_ctx(self._ctx)
        self._batch = llama_cpp.llama_batch_init(self.settings.batch_size, 0, 1)
        self._cancel: CancelToken | None = None
        self._stats = GenerationStats()  # the running request's, for the time breakdown
        self._prompt_deadline = float("inf")
        self._abort_reason: StopReason | None = None
        self._abort_callback = llama_cpp.ggml_abort_callback(self._should_abort)
        self._no_abort_callback = llama_cpp.ggml_abort_callback(0)
        self._special_cache: dict[str, int | None] = {}
        # Only the lines a keystroke changed are tokenized again, where that gives the same
        # tokens (checked at load on this package's own sources; see engine/line_tokens.py).
        self._pieces = PieceTokenizer(self.tokenize)
        self.template = templates.detect(self)
        self._stop_ids = templates.stop_token_ids(self.template, self) | self._eog_ids()
        self._states: OrderedDict[str, SequenceState] = OrderedDict()
        # Token healing's sorted vocabulary takes about a second to build: built aside at load,
        # so the first healed request does not pay for it (the piece tokenizer's check too).
        self._healing: HealingVocabulary | None = None
        self._healing_build = threading.Thread(
            target=self._build_healing, name="spark-healing-vocabulary", daemon=True
        )
        self._healing_build.start()
        # Counters for tests and benchmarks.
        self.requests = 0
        self.tokens_evaluated = 0

    # -- vocabulary -------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return f"llama.cpp:{self.model_path.name}"

    @property
    def model_name(self) -> str:
        return self.model_path.name

    def special_token_id(self, text: str) -> int | None:
        if text not in self._special_cache:
            ids = self._model.tokenize(text.encode("utf-8"), add_bos=False, special=True)
            exact = len(ids) == 1 and self._model.token_get_text(ids[0]) == text
            self._special_cache[text] = ids[0] if exact else None
        return self._special_cache[text]

    def tokenize(self, text: str) -> list[int]:
        """Document text as plain tokens: special-token spellings in it stay plain text."""
        if not text:
            return []
        return self._model.tokenize(text.encode("utf-8"), add_bos=False, special=False)

    def _text_tokens(self, text: str) -> list[int]:
        """``tokenize``, piece by piece with the pieces cached when the model allows it."""
        return self._pieces.tokenize(text) if text else []

    def token_bytes(self, token: int) -> bytes:
        return piece_bytes(self._vocab, token)

    @property
    def add_bos(self) -> bool:
        return bool(llama_cpp.llama_vocab_get_add_bos(self._vocab))

    def is_normal_token(self, token: int) -> bool:
        return bool(self._model.token_get_attr(token) & llama_cpp.LLAMA_TOKEN_ATTR_NORMAL)

    def detokenize(self, tokens: Sequence[int]) -> str:
        return self._model.detokenize(list(tokens), special=False).decode("utf-8", "replace")

    def metadata(self, key: str) -> str | None:
        return self._model.metadata().get(key)

    def token_counter(self) -> TokenCounter:
        return counter_for(self, calibration_texts())

    def render_chat(self, prompt: ChatPrompt) -> str:
        chat_template = self.metadata("tokenizer.chat_template")
        if not chat_template:
            raise EngineError(f"{self.model_path.name} has no chat template")
        return templates.render_chat(chat_template, prompt.as_dicts(), "", "")

    def _eog_ids(self) -> frozenset[int]:
        return frozenset(
            token
            for token in range(self.n_vocab)
            if llama_cpp.llama_vocab_is_eog(self._vocab, token)
        )

    # -- prompt layout ----------------------------------------------------------------------

    def _segment_tokens(self, segments: Sequence[templates.Segment]) -> list[int]:
        tokens: list[int] = []
        for segment in segments:
            if segment.special:
                token = self.special_token_id(segment.text)
                if token is None:
                    raise EngineError(f"the model has no {segment.text} token")
                tokens.append(token)
            else:
                tokens.extend(self._text_tokens(segment.text))
        return tokens

    def layout(self, request: GenerationRequest) -> Layout:
        prompt = request.prompt
        if isinstance(prompt, ChatPrompt):
            prompt = TextPrompt(self.render_chat(prompt))
        if isinstance(prompt, TextPrompt):
            prefix_side, suffix_side, trigger = [templates.Segment(prompt.text)], [], None
        else:
            assert isinstance(prompt, InfillPrompt)
            prefix_side, suffix_side, trigger = templates.fim_segments(
                self.template,
                prompt.prefix,
                prompt.suffix,
                prompt.file_path,
                prompt.extra_context,
            )
        prefix_parts = [self._segment_tokens([segment]) for segment in prefix_side]
        suffix_parts = [self._segment_tokens([segment]) for segment in suffix_side]
        if llama_cpp.llama_vocab_get_add_bos(self._vocab):
            prefix_parts.insert(0, [llama_cpp.llama_vocab_bos(self._vocab)])
            # A placeholder keeps segments and token parts aligned for _fit; BOS is never cut.
            prefix_side = [templates.Segment("<bos>", special=True), *prefix_side]
        trigger_tokens = self._segment_tokens([trigger]) if trigger is not None else []
        answer_room = request.max_tokens + len(request.resume)  # a resumed answer's whole room
        budget = self.n_ctx - answer_room - 1 - len(trigger_tokens)
        self._fit(prefix_side, prefix_parts, suffix_side, suffix_parts, budget)
        heal = b""
        healable = request.heal and not request.resume and isinstance(request.prompt, InfillPrompt)
        if healable and prefix_parts and prefix_parts[-1] and not prefix_side[-1].special:
            heal = self.token_bytes(prefix_parts[-1].pop())
        prefix_tokens = [token for part in prefix_parts for token in part]
        tokens = prefix_tokens + [token for part in suffix_parts for token in part] + trigger_tokens
        if not tokens:
            raise EngineError("empty prompt")
        split = min(len(prefix_tokens), len(tokens) - 1)
        # A resumed answer: its tokens so far follow the prompt (their cells were kept).
        tokens += request.resume
        lead = b"" if request.resume else request.lead.encode("utf-8")
        return Layout(tokens[:-1], split, tokens[-1], heal, lead)

    @staticmethod
    def _fit(
        prefix_side: Sequence[templates.Segment],
        prefix_parts: list[list[int]],
        suffix_side: Sequence[templates.Segment],
        suffix_parts: list[list[int]],
        budget: int,
    ) -> None:
        """Trim a prompt over ``budget`` tokens: the suffix text from its end (keeping a quarter
        of the budget), then the prefix text from its start. The cursor's neighbourhood stays.
        Cuts come in steps of a sixteenth of the budget: cut to the token, each typed token
        would move the prompt's start or end, and no cell behind it could be reused."""
        overflow = sum(map(len, prefix_parts)) + sum(map(len, suffix_parts)) - budget
        if overflow <= 0:
            return
        step = max(1, budget // TRIM_STEP_SHARE)
        texts = [i for i, segment in enumerate(suffix_side) if not segment.special]
        if texts:
            part = suffix_parts[texts[-1]]
            cut = min(-(-overflow // step) * step, max(0, len(part) - budget // 4))
            suffix_parts[texts[-1]] = part[: len(part) - cut]
            overflow -= cut
        texts = [i for i, segment in enumerate(prefix_side) if not segment.special]
        if texts and overflow > 0:
            part = prefix_parts[texts[-1]]
            cut = min(-(-overflow // step) * step, len(part))
            prefix_parts[texts[-1]] = part[cut:]
            overflow -= cut
        if overflow > 0:
            raise EngineError(f"the prompt does not fit the context ({overflow} tokens too many)")

    # -- sequences --------------------------------------------------------------------------

    def _free_seq_id(self, keep: str) -> int:
        used = {state.seq_id for state in self._states.values() if state.parked is None}
        for seq_id in range(self.n_seq):
            if seq_id not in used:
                return seq_id
        for key, state in self._states.items():
            if key != keep and state.parked is None:
                self._drop_state(key)
                return self._free_seq_id(keep)
        raise EngineError("no free sequence")  # unreachable: n_seq >= 2

    def _drop_state(self, key: str) -> None:
        state = self._states.pop(key)
        if state.parked is None:
            llama_cpp.llama_memory_seq_rm(self._memory, state.seq_id, -1, -1)

    def _adopt(self, key: str, new_key: str) -> None:
        """``new_key``'s cells are now ``key``'s (whose own cells are dropped)."""
        if key == new_key or key not in self._states:
            return
        if new_key in self._states:
            self._drop_state(new_key)
        self._states[new_key] = self._states.pop(key)
        self._states.move_to_end(new_key)

    def _state_for(self, key: str) -> SequenceState:
        """``key``'s state, its cells in the cache and every other document's parked."""
        for other, state in list(self._states.items()):
            if other != key and state.parked is None:
                state.parked = parking.park(self._ctx, self._memory, state.seq_id)
                state.seq_id = -1
                if state.parked is None:
                    del self._states[other]
        state = self._states.get(key)
        if state is not None and state.parked is not None:
            seq_id = self._free_seq_id(keep=key)
            if not parking.restore(self._ctx, state.parked, seq_id):
                llama_cpp.llama_memory_seq_rm(self._memory, seq_id, -1, -1)
                state = None
                del self._states[key]
            else:
                state.seq_id, state.parked = seq_id, None
        if state is None:
            state = SequenceState(self._free_seq_id(keep=key))
            llama_cpp.llama_memory_seq_rm(self._memory, state.seq_id, -1, -1)
            self._states[key] = state
        self._states.move_to_end(key)
        parked = [other for other, kept in self._states.items() if kept.parked is not None]
        for oldest in parked[: max(0, len(parked) - self.settings.max_documents)]:
            self._drop_state(oldest)
        return state

    def reset(self) -> None:
        llama_cpp.llama_memory_clear(self._memory, True)
        self._states.clear()

    # -- decoding ---------------------------------------------------------------------------

    def _watch_prompt(self, enabled: bool) -> None:
        """The abort callback runs between graph nodes: on for a long prompt evaluation, where
        one llama_decode call can take seconds; off for a keystroke's few tokens (one
        micro-batch: ``_decode`` checks between micro-batches) and while generating, where the
        loop checks between tokens and a Python call per node would only slow decoding."""
        callback = self._abort_callback if enabled else self._no_abort_callback
        llama_cpp.llama_set_abort_callback(self._ctx, callback, None)

    def _should_abort(self, _data: ctypes.c_void_p) -> bool:
        if self._cancel is not None and self._cancel.cancelled:
            self._abort_reason = StopReason.CANCELLED
            return True
        if self._cancel is not None and self._cancel.preempted:
            self._abort_reason = StopReason.PREEMPTED
            return True
        if time.perf_counter() > self._prompt_deadline:
            self._abort_reason = StopReason.TIME_BUDGET
            return True
        return False

    def _decode(
        self,
        seq_id: int,
        tokens: Sequence[int],
        start: int,
        want_logits: bool,
        every: bool = False,
    ) -> None:
        """Decode ``tokens`` at positions ``start...`` of ``seq_id``, in batches; logits for the
        last token (``want_logits``) or for all of them (``every``, one batch only)."""
        done = 0
        while done < len(tokens):
            if self._cancel is not None and self._cancel.cancelled:
                raise _Aborted(StopReason.CANCELLED, done)
            if self._cancel is not None and self._cancel.preempted:
                raise _Aborted(StopReason.PREEMPTED, done)
            if time.perf_counter() > self._prompt_deadline:
                raise _Aborted(StopReason.TIME_BUDGET, done)
            chunk = tokens[done : done + self.settings.batch_size]
            batch = self._batch
            batch.n_tokens = len(chunk)
            for index, token in enumerate(chunk):
                batch.token[index] = token
                batch.pos[index] = start + done + index
                batch.n_seq_id[index] = 1
                batch.seq_id[index][0] = seq_id
                batch.logits[index] = int(every)
            last = done + len(chunk) == len(tokens)
            batch.logits[len(chunk) - 1] = 1 if (want_logits and last) else 0
            self._abort_reason = None
            status = llama_cpp.llama_decode(self._ctx, batch)
            if status == _DECODE_ABORTED:
                reached = llama_cpp.llama_memory_seq_pos_max(self._memory, seq_id) + 1
                raise _Aborted(self._abort_reason or StopReason.CANCELLED, max(0, reached - start))
            if status == _DECODE_NO_SLOT:
                reached = llama_cpp.llama_memory_seq_pos_max(self._memory, seq_id) + 1
                raise _NoSlot(max(0, reached - start))
            if status != 0:
                raise EngineError(f"llama_decode failed with status {status}")
            done += len(chunk)
            self.tokens_evaluated += len(chunk)

    def _greedy(self, index: int = -1) -> int:
        """The most likely next token after the ``index``-th token of the last batch."""
        return int(np.argmax(self._logits(index)))

    def _logits(self, index: int = -1) -> np.ndarray:
        """The logits after the ``index``-th token of the last batch (a view, not a copy)."""
        logits = llama_cpp.llama_get_logits_ith(self._ctx, index)
        return np.ctypeslib.as_array(logits, shape=(self.n_vocab,))

    def _healing_pick(self, remaining: bytes, index: int = -1) -> int:
        """The most likely token among those that go on spelling the healed bytes."""
        allowed = self._healing_vocabulary().allowed(remaining)
        logits = self._logits(index)
        if not len(allowed):
            return int(np.argmax(logits))
        return int(allowed[int(np.argmax(logits[allowed]))])

    # -- the request --------------------------------------------------------------------------

    def generate(
        self,
        request: GenerationRequest,
        cancel: CancelToken,
        on_text: TokenCallback | None = None,
    ) -> GenerationResult:
        started = time.perf_counter()
        self.requests += 1
        if request.refresh:
            return self._refresh(request.key or "<default>", cancel, started)
        layout = self.layout(request)
        self._stats = stats = GenerationStats(prompt_tokens=len(layout.body) + 1)
        stats.layout_ms = (time.perf_counter() - started) * 1000
        self._cancel = cancel
        budget = request.prompt_time_budget_ms
        self._prompt_deadline = started + budget / 1000 if budget else float("inf")
        key = request.key or "<default>"
        try:
            # _prepare parks every other document first: a full cache is this one's alone.
            for _ in range(2):
                try:
                    seq_id = self._prepare(key, layout, stats)
                    break
                except _NoSlot:
                    logger.info("KV cache full: resetting the context")
                    self.reset()
            else:
                raise EngineError("the prompt does not fit the KV cache even after a reset")
        except _Aborted as aborted:
            stats.total_ms = (time.perf_counter() - started) * 1000
            return GenerationResult("", aborted.reason, stats)
        finally:
            self._prompt_deadline = float("inf")
            self._watch_prompt(False)
        try:
            result = self._generate_tokens(request, key, seq_id, layout, stats, started, on_text)
        finally:
            self._cancel = None
        if request.adopt_as and result.stop_reason not in (
            StopReason.CANCELLED,
            StopReason.PREEMPTED,
        ):
            self._adopt(key, request.adopt_as)
        return result

    def _prepare(self, key: str, layout: Layout, stats: GenerationStats) -> int:
        """Bring the document's cells up to ``layout.body`` in a fresh sequence; decode the
        trigger. Returns that sequence; on abort the document keeps what was computed."""
        began = time.perf_counter()
        state = self._state_for(key)
        refresh = None if self.settings.kv_reuse == "exact" else self.settings.suffix_refresh_tokens
        plan = plan_reuse(state, layout.body, layout.split, refresh)
        body, mem, old = layout.body, self._memory, state.seq_id
        # Trim the old sequence to the kept head and the reused tail, then move the tail.
        if plan.reuse_count:
            reuse_end = plan.reuse_old_start + plan.reuse_count
            llama_cpp.llama_memory_seq_rm(mem, old, plan.keep_head, plan.reuse_old_start)
            llama_cpp.llama_memory_seq_rm(mem, old, reuse_end, -1)
            if plan.shift:
                llama_cpp.llama_memory_seq_add(
                    mem, old, plan.reuse_old_start, reuse_end, plan.shift
                )
        else:
            llama_cpp.llama_memory_seq_rm(mem, old, plan.keep_head, -1)
        state.head = list(body[: plan.keep_head])
        state.tail_start = plan.reuse_new_start
        state.tail = list(body[plan.reuse_new_start :])
        scratch = self._free_seq_id(keep=key)
        llama_cpp.llama_memory_seq_rm(mem, scratch, -1, -1)
        if plan.keep_head:
            llama_cpp.llama_memory_seq_cp(mem, old, scratch, 0, plan.keep_head)
        first, until = plan.evaluate_range
        self._watch_prompt(until - first > self.settings.batch_size)
        stats.reuse_ms = (time.perf_counter() - began) * 1000
        try:
            self._decode(scratch, body[first:until], first, want_logits=False)
            stats.tokens_evaluated = until - first
        except (_Aborted, _NoSlot) as stop:
            evaluated = stop.evaluated
            if evaluated:
                llama_cpp.llama_memory_seq_cp(mem, scratch, old, first, first + evaluated)
                state.head = list(body[: first + evaluated])
            state.exact_until = len(state.head)
            llama_cpp.llama_memory_seq_rm(mem, scratch, -1, -1)
            raise
        if plan.reuse_count:
            llama_cpp.llama_memory_seq_cp(mem, old, scratch, plan.reuse_new_start, len(body))
        # The scratch now holds the whole body: it becomes the document's sequence.
        llama_cpp.llama_memory_seq_rm(mem, old, -1, -1)
        state.seq_id = scratch
        stats.prompt_eval_ms = (time.perf_counter() - began) * 1000
        state.head = list(body[: layout.split])
        state.tail_start = layout.split
        state.tail = list(body[layout.split :])
        state.exact_until = plan.exact_until
        triggered = time.perf_counter()
        self._decode(scratch, [layout.trigger], len(body), want_logits=True)
        stats.decode_ms += (time.perf_counter() - triggered) * 1000
        stats.tokens_evaluated += 1
        return scratch

    def _refresh(self, key: str, cancel: CancelToken, started: float) -> GenerationResult:
        """Recompute the stale cells of ``key``'s resident sequence, one batch at a time, each
        into a scratch sequence that replaces the batch's old cells only once it is complete:
        stopped at any point (a keystroke cancels it between graph nodes), the sequence is
        whole and exact up to where it got."""
        self._stats = stats = GenerationStats()
        state = self._states.get(key)
        stale = None if state is None or state.parked is not None else stale_range(state)
        if state is None or stale is None:
            return GenerationResult("", StopReason.STOP, stats)
        tokens, (start, end) = [*state.head, *state.tail], stale
        mem, seq_id, reason = self._memory, state.seq_id, StopReason.STOP
        scratch = self._free_seq_id(keep=key)
        self._cancel = cancel
        self._watch_prompt(True)
        try:
            while start < end:
                until = min(end, start + self.settings.batch_size)
                llama_cpp.llama_memory_seq_rm(mem, scratch, -1, -1)
                llama_cpp.llama_memory_seq_cp(mem, seq_id, scratch, 0, start)
                self._decode(scratch, tokens[start:until], start, want_logits=False)
                llama_cpp.llama_memory_seq_rm(mem, seq_id, start, until)
                llama_cpp.llama_memory_seq_cp(mem, scratch, seq_id, start, until)
                stats.tokens_evaluated += until - start
                state.exact_until = start = until
        except _Aborted as aborted:
            reason = aborted.reason
        except _NoSlot:
            logger.debug("no room to refresh %s's cells", key)
        finally:
            llama_cpp.llama_memory_seq_rm(mem, scratch, -1, -1)
            self._watch_prompt(False)
            self._cancel = None
        stats.total_ms = (time.perf_counter() - started) * 1000
        return GenerationResult("", reason, stats)

    def _generate_tokens(
        self,
        request: GenerationRequest,
        key: str,
        seq_id: int,
        layout: Layout,
        stats: GenerationStats,
        started: float,
        on_text: TokenCallback | None,
    ) -> GenerationResult:
        answer = self._answer(request, on_text, started, stats, layout.heal)
        healing = layout.spell  # still to be spelled by the answer's first tokens
        lookup = self._lookup(request, layout)
        drafts = _DraftSchedule(DRAFT_MIN_TOKENS if request.draft else PROMPT_DRAFT_MIN_TOKENS)
        budget = request.predict_time_budget_ms
        deadline = time.perf_counter() + budget / 1000 if budget else float("inf")
        generated: list[int] = []
        position = len(layout.body) + 1
        token, logprob = self._scored_pick(healing, -1, request.logprobs)
        branch = self._branch(request, token, healing, generated, layout)
        try:
            while (reason := answer.take(token, logprob)) is None:
                generated.append(token)
                if healing:
                    _, healing = spelled(self.token_bytes(token), healing)
                if (reason := self._interrupted(deadline)) is not None:
                    break
                room = min(
                    request.max_tokens - stats.tokens_generated, self.settings.batch_size - 1
                )
                draft = (
                    lookup.propose(generated, drafts.limit(room)) if lookup and not healing else []
                )
                if (reason := self._step(seq_id, [token, *draft], position)) is not None:
                    break
                position += 1
                kept, reason = self._verify(draft, answer, generated, request.logprobs)
                drafts.record(len(draft), kept, stats)
                if reason is not None:
                    break
                position += kept
                if kept < len(draft):  # the rejected draft's cells go
                    llama_cpp.llama_memory_seq_rm(self._memory, seq_id, position, -1)
                token, logprob = self._scored_pick(healing, kept, request.logprobs)
                if branch is None and not draft:  # a draft's logits are not the pick's
                    branch = self._branch(request, token, healing, generated, layout)
        finally:
            branching = branch is not None and reason is not StopReason.CANCELLED
            self._release_answer_cells(
                key, seq_id, layout, generated, reason, branch.position if branching else None
            )
        result = answer.finish(reason)
        if reason is StopReason.PREEMPTED:
            result.resume = tuple(generated)
        elif branching:
            assert branch is not None
            result.alternatives = self._alternatives(request, seq_id, layout, branch, result)
            llama_cpp.llama_memory_seq_rm(self._memory, seq_id, len(layout.body), -1)
        return result

    def _lookup(
        self, request: GenerationRequest, layout: Layout
    ) -> DraftLookup | PromptLookup | None:
        """Where drafts come from: a rewrite's input, or a completion's own prompt."""
        if request.draft:
            return DraftLookup(self.tokenize(request.draft))
        if self.settings.prompt_lookup and isinstance(request.prompt, InfillPrompt):
            return PromptLookup(layout.body, layout.split)
        return None

    def _step(self, seq_id: int, tokens: list[int], position: int) -> StopReason | None:
        """Decode the answer's next token (and a draft behind it); a reason when it cannot."""
        began = time.perf_counter()
        try:
            self._decode(seq_id, tokens, position, want_logits=True, every=True)
        except _Aborted as aborted:
            return aborted.reason
        except _NoSlot:
            return StopReason.LENGTH  # the KV cache is full: end the answer here
        finally:
            self._stats.decode_ms += (time.perf_counter() - began) * 1000
        return None

    def _branch(
        self,
        request: GenerationRequest,
        token: int,
        healing: bytes,
        generated: list[int],
        layout: Layout,
    ) -> Branch | None:
        """The branch for alternatives when ``token``, picked next, is the answer's first that
        writes text (see ``branching``); None before, or when none are asked for."""
        if not request.alternatives or not writes_text(self.token_bytes(token), healing):
            return None
        firsts = self._first_choices(healing, request.alternatives)
        return Branch(tuple(generated), healing, firsts, len(layout.body) + 1 + len(generated))

    def _release_answer_cells(
        self,
        key: str,
        seq_id: int,
        layout: Layout,
        generated: list[int],
        reason: StopReason | None,
        keep_until: int | None,
    ) -> None:
        """A preempted answer keeps its cells; any other's go (they are not part of any
        prompt), and so does the trigger's, except those before ``keep_until`` (where
        alternatives start)."""
        if reason is StopReason.PREEMPTED:
            self._keep_answer(key, seq_id, layout, generated)
            return
        start = len(layout.body) if keep_until is None else keep_until
        llama_cpp.llama_memory_seq_rm(self._memory, seq_id, start, -1)

    def _answer(
        self,
        request: GenerationRequest,
        on_text: TokenCallback | None,
        started: float,
        stats: GenerationStats,
        heal: bytes,
    ) -> _TokenAnswer:
        stream = StreamedAnswer(request, on_text, started, stats)
        return _TokenAnswer(stream, self.token_bytes, self._stop_ids, skip=heal)

    def _build_healing(self) -> None:
        self._healing = HealingVocabulary(self.n_vocab, self.token_bytes, self.is_normal_token)
        # Until this says yes, text is tokenized whole (the same tokens, only slower).
        self._pieces.verify(calibration_texts()[:PIECE_SAMPLES])

    def _healing_vocabulary(self) -> HealingVocabulary:
        self._healing_build.join()
        assert self._healing is not None
        return self._healing

    def _pick(self, healing: bytes, index: int = -1) -> int:
        began = time.perf_counter()
        token = self._healing_pick(healing, index) if healing else self._greedy(index)
        self._stats.sampling_ms += (time.perf_counter() - began) * 1000
        return token

    def _first_choices(self, healing: bytes, alternatives: int) -> tuple[int, ...]:
        """The most likely next tokens that write text (the greedy one first; twice as many
        others as wanted, since some lead to an answer already given), healing respected."""
        logits = self._logits()
        if healing:
            candidates = self._healing_vocabulary().allowed(healing)
        else:
            candidates = np.arange(self.n_vocab)
        order = candidates[np.argsort(-logits[candidates], kind="stable")]
        chosen: list[int] = []
        for token in (int(t) for t in order[: 8 * alternatives + 8]):
            if token not in self._stop_ids and writes_text(self.token_bytes(token), healing):
                chosen.append(token)
                if len(chosen) == 2 * alternatives + 1:
                    break
        return tuple(chosen)

    def _alternatives(
        self,
        request: GenerationRequest,
        seq_id: int,
        layout: Layout,
        branch: Branch,
        main: GenerationResult,
    ) -> tuple[str, ...]:
        """Up to ``request.alternatives`` answers that differ from the main one and from each
        other (beyond surrounding whitespace): the main answer's tokens up to the branch, then
        each other first token there continued greedily, with the request's stop strings and
        limits, within ``alternatives_allowance_ms``; a cancellation ends them at once."""
        texts: list[str] = []
        seen = {main.text.strip()}
        allowed_ms = alternatives_allowance_ms(main.stats)
        if request.predict_time_budget_ms:
            allowed_ms = min(allowed_ms, request.predict_time_budget_ms)
        deadline = time.perf_counter() + allowed_ms / 1000
        for first in branch.firsts[1:]:
            if len(texts) >= request.alternatives:
                break
            answer = self._answer(
                request, None, time.perf_counter(), GenerationStats(), layout.heal
            )
            for shared in branch.tokens:
                answer.take(shared)
            healing, token, position = branch.healing, first, branch.position
            reason = answer.take(token)
            while reason is None and self._interrupted(deadline) is None:
                if healing:
                    _, healing = spelled(self.token_bytes(token), healing)
                if self._step(seq_id, [token], position) is not None:
                    break
                position += 1
                token = self._pick(healing)
                reason = answer.take(token)
            llama_cpp.llama_memory_seq_rm(self._memory, seq_id, branch.position, -1)
            if reason is None:  # out of time (or cancelled): an unfinished line is not shown
                break
            text = answer.finish(reason).text
            if text.strip() not in seen:
                seen.add(text.strip())
                texts.append(text)
        return tuple(texts)

    def _keep_answer(self, key: str, seq_id: int, layout: Layout, generated: list[int]) -> None:
        """A preempted request keeps the cells of its answer so far (all but the last token,
        which the resumed request decodes as its trigger): the continuation evaluates nothing."""
        kept = [*layout.body, layout.trigger, *generated[:-1]]
        llama_cpp.llama_memory_seq_rm(self._memory, seq_id, len(kept), -1)
        state = self._states.get(key)
        if state is not None and state.seq_id == seq_id:
            state.head = kept
            state.tail_start = len(kept)
            state.tail = []

    def _interrupted(self, deadline: float) -> StopReason | None:
        if self._cancel is not None and self._cancel.cancelled:
            return StopReason.CANCELLED
        if self._cancel is not None and self._cancel.preempted:
            return StopReason.PREEMPTED
        if time.perf_counter() > deadline:
            return StopReason.TIME_BUDGET
        return None

    def _scored_pick(self, healing: bytes, index: int, scoring: bool) -> tuple[int, float | None]:
        """The next token, and its log-probability when the request is ``scoring``."""
        token = self._pick(healing, index)
        return token, self._logprob(token, index) if scoring else None

    def _logprob(self, token: int, index: int = -1) -> float:
        """The log-probability of ``token`` after the ``index``-th token of the last batch."""
        logits = self._logits(index)
        top = float(logits.max())
        return float(logits[token]) - top - math.log(float(np.exp(logits - top).sum()))

    def _verify(
        self,
        draft: Sequence[int],
        answer: _TokenAnswer,
        generated: list[int],
        scoring: bool = False,
    ) -> tuple[int, StopReason | None]:
        """Greedy verification of a draft decoded behind the last token: keep draft tokens while
        each is the model's own pick. Returns how many were kept, and a reason to stop."""
        kept = 0
        for index, proposed in enumerate(draft):
            if self._greedy(index) != proposed:
                break
            kept += 1
            logprob = self._logprob(proposed, index) if scoring else None
            if (reason := answer.take(proposed, logprob)) is not None:
                return kept, reason
            generated.append(proposed)
        return kept, None

    def close(self) -> None:
        self._healing_build.join()  # it reads the vocabulary that closing frees
        llama_cpp.llama_batch_free(self._batch)
        self._context.close()
        self._model.close()


class _TokenAnswer:
    """Generated tokens into the shared answer: stop tokens end it, bytes become text (a
    character split across tokens waits for its last byte)."""

    def __init__(
        self,
        answer: StreamedAnswer,
        token_bytes: Callable[[int], bytes],
        stop_ids: frozenset[int],
        earlier: Sequence[int] = (),
        skip: bytes = b"",
    ) -> None:
        """``earlier``: the tokens of the answer before a resumption (a character may have
        been split across the preemption); ``skip``: healed bytes the answer leaves out."""
        self._answer = answer
        self._skip = skip
        self._token_bytes = token_bytes
        self._stop_ids = stop_ids
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._scored: list[tuple[str, float]] = []
        if earlier:
            self._decoder.decode(b"".join(token_bytes(token) for token in earlier[-8:]))

    def take(self, token: int, logprob: float | None = None) -> StopReason | None:
        """Adds the token to the answer (with its log-probability, when scored)."""
        if token in self._stop_ids:
            return StopReason.EOS
        piece = self._token_bytes(token)
        if self._skip:
            piece, self._skip = spelled(piece, self._skip)
        text = self._decoder.decode(piece)
        if logprob is not None:
            self._scored.append((text, logprob))
        return self._answer.add(text)

    def finish(self, reason: StopReason) -> GenerationResult:
        """The answer; a preempted one keeps a character split across tokens for later."""
        if reason is not StopReason.PREEMPTED and (tail := self._decoder.decode(b"", final=True)):
            self._answer.add(tail, tokens=0)
        result = self._answer.result(reason)
        result.scored = tuple(self._scored)
        return result


class _DraftSchedule:
    """How many prompt-lookup draft tokens the next step may try: the length doubles while
    drafts are taken whole and halves on a miss; after a draft of which nothing was kept,
    drafting pauses for 1, 2, 4 ... steps (see DRAFT_MAX_PAUSE)."""

    def __init__(self, min_tokens: int = DRAFT_MIN_TOKENS) -> None:
        self._min = min_tokens
        self._length = min_tokens
        self._pause = 0
        self._paused = 0

    def limit(self, room: int) -> int:
        """The draft length for this step (0 while paused); ``room`` caps it."""
        allowed = 0 if self._paused else min(self._length, room)
        self._paused = max(0, self._paused - 1)
        return allowed

    def record(self, proposed: int, kept: int, stats: GenerationStats) -> None:
        stats.draft_tokens += proposed
        stats.draft_accepted += kept
        if not proposed:
            return
        if kept == proposed:
            self._length = min(DRAFT_MAX_TOKENS, 2 * self._length)
        else:
            self._length = max(self._min, self._length // 2)
        self._pause = 0 if kept else min(DRAFT_MAX_PAUSE, max(1, 2 * self._pause))
        self._paused = self._pause


class _NoSlot(Exception):
    def __init__(self, evaluated: int) -> None:
        self.evaluated = evaluated
