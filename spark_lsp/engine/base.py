"""The engine interface: what the completion and action pipelines ask of a model backend.

An engine turns one GenerationRequest into text. It is synchronous and owns no threads: a worker
calls it, and a CancelToken set from another thread stops it at the next decode step. Everything
above this interface (prompt building, post-processing, LSP) is the same for every backend.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from spark_lsp.templates import FimTemplate, Segment
    from spark_lsp.token_counting import TokenCounter


class Priority(IntEnum):
    """Lower runs first."""

    INTERACTIVE = 0  # the suggestion the user is waiting for
    ACTION = 1  # a code action the user picked
    SPECULATIVE = 2  # prefetch and background continuation
    WARMUP = 3  # filling the cache while the user is idle


class Lane(StrEnum):
    """Which of a document's KV-cache entries a request works in (``cache_key``)."""

    DOCUMENT = ""  # the document's own cells: completions, and what a warm-up hands over
    WARM_UP = "warm-up"  # a context warm-up computed aside, then adopted as DOCUMENT
    ACTION = "action"  # code actions' chat prompts: never disturbs the document's cells
    NEXT_EDIT = "next-edit"  # next-edit prompts, likewise


def cache_key(uri: str, lane: Lane = Lane.DOCUMENT) -> str:
    """The GenerationRequest.key of ``uri``'s cells in ``lane``: requests with one key share
    cells, and a newer one supersedes older ones."""
    return uri if lane is Lane.DOCUMENT else f"{uri}#{lane.value}"


class StopReason(StrEnum):
    EOS = "eos"  # the model ended the text
    STOP = "stop"  # a stop string or stop token
    LENGTH = "length"  # max_tokens reached
    TIME_BUDGET = "time_budget"  # prompt or predict time budget spent
    CANCELLED = "cancelled"
    FAILED = "failed"  # the engine could not serve the request (``GenerationResult.error``)
    # A more urgent request is waiting: the engine stopped early and kept its cells; the worker
    # continues the request later (``GenerationRequest.resume``). Callers never see it.
    PREEMPTED = "preempted"


@dataclass(frozen=True, slots=True)
class InfillPrompt:
    """Fill-in-the-middle: the engine's template places prefix, suffix and context."""

    prefix: str
    suffix: str
    file_path: str = ""
    extra_context: tuple[tuple[str, str], ...] = ()  # (path, text) chunks, most stable first


@dataclass(frozen=True, slots=True)
class TextPrompt:
    """A prompt already in its final textual form (for example a rendered chat template)."""

    text: str


@dataclass(frozen=True, slots=True)
class ChatPrompt:
    """Chat messages ((role, content) pairs); the backend applies the model's chat template."""

    messages: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, messages: Sequence[Mapping[str, str]]) -> ChatPrompt:
        return cls(tuple((message["role"], message["content"]) for message in messages))

    def as_dicts(self) -> list[dict[str, str]]:
        return [{"role": role, "content": content} for role, content in self.messages]


@dataclass(frozen=True, slots=True)
class SegmentPrompt:
    """A raw completion prompt built of document text and the special tokens between (a
    repository-level prompt's ``<|file_sep|>``): a special-token spelling inside document text
    stays plain text."""

    segments: tuple[Segment, ...]

    @property
    def text(self) -> str:
        """The textual form, for backends that take a prompt string (they parse the special
        tokens' spellings)."""
        return "".join(segment.text for segment in self.segments)


