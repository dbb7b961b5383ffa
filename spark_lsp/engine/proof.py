"""A short, greedy decode that proves a llama.cpp build runs on this CPU and measures its speed.

``install.py`` runs it in a child process (``spark-lsp model measure``) after building: a build
that uses an instruction the CPU (or its hypervisor) does not run dies here by a signal instead of
in the editor, and one that computes garbage fails the answer check.
"""

from __future__ import annotations

import contextlib
import resource
import time
from pathlib import Path
from typing import TYPE_CHECKING

from spark_lsp.machine import Measurement

if TYPE_CHECKING:
    from llama_cpp import Llama

# About 200 tokens of plain code, then a line whose continuation every code model knows.
PROOF_PROMPT = '''"""Arithmetic helpers, one operation each."""


def subtract(a, b):
    """The difference of a and b."""
    return a - b


def multiply(a, b):
    """The product of a and b."""
    return a * b


def divide(a, b):
    """The quotient of a and b; b must not be zero."""
    if b == 0:
        raise ZeroDivisionError("b must not be zero")
    return a / b


def power(a, b):
    """a raised to the power b."""
    return a ** b


def remainder(a, b):
    """The remainder of a divided by b."""
    return a % b


def negate(a):
    """The negation of a."""
    return -a


def add(a, b):
    """The sum of a and b."""
    return'''
EXPECTED_START = "a + b"
DECODE_TOKENS = 32
DECODE_PASSES = 3  # the best counts: a moment of other work should not decide the model


class ProofError(Exception):
    """The build ran but its answer is not the one every sane build gives."""


def measure(model_path: Path, preset: str, threads: int) -> Measurement:
    """Load ``model_path``, evaluate the proof prompt and decode greedily; ProofError when the
    answer does not start as expected."""
    from llama_cpp import Llama

    llm = Llama(
        model_path=str(model_path), n_ctx=1024, n_batch=256, n_threads=threads, verbose=False
    )
    try:
        tokens = llm.tokenize(PROOF_PROMPT.encode(), add_bos=True)
        start = time.perf_counter()
        answer, stamps = _decode(llm, tokens)
        prompt_seconds = stamps[0] - start if stamps else 0.0
        # Later passes reuse the prompt's cells: only their decoding is timed again.
        rates = [_rate(stamps)]
        rates += [_rate(_decode(llm, tokens)[1]) for _ in range(DECODE_PASSES - 1)]
        text = llm.detokenize(answer).decode("utf-8", errors="replace")
    finally:
        with contextlib.suppress(Exception):
            llm.close()
    if not text.lstrip().startswith(EXPECTED_START) or len(stamps) < 3:
        raise ProofError(f"the build answered {text[:60]!r} where {EXPECTED_START!r} was due")
    return Measurement(
        preset=preset,
        decode_tokens_per_s=round(max(rates), 2),
        prompt_tokens_per_s=round(len(tokens) / max(prompt_seconds, 1e-6), 1),
        rss_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        answer=text,
    )


def _decode(llm: Llama, tokens: list[int]) -> tuple[list[int], list[float]]:
    """Greedy tokens after ``tokens`` (at most DECODE_TOKENS), and when each came."""
    answer: list[int] = []
    stamps: list[float] = []
    for token in llm.generate(tokens, temp=0.0, top_k=1):
        stamps.append(time.perf_counter())
        if token == llm.token_eos() or len(answer) >= DECODE_TOKENS:
            break
        answer.append(token)
    return answer, stamps


def _rate(stamps: list[float]) -> float:
    """Tokens per second between the first and the last token."""
    if len(stamps) < 2:
        return 0.0
    return (len(stamps) - 1) / max(stamps[-1] - stamps[0], 1e-6)
