"""The answer's token loop: picks (greedy, healing-constrained, scored), prompt-lookup drafts
checked in one batch, stops, and what happens to the answer's cells when it ends."""

from __future__ import annotations

import codecs
import time
from collections.abc import Callable, Sequence

import numpy as np

from spark_lsp.engine.answer import StreamedAnswer
from spark_lsp.engine.base import (
    GenerationRequest,
    GenerationResult,
    GenerationStats,
    InfillPrompt,
    StopReason,
    TokenCallback,
)
from spark_lsp.engine.healing import spelled
from spark_lsp.engine.llama.layout import Layout
from spark_lsp.engine.llama.run import Aborted, NoSlot, Run, deadline_after
from spark_lsp.engine.llama.runtime import Runtime
from spark_lsp.engine.llama.tokens import ModelTokens
from spark_lsp.engine.lookup import DraftLookup, NgramDrafter, PromptLookup

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


class TokenAnswer:
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


class DraftSchedule:
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


class Decoder:
    """Decodes answers on the cells a SequenceCache prepared."""

    def __init__(
        self,
        runtime: Runtime,
        tokens: ModelTokens,
        stop_ids: frozenset[int],
    ) -> None:
        self.runtime = runtime
        self.tokens = tokens
        self.stop_ids = stop_ids

    def answer(self, run: Run, on_text: TokenCallback | None, heal: bytes) -> TokenAnswer:
        stream = StreamedAnswer(run.request, on_text, run.started, run.stats)
        return TokenAnswer(
            stream, self.tokens.token_bytes, self.stop_ids, earlier=run.request.resume, skip=heal
        )

    def pick(self, run: Run, healing: bytes, index: int = -1) -> int:
        """The next token: greedy, or the likeliest that goes on spelling the healed bytes."""
        began = time.perf_counter()
        if healing:
            allowed = self.tokens.healing().allowed(healing)
            logits = self.runtime.logits(index)
            if len(allowed):
                token = int(allowed[int(np.argmax(logits[allowed]))])
            else:
                token = int(np.argmax(logits))
        else:
            token = self.runtime.greedy(index)
        run.stats.sampling_ms += (time.perf_counter() - began) * 1000
        return token

    def scored_pick(
        self, run: Run, healing: bytes, index: int, scoring: bool
    ) -> tuple[int, float | None]:
        """The next token, and its log-probability when the request is ``scoring``."""
        token = self.pick(run, healing, index)
        return token, self.runtime.logprob(token, index) if scoring else None

    def step(self, run: Run, seq_id: int, tokens: list[int], position: int) -> StopReason | None:
        """Decode the answer's next token (and a draft behind it); a reason when it cannot."""
        began = time.perf_counter()
        try:
            self.runtime.decode(run, seq_id, tokens, position, want_logits=True, every=True)
        except Aborted as aborted:
            return aborted.reason
        except NoSlot:
            return StopReason.LENGTH  # the KV cache is full: end the answer here
        finally:
            run.stats.decode_ms += (time.perf_counter() - began) * 1000
        return None

    def lookup(self, request: GenerationRequest, layout: Layout) -> NgramDrafter | None:
        """Where drafts come from: a rewrite's input, or a completion's own prompt."""
        if request.draft:
            return DraftLookup(self.tokens.tokenize(request.draft))
        if self.runtime.settings.prompt_lookup and isinstance(request.prompt, InfillPrompt):
            return PromptLookup(layout.body, layout.split)
        return None

    def verify(
        self,
        draft: Sequence[int],
        answer: TokenAnswer,
        generated: list[int],
        scoring: bool = False,
    ) -> tuple[int, StopReason | None]:
        """Greedy verification of a draft decoded behind the last token: keep draft tokens
        while each is the model's own pick. Returns how many were kept, and a reason to stop."""
        kept = 0
        for index, proposed in enumerate(draft):
            if self.runtime.greedy(index) != proposed:
                break
            kept += 1
            logprob = self.runtime.logprob(proposed, index) if scoring else None
            if (reason := answer.take(proposed, logprob)) is not None:
                return kept, reason
            generated.append(proposed)
        return kept, None

    def generate(
        self,
        run: Run,
        seq_id: int,
        layout: Layout,
        on_text: TokenCallback | None,
        generated: list[int],
        on_pick: Callable[[int, bytes, list[int]], bool] | None = None,
    ) -> tuple[GenerationResult, StopReason]:
        """The answer after the trigger, its tokens appended to ``generated`` as they come:
        (the result, why it stopped). ``on_pick(token, healing, generated)`` sees each picked
        token (not a draft's) until it returns True: where the alternatives branch."""
        request, stats = run.request, run.stats
        answer = self.answer(run, on_text, layout.heal)
        healing = layout.spell  # still to be spelled by the answer's first tokens
        lookup = self.lookup(request, layout)
        drafts = DraftSchedule(DRAFT_MIN_TOKENS if request.draft else PROMPT_DRAFT_MIN_TOKENS)
        deadline = deadline_after(time.perf_counter(), request.predict_time_budget_ms)
        position = len(layout.body) + 1
        token, logprob = self.scored_pick(run, healing, -1, request.logprobs)
        if on_pick is not None and on_pick(token, healing, generated):
            on_pick = None
        while (reason := answer.take(token, logprob)) is None:
            generated.append(token)
            if healing:
                _, healing = spelled(self.tokens.token_bytes(token), healing)
            if (reason := run.stop_reason(deadline)) is not None:
                break
            room = min(
                request.max_tokens - stats.tokens_generated, self.runtime.settings.batch_size - 1
            )
            draft = lookup.propose(generated, drafts.limit(room)) if lookup and not healing else []
            if (reason := self.step(run, seq_id, [token, *draft], position)) is not None:
                break
            position += 1
            kept, reason = self.verify(draft, answer, generated, request.logprobs)
            drafts.record(len(draft), kept, stats)
            if reason is not None:
                break
            position += kept
            if kept < len(draft):  # the rejected draft's cells go
                self.runtime.remove(seq_id, position, -1)
            token, logprob = self.scored_pick(run, healing, kept, request.logprobs)
            # A draft's logits are not the pick's: the branch point is looked for without one.
            if on_pick is not None and not draft and on_pick(token, healing, generated):
                on_pick = None
        return answer.finish(reason), reason
