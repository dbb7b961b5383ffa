"""Alternatives' bookkeeping: where they leave the main answer (how long they may take is the
caller's to say: ``GenerationRequest.alternatives_allowance``).

Alternatives branch at the main answer's first token that writes more than whitespace (after
any bytes it must spell: healed bytes, a required line break): branching at the very first
token would mostly give the same line with other indentation. Each alternative continues one
of the next most likely tokens there greedily, on the cells the main answer already computed.
"""

from __future__ import annotations

from dataclasses import dataclass

from spark_lsp.engine.healing import spelled


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
