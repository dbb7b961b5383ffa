"""The llama.cpp runtime: the model, one context whose sequences share a unified KV cache, the
batch, decoding, logits and the abort callback.

llama-cpp-python's ``Llama`` class keeps one sequence and ignores ``n_seq_max``/``kv_unified``,
so the context is built here from the raw parameters.
"""

from __future__ import annotations

import ctypes
import logging
import math
from collections.abc import Sequence
from pathlib import Path

import llama_cpp
import numpy as np
from llama_cpp import _internals
from llama_cpp import _logger as llama_cpp_logger

from spark_lsp.engine.base import EngineError, StopReason
from spark_lsp.engine.llama.run import Aborted, NoSlot, Run
from spark_lsp.engine.settings import EngineSettings

logger = logging.getLogger(__name__)

_DECODE_ABORTED = 2
_DECODE_NO_SLOT = 1


class Runtime:
    """The model and its context; decodes for the run it is given."""

    def __init__(self, model_path: Path, settings: EngineSettings) -> None:
        self.settings = settings
        llama_cpp.llama_backend_init()
        llama_cpp_logger.set_verbose(logger.isEnabledFor(logging.DEBUG))
        model_params = _internals.LlamaModel.default_params()
        self.model = _internals.LlamaModel(
            path_model=str(model_path), params=model_params, verbose=False
        )
        self.vocab = self.model.vocab
        self.n_vocab = self.model.n_vocab()
        self.n_ctx_train = self.model.n_ctx_train()
        self.n_seq = settings.max_documents + 1
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = min(settings.n_ctx, self.n_ctx_train)
        params.n_batch = settings.batch_size
        params.n_ubatch = settings.batch_size
        params.n_seq_max = self.n_seq
        params.kv_unified = True
        params.n_threads = settings.thread_count
        params.n_threads_batch = settings.thread_count
        params.no_perf = True
        self._context = _internals.LlamaContext(model=self.model, params=params, verbose=False)
        self.ctx = self._context.ctx
        self.memory = llama_cpp.llama_get_memory(self.ctx)
        self.n_ctx = llama_cpp.llama_n_ctx(self.ctx)
        self._batch = llama_cpp.llama_batch_init(settings.batch_size, 0, 1)
        self._watched: Run | None = None
        self._abort_reason: StopReason | None = None
        # llama.cpp keeps the pointer: the callback objects must outlive the context.
        self._abort_callback = llama_cpp.ggml_abort_callback(self._should_abort)
        self._no_abort_callback = llama_cpp.ggml_abort_callback(0)
        self.tokens_evaluated = 0  # for tests and benchmarks

    def watch(self, run: Run | None) -> None:
        """The abort callback runs between graph nodes: on (for ``run``) for a long prompt
        evaluation, where one llama_decode call can take seconds; off (None) for a keystroke's
        few tokens (one micro-batch: ``decode`` checks between micro-batches) and while
        generating, where the loop checks between tokens and a Python call per node would only
        slow decoding."""
        self._watched = run
        callback = self._abort_callback if run is not None else self._no_abort_callback
        llama_cpp.llama_set_abort_callback(self.ctx, callback, None)

    def _should_abort(self, _data: ctypes.c_void_p) -> bool:
        run = self._watched
        self._abort_reason = run.stop_reason() if run is not None else None
        return self._abort_reason is not None

    def decode(
        self,
        run: Run,
        seq_id: int,
        tokens: Sequence[int],
        start: int,
        want_logits: bool,
        every: bool = False,
    ) -> None:
        """Decode ``tokens`` at positions ``start...`` of ``seq_id``, in batches; logits for the
        last token (``want_logits``) or for all of them (``every``, one batch only). Raises
        Aborted when ``run`` must stop, NoSlot when the cache is full."""
        done = 0
        while done < len(tokens):
            if (reason := run.stop_reason()) is not None:
                raise Aborted(reason, done)
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
            status = llama_cpp.llama_decode(self.ctx, batch)
            if status == _DECODE_ABORTED:
                reached = llama_cpp.llama_memory_seq_pos_max(self.memory, seq_id) + 1
                raise Aborted(self._abort_reason or StopReason.CANCELLED, max(0, reached - start))
            if status == _DECODE_NO_SLOT:
                reached = llama_cpp.llama_memory_seq_pos_max(self.memory, seq_id) + 1
                raise NoSlot(max(0, reached - start))
            if status != 0:
                raise EngineError(f"llama_decode failed with status {status}")
            done += len(chunk)
            self.tokens_evaluated += len(chunk)

    def logits(self, index: int = -1) -> np.ndarray:
        """The logits after the ``index``-th token of the last batch (a view, not a copy)."""
        logits = llama_cpp.llama_get_logits_ith(self.ctx, index)
        return np.ctypeslib.as_array(logits, shape=(self.n_vocab,))

    def greedy(self, index: int = -1) -> int:
        """The most likely next token after the ``index``-th token of the last batch."""
        return int(np.argmax(self.logits(index)))

    def logprob(self, token: int, index: int = -1) -> float:
        """The log-probability of ``token`` after the ``index``-th token of the last batch."""
        logits = self.logits(index)
        top = float(logits.max())
        return float(logits[token]) - top - math.log(float(np.exp(logits - top).sum()))

    # -- cells ---------------------------------------------------------------------------------

    def remove(self, seq_id: int, start: int = -1, end: int = -1) -> None:
        llama_cpp.llama_memory_seq_rm(self.memory, seq_id, start, end)

    def copy(self, source: int, target: int, start: int = -1, end: int = -1) -> None:
        llama_cpp.llama_memory_seq_cp(self.memory, source, target, start, end)

    def shift(self, seq_id: int, start: int, end: int, delta: int) -> None:
        llama_cpp.llama_memory_seq_add(self.memory, seq_id, start, end, delta)

    def clear(self) -> None:
        llama_cpp.llama_memory_clear(self.memory, True)

    def close(self) -> None:
        llama_cpp.llama_batch_free(self._batch)
        self._context.close()
        self.model.close()
