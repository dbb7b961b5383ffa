"""Parking a document's KV cells in memory, so that only the active document's stay in the cache.

All sequences share one unified KV cache, and attention runs over every cell in use, masked or
not: other documents' cells would slow each keystroke and take room the active document needs.
A parked sequence is its cells copied out (``llama_state_seq_get_data``, positions included) and
removed; restoring copies them back into a free sequence (``llama_state_seq_set_data``). Measured
with the 0.5B model on a 1,180-token document: 14.5 MB, parked in 16 ms, restored in 3.5 ms, and
the next request evaluated 1 token.
"""

from __future__ import annotations

import ctypes
import logging

import llama_cpp

logger = logging.getLogger(__name__)

ParkedCells = ctypes.Array[ctypes.c_uint8]


def park(ctx: llama_cpp.llama_context_p, memory: object, seq_id: int) -> ParkedCells | None:
    """Copy ``seq_id``'s cells out and remove them from the cache; None when it holds none."""
    size = llama_cpp.llama_state_seq_get_size(ctx, seq_id)
    parked = None
    if size and llama_cpp.llama_memory_seq_pos_max(memory, seq_id) >= 0:
        data = (ctypes.c_uint8 * size)()
        if llama_cpp.llama_state_seq_get_data(ctx, data, size, seq_id) == size:
            parked = data
        else:
            logger.warning("could not park sequence %d: its cells are dropped", seq_id)
    llama_cpp.llama_memory_seq_rm(memory, seq_id, -1, -1)
    return parked


def restore(ctx: llama_cpp.llama_context_p, parked: ParkedCells, seq_id: int) -> bool:
    """Copy parked cells back into the (empty) sequence ``seq_id``; False when they do not fit."""
    read = llama_cpp.llama_state_seq_set_data(ctx, parked, len(parked), seq_id)
    if read != len(parked):
        logger.warning("could not restore parked cells (%d bytes): re-evaluating", len(parked))
        return False
    return True
