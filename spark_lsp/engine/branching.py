"""Alternatives' bookkeeping: where they leave the main answer, and how long they may take.

Alternatives branch at the main answer's first token that writes more than whitespace (after
any bytes it must spell: healed bytes, a required line break): branching at the very first
token would mostly give the same line with other indentation. Each alternative continues one
of the next most likely tokens there greedily, on the cells the main answer already computed.
"""

from __future__ import annotations

from dataclasses import dataclass

from spark_lsp.engine.base import GenerationStats
from spark_lsp.engine.healing import spelled

# Alternatives add at most this share of a request's own time (see alternatives_allowance_ms).
ALTERNATIVES_SHARE = 0.1


@dataclass(frozen=True)
class Branch:
    """Where alternatives leave the main answer."""

    tokens: tuple[int, ...]  # the main answer's tokens before it, shared by every alternative
    healing: bytes  # what remained to be spelled there
    firsts: tuple[int, ...]  # the most likely tokens there, the main answer's own first
    position: int  # the cell of that token


def writes_text(piece: bytes, healing: bytes) -> bool:
    """Whether a token's bytes, past what remains to be spelled, hold more than whitespace."""
    rest, _ = spelled(piece, healing)
    return bool(rest.strip())


def alternatives_allowance_ms(stats: GenerationStats) -> float:
    """How long alternatives may take after the main answer: a tenth of its time, so that a
    cold request (a prompt to evaluate) costs at most 1.1 times one without; or, when the
    answer's decode outlasted its prompt's evaluation (a warm request: the cache held the
    prompt), the difference: about the answer's own time again."""
    decode_ms = stats.total_ms - stats.prompt_eval_ms
    return max(ALTERNATIVES_SHARE * stats.total_ms, decode_ms - stats.prompt_eval_ms)
