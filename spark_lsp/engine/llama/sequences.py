"""Each document's KV cells: which sequence holds them, parking the inactive ones, bringing a
document's cells up to a new prompt (reusing what the cache holds) and refreshing stale ones.

Only the active document's cells stay in the cache; the others' are parked in memory (up to
``max_documents``, least recently used dropped) and restored when a request comes for them (see
``engine/parking.py``). A request copies the reusable cells into a scratch sequence (copying
shares cells, it computes nothing), decodes only what changed, and the scratch becomes the
document's sequence. See ``engine/reuse.py`` for the plan and the measurements behind it.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict

from spark_lsp.engine import parking
from spark_lsp.engine.base import EngineError, Priority, StopReason
from spark_lsp.engine.llama.layout import Layout
from spark_lsp.engine.llama.run import Aborted, NoSlot, Run
from spark_lsp.engine.llama.runtime import Runtime
from spark_lsp.engine.reuse import SequenceState, plan_reuse, stale_range

logger = logging.getLogger(__name__)


class SequenceCache:
    """The documents' sequences, by cache key. Used by the engine's one worker thread only."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self.states: OrderedDict[str, SequenceState] = OrderedDict()

    def free_seq_id(self, keep: str) -> int:
        used = {state.seq_id for state in self.states.values() if state.parked is None}
        for seq_id in range(self._runtime.n_seq):
            if seq_id not in used:
                return seq_id
        for key, state in self.states.items():
            if key != keep and state.parked is None:
                self.drop(key)
                return self.free_seq_id(keep)
        raise EngineError("no free sequence")  # unreachable: n_seq >= 2

    def drop(self, key: str) -> None:
        state = self.states.pop(key)
        if state.parked is None:
            self._runtime.remove(state.seq_id)

    def adopt(self, key: str, new_key: str) -> None:
        """``new_key``'s cells are now ``key``'s (whose own cells are dropped)."""
        if key == new_key or key not in self.states:
            return
        if new_key in self.states:
            self.drop(new_key)
        self.states[new_key] = self.states.pop(key)
        self.states.move_to_end(new_key)

    def reset(self) -> None:
        self._runtime.clear()
        self.states.clear()

    def state_for(self, key: str) -> SequenceState:
        """``key``'s state, its cells in the cache and every other document's parked."""
        runtime = self._runtime
        for other, state in list(self.states.items()):
            if other != key and state.parked is None:
                state.parked = parking.park(runtime.ctx, runtime.memory, state.seq_id)
                state.seq_id = -1
                if state.parked is None:
                    del self.states[other]
        state = self.states.get(key)
        if state is not None and state.parked is not None:
            seq_id = self.free_seq_id(keep=key)
            if not parking.restore(runtime.ctx, state.parked, seq_id):
                runtime.remove(seq_id)
                state = None
                del self.states[key]
            else:
                state.seq_id, state.parked = seq_id, None
        if state is None:
            state = SequenceState(self.free_seq_id(keep=key))
            runtime.remove(state.seq_id)
            self.states[key] = state
        self.states.move_to_end(key)
        parked = [other for other, kept in self.states.items() if kept.parked is not None]
        for oldest in parked[: max(0, len(parked) - self._runtime.settings.max_documents)]:
            self.drop(oldest)
        return state

    def prepare(self, run: Run, layout: Layout) -> int:
        """Bring ``run.key``'s cells up to ``layout.body`` in a fresh sequence (within the
        run's prompt deadline); decode the trigger. Returns that sequence. On a stop the
        document keeps what was computed (Aborted and NoSlot are raised on)."""
        began = time.perf_counter()
        runtime, stats, key = self._runtime, run.stats, run.key
        state = self.state_for(key)
        settings = self._runtime.settings
        refresh = None if settings.kv_reuse == "exact" else settings.suffix_refresh_tokens
        plan = plan_reuse(state, layout.body, layout.split, refresh)
        body, old = layout.body, state.seq_id
        # Trim the old sequence to the kept head and the reused tail, then move the tail.
        if plan.reuse_count:
            reuse_end = plan.reuse_old_start + plan.reuse_count
            runtime.remove(old, plan.keep_head, plan.reuse_old_start)
            runtime.remove(old, reuse_end, -1)
            if plan.shift:
                runtime.shift(old, plan.reuse_old_start, reuse_end, plan.shift)
        else:
            runtime.remove(old, plan.keep_head, -1)
        state.head = list(body[: plan.keep_head])
        state.tail_start = plan.reuse_new_start
        state.tail = list(body[plan.reuse_new_start :])
        scratch = self.free_seq_id(keep=key)
        runtime.remove(scratch)
        if plan.keep_head:
            runtime.copy(old, scratch, 0, plan.keep_head)
        first, until = plan.evaluate_range
        runtime.watch(run if self._watched(run, until - first) else None)
        stats.reuse_ms = (time.perf_counter() - began) * 1000
        try:
            runtime.decode(run, scratch, body[first:until], first, want_logits=False)
            stats.tokens_evaluated = until - first
        except (Aborted, NoSlot) as stop:
            evaluated = stop.evaluated
            if evaluated:
                runtime.copy(scratch, old, first, first + evaluated)
                state.head = list(body[: first + evaluated])
            state.exact_until = len(state.head)
            runtime.remove(scratch)
            raise
        finally:
            runtime.watch(None)
        if plan.reuse_count:
            runtime.copy(old, scratch, plan.reuse_new_start, len(body))
        # The scratch now holds the whole body: it becomes the document's sequence.
        runtime.remove(old)
        state.seq_id = scratch
        stats.prompt_eval_ms = (time.perf_counter() - began) * 1000
        state.head = list(body[: layout.split])
        state.tail_start = layout.split
        state.tail = list(body[layout.split :])
        state.exact_until = plan.exact_until
        triggered = time.perf_counter()
        runtime.decode(run, scratch, [layout.trigger], len(body), want_logits=True)
        stats.decode_ms += (time.perf_counter() - triggered) * 1000
        stats.tokens_evaluated += 1
        return scratch

    def _watched(self, run: Run, tokens: int) -> bool:
        """Whether a prompt evaluation needs the abort callback: a long one, and a background
        run's even when short (a request preempts it at any moment, and one micro-batch of 128
        tokens takes half a second or more on a 2-core CPU)."""
        long_prompt = tokens > self._runtime.settings.batch_size
        return long_prompt or run.request.priority > Priority.INTERACTIVE

    def refresh(self, run: Run) -> StopReason:
        """Recompute the stale cells of ``run.key``'s resident sequence, one batch at a time,
        each into a scratch sequence that replaces the batch's old cells only once it is
        complete: stopped at any point (a keystroke cancels it between graph nodes), the
        sequence is whole and exact up to where it got."""
        runtime, key = self._runtime, run.key
        state = self.states.get(key)
        stale = None if state is None or state.parked is not None else stale_range(state)
        if state is None or stale is None:
            return StopReason.STOP
        tokens, (start, end) = [*state.head, *state.tail], stale
        seq_id, reason = state.seq_id, StopReason.STOP
        scratch = self.free_seq_id(keep=key)
        runtime.watch(run)
        try:
            while start < end:
                until = min(end, start + self._runtime.settings.batch_size)
                runtime.remove(scratch)
                runtime.copy(seq_id, scratch, 0, start)
                runtime.decode(run, scratch, tokens[start:until], start, want_logits=False)
                runtime.remove(seq_id, start, until)
                runtime.copy(scratch, seq_id, start, until)
                run.stats.tokens_evaluated += until - start
                state.exact_until = start = until
        except Aborted as aborted:
            reason = aborted.reason
        except NoSlot:
            logger.debug("no room to refresh %s's cells", key)
        finally:
            runtime.remove(scratch)
            runtime.watch(None)
        return reason

    def keep_answer(self, key: str, seq_id: int, layout: Layout, generated: list[int]) -> None:
        """A preempted request keeps the cells of its answer so far (all but the last token,
        which the resumed request decodes as its trigger): the continuation evaluates nothing."""
        kept = [*layout.body, layout.trigger, *generated[:-1]]
        self._runtime.remove(seq_id, len(kept), -1)
        state = self.states.get(key)
        if state is not None and state.seq_id == seq_id:
            state.head = kept
            state.tail_start = len(kept)
            state.tail = []
