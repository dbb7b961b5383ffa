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

from spark_lsp.machine import Measurement

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
DECODE_TOKENS = 24


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
        stamps: list[float] = []
        answer: list[int] = []
        start = time.perf_counter()
        for token in llm.generate(tokens, temp=0.0, top_k=1):
            stamps.append(time.perf_counter())
            if token == llm.token_eos() or len(answer) >= DECODE_TOKENS:
                break
            answer.append(token)
        text = llm.detokenize(answer).decode("utf-8", errors="replace")
    finally:
        with contextlib.suppress(Exception):
            llm.close()
    if not text.lstrip().startswith(EXPECTED_START) or len(stamps) < 3:
        raise ProofError(f"the build answered {text[:60]!r} where {EXPECTED_START!r} was due")
    decode_seconds = stamps[-1] - stamps[0]
    return Measurement(
        preset=preset,
        decode_tokens_per_s=round((len(stamps) - 1) / max(decode_seconds, 1e-6), 2),
        prompt_tokens_per_s=round(len(tokens) / max(stamps[0] - start, 1e-6), 1),
        rss_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        answer=text,
    )
