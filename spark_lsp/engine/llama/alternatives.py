"""Other answers beside the main one, decoded on the cells the main answer already computed:
where they branch (``engine/branching.py``), their first tokens, and their greedy decode."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np

from spark_lsp.engine.base import GenerationResult, GenerationStats, StopReason
from spark_lsp.engine.branching import Branch, writes_text
from spark_lsp.engine.healing import spelled
from spark_lsp.engine.llama.decoding import Decoder
from spark_lsp.engine.llama.layout import Layout
from spark_lsp.engine.llama.run import Run


class BranchFinder:
    """Watches the main answer's picks for the branch point (see ``Decoder.generate``)."""

    def __init__(self, decoder: Decoder, wanted: int, layout: Layout) -> None:
        self._decoder = decoder
        self._wanted = wanted
        self._body_length = len(layout.body)
        self.branch: Branch | None = None

    def __call__(self, token: int, healing: bytes, generated: list[int]) -> bool:
        """True once ``token``, picked next, is the answer's first that writes text."""
        if not writes_text(self._decoder.tokens.token_bytes(token), healing):
            return False
        firsts = first_choices(self._decoder, healing, self._wanted)
        position = self._body_length + 1 + len(generated)
        self.branch = Branch(tuple(generated), healing, firsts, position)
        return True


def first_choices(decoder: Decoder, healing: bytes, alternatives: int) -> tuple[int, ...]:
    """The most likely next tokens that write text (the greedy one first; twice as many
    others as wanted, since some lead to an answer already given), healing respected."""
    logits = decoder.runtime.logits()
    if healing:
        candidates = decoder.tokens.healing().allowed(healing)
    else:
        candidates = np.arange(decoder.runtime.n_vocab)
    order = candidates[np.argsort(-logits[candidates], kind="stable")]
    chosen: list[int] = []
    for token in (int(t) for t in order[: 8 * alternatives + 8]):
        token_bytes = decoder.tokens.token_bytes(token)
        if token not in decoder.stop_ids and writes_text(token_bytes, healing):
            chosen.append(token)
            if len(chosen) == 2 * alternatives + 1:
                break
    return tuple(chosen)


def alternatives(
    decoder: Decoder,
    main_run: Run,
    seq_id: int,
    layout: Layout,
    branch: Branch,
    main: GenerationResult,
) -> tuple[tuple[str, ...], tuple[StopReason, ...]]:
    """Up to ``request.alternatives`` continuations that differ from the main one and from each
    other (beyond surrounding whitespace), and why each ended: the main answer's tokens up to
    the branch, then each other first token there continued greedily, with the request's stop
    strings and limits, within the request's ``alternatives_allowance`` (one cut short ends
    with TIME_BUDGET, and no other starts); a cancellation ends them at once, unreported.
    Their time is their own: the main answer's figures are final before they start."""
    request = main_run.request
    texts: list[str] = []
    stops: list[StopReason] = []
    seen = {main.text.strip()}
    deadline = _deadline(request.alternatives_allowance, request.predict_time_budget_ms, main)
    for first in branch.firsts[1:]:
        if len(texts) >= request.alternatives:
            break
        run = Run(request, main_run.cancel, main_run.key, stats=GenerationStats())
        answer = decoder.answer(run, None, layout.heal)
        for shared in branch.tokens:
            answer.take(shared)
        healing, token, position = branch.healing, first, branch.position
        reason = answer.take(token)
        while reason is None and (reason := run.stop_reason(deadline)) is None:
            if healing:
                _, healing = spelled(decoder.tokens.token_bytes(token), healing)
            if decoder.step(run, seq_id, [token], position) is not None:
                reason = None  # stopped inside the decode, or no cells left: no more of them
                break
            position += 1
            token = decoder.pick(run, healing)
            reason = answer.take(token)
        decoder.runtime.remove(seq_id, branch.position, -1)
        if reason is None or reason in (StopReason.CANCELLED, StopReason.PREEMPTED):
            break
        text = answer.finish(reason).text
        if text.strip() not in seen:
            seen.add(text.strip())
            texts.append(text)
            stops.append(reason)
        if reason is StopReason.TIME_BUDGET:
            break
    return tuple(texts), tuple(stops)


def _deadline(
    allowance: Callable[[GenerationResult], float] | None,
    predict_budget_ms: float | None,
    main: GenerationResult,
) -> float:
    """When alternatives must end (perf_counter seconds): the caller's allowance and the predict
    budget, whichever is shorter; without either, never."""
    budget_ms = predict_budget_ms or math.inf
    if allowance is not None:
        budget_ms = min(budget_ms, allowance(main))
    return time.perf_counter() + budget_ms / 1000  # inf: NO_DEADLINE