Prompt = InfillPrompt | TextPrompt | ChatPrompt | SegmentPrompt


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    prompt: Prompt
    max_tokens: int = 64
    stop: tuple[str, ...] = ()
    # Stop strings count only once some non-blank text precedes them: a one-line suggestion on a
    # blank line is the model's next non-blank line, not the empty one it may start with.
    stop_after_text: bool = False
    # A block's natural end (see ``block_end_index``): before a line with text indented less
    # than the answer's first, or at a blank line once a line of text was written.
    stop_at_block_end: bool = False
    # The most lines the answer may have: it ends after that many line breaks (a rewrite of a
    # window that runs on would copy the file after it). 0: no limit.
    max_lines: int = 0
    priority: Priority = Priority.INTERACTIVE
    # Requests with the same key share cache-reuse state, and a newer one supersedes older ones
    # (``cache_key``: a document's URI and lane).
    key: str = ""
    prompt_time_budget_ms: float | None = None
    predict_time_budget_ms: float | None = None
    # When the request completes, its cells become those of this key (a warm-up computed aside,
    # so that a warm-up stopped half-way never disturbs the key's current cells).
    adopt_as: str = ""
    # Text the answer is expected to copy from (a rewrite's input): drafts for speculative
    # decoding by prompt lookup. Greedy verification keeps the output what it would have been.
    draft: str = ""
    # False: a newer request with the same key does not supersede this one (code actions: two
    # on one document both complete, one after the other).
    supersedes: bool = True
    # The answer's tokens so far, when a preempted request continues (they follow the prompt).
    resume: tuple[int, ...] = ()
    # Token healing of an infill prompt (see engine/healing.py): the prefix backs up by its last
    # token and the answer's first tokens spell it again (the answer excludes those bytes).
    # The in-process engine heals; a remote server's API has no way to, so it ignores this.
    heal: bool = False
    # Text the answer must start with (a line break, when the prompt ends above a blank line
    # the suggestion is for): the in-process engine constrains its first tokens to spell it,
    # like healed bytes, but keeps it in the answer; a remote server ignores it.
    lead: str = ""
    # How many other answers to add, each starting with one of the next most likely first
    # tokens and continued greedily on the same cells (the in-process engine; others ignore it).
    alternatives: int = 0
    # How long those may take once the main answer is final, given its figures (milliseconds;
    # the caller's policy, see completion/alternatives.py). None: only the predict time budget
    # bounds them. An alternative the allowance cuts short ends with TIME_BUDGET.
    alternatives_allowance: Callable[[GenerationResult], float] | None = None
    # Generate nothing: recompute, in place, the key's cells that were reused from an older text
    # (see engine/reuse.py), so its next request starts from exact cells. Only engines whose
    # capabilities say ``refreshes_cells`` take such requests (the prompt is not used).
    refresh: bool = False
    # Report each generated token's log-probability (``GenerationResult.scored``; the
    # in-process engine only, a remote server's answer has none).
    logprobs: bool = False


def stop_index(text: str, request: GenerationRequest) -> int:
    """Where ``text`` must be cut for the request's stop strings (and its block end), or -1."""
    found = block_end_index(text) if request.stop_at_block_end else -1
    if request.max_lines and (lines_end := _after_lines(text, request.max_lines)) >= 0:
        found = lines_end if found < 0 else min(found, lines_end)
    for stop in request.stop:
        start = 0
        while (index := text.find(stop, start)) >= 0:
            if not request.stop_after_text or text[:index].strip():
                found = index if found < 0 else min(found, index)
                break
            start = index + 1
    return found


def _after_lines(text: str, count: int) -> int:
    """Where ``count`` lines of ``text`` end (just after their last line break), or -1."""
    at = -1
    for _ in range(count):
        at = text.find("\n", at + 1)
        if at < 0:
            return -1
    return at + 1


def block_end_index(text: str) -> int:
    """Where a block answer's natural end cuts ``text``, just after a line break, or -1: at the
    first blank line after a line of text, or before a line whose text is indented less than
    the answer's first line of text (the block is over: ``else:``, a closing brace, the next
    definition). A last line with no text yet is not judged (see ``undecided_tail``)."""
    lines = text.split("\n")
    base = _indent(lines[0]) if lines[0].strip() else None
    start = len(lines[0]) + 1
    for index, line in enumerate(lines[1:], start=1):
        complete = index < len(lines) - 1
        if line.strip():
            if base is None:
                base = _indent(line)
            elif _indent(line) < base:
                return start
        elif complete and base is not None:
            return start
        start += len(line) + 1
    return -1


def undecided_tail(text: str) -> int:
    """How many characters at the end of ``text`` a block end may still cut: the whitespace of
    a line that has no text yet (the line break before it stays)."""
    tail = text[text.rfind("\n") + 1 :] if "\n" in text else ""
    return len(tail) if not tail.strip() else 0


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


@dataclass(slots=True)
class GenerationStats:
    prompt_tokens: int = 0
    tokens_evaluated: int = 0  # prompt tokens actually computed (not served from the KV cache)
    prompt_eval_ms: float = 0.0  # time spent computing them (the trigger token not included)
    # Where the rest of a request's time went (the in-process engine; bench latency --breakdown).
    layout_ms: float = 0.0  # tokenizing the prompt and fitting it to the context
    reuse_ms: float = 0.0  # planning the KV reuse and copying, trimming, shifting cells
    decode_ms: float = 0.0  # llama_decode of the trigger and the answer's tokens (and drafts)
    sampling_ms: float = 0.0  # picking tokens from the logits (healing's masks included)
    tokens_generated: int = 0
    time_to_first_token_ms: float = 0.0
    total_ms: float = 0.0
    # Decoding the alternatives, after the main answer's figures (total_ms included) were final.
    alternatives_ms: float = 0.0
    draft_tokens: int = 0  # tokens proposed by prompt lookup
    draft_accepted: int = 0  # of which the model agreed with

    def phases(self) -> dict[str, float]:
        """Where the request's time went, in PHASES' order (milliseconds)."""
        phases = {
            "layout": self.layout_ms,
            "reuse plan and cells": self.reuse_ms,
            "prompt eval": max(0.0, self.prompt_eval_ms - self.reuse_ms),
            "decode": self.decode_ms,
            "sampling": self.sampling_ms,
        }
        phases["other"] = max(0.0, self.total_ms - sum(phases.values()))
        return phases


PHASES = ("layout", "reuse plan and cells", "prompt eval", "decode", "sampling", "other")


@dataclass(slots=True)
class GenerationResult:
    text: str
    stop_reason: StopReason
    stats: GenerationStats = field(default_factory=GenerationStats)
    error: str = ""  # why, when the stop reason is FAILED
    resume: tuple[int, ...] = ()  # with PREEMPTED: the answer's tokens so far
    alternatives: tuple[str, ...] = ()  # other answers, when the request asked for them
    alternative_stops: tuple[StopReason, ...] = ()  # why each of them ended, in order
    overflow: int = 0  # with FAILED for a prompt too long: how many tokens too many
    # With ``logprobs``: (the token's text, its log-probability) for each token generated in
    # this call (a resumed answer's earlier tokens are not in it), in order.
    scored: tuple[tuple[str, float], ...] = ()


class EngineError(Exception):
    """The model cannot serve a request (for example a prompt that cannot fit the context)."""


class PromptTooLong(EngineError):
    """The prompt is ``overflow`` tokens over what the context leaves it. The engine never trims
    a chat or text prompt (its start holds the instructions): the caller shortens it."""

    def __init__(self, overflow: int) -> None:
        super().__init__(f"the prompt does not fit the context ({overflow} tokens too many)")
        self.overflow = overflow


class CancelToken:
    """Set from any thread; the engine checks it between decode steps. A backend that waits on
    something else (a network stream) registers a callback that interrupts the wait."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._preempt = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], None]] = []
        self.reason = ""

    def preempt(self) -> None:
        """Ask the engine to stop early for a more urgent request and keep what it computed
        (engines that cannot resume ignore it)."""
        self._preempt.set()

    @property
    def preempted(self) -> bool:
        return self._preempt.is_set()

    def clear_preemption(self) -> None:
        self._preempt.clear()

    def cancel(self, reason: str = "cancelled") -> None:
        with self._lock:
            if self._event.is_set():
                return
            self.reason = reason
            self._event.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()

    def on_cancel(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (from the cancelling thread) when cancelled; at once if already."""
        with self._lock:
            if not self._event.is_set():
                self._callbacks.append(callback)
                return
        callback()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


TokenCallback = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class EngineCapabilities:
    """What a backend can do beyond ``generate``: declared by each backend, never probed."""

    # A preempted request stops with PREEMPTED and keeps its work (GenerationResult.resume),
    # rather than running to its end.
    resumable: bool = False
    # Takes GenerationRequest.refresh: recomputes a document's stale cells while the user pauses.
    refreshes_cells: bool = False


@dataclass(frozen=True, slots=True)
class EngineCounters:
    """A backend's running totals, for spark/debug/counters, tests and benchmarks."""

    requests: int = 0  # generate() calls served
    tokens_evaluated: int = 0  # tokens the model computed (prompt and answer), in-process only
    fallbacks: int = 0  # requests the local model served for an unreachable server


class Engine(Protocol):
    """A model backend. ``generate`` blocks; call it from a worker thread."""

    @property
    def name(self) -> str:
        """Backend and model, for logs (``llama.cpp:model.gguf``, ``remote:http://...``)."""
        ...

    @property
    def model_name(self) -> str:
        """The model alone, for the editor's status."""
        ...

    @property
    def template(self) -> FimTemplate:
        """The FIM format the model was trained with (prompt layout and budgets follow it)."""
        ...

    @property
    def add_bos(self) -> bool: ...

    @property
    def n_ctx(self) -> int:
        """Tokens a prompt and its answer may take together."""
        ...

    def token_counter(self) -> TokenCounter:
        """Counts for prompt budgets: exact where the model's vocabulary allows, else an upper
        estimate."""
        ...

    @property
    def capabilities(self) -> EngineCapabilities:
        """What the backend can do beyond ``generate``."""
        ...

    def counters(self) -> EngineCounters:
        """Its running totals."""
        ...

    def close(self) -> None: ...

    def generate(
        self,
        request: GenerationRequest,
        cancel: CancelToken,
        on_text: TokenCallback | None = None,
    ) -> GenerationResult:
        """Generate for ``request``; ``on_text`` receives each new piece of text as it decodes."""
        ...
