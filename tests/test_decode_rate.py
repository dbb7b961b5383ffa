"""The decode rate the pipeline measures, and the predict budget it stretches."""

from __future__ import annotations

from spark_lsp.completion.decode_rate import DecodeRate
from spark_lsp.engine import GenerationStats


def test_a_slow_model_gets_a_typical_line_and_a_fast_one_the_configured_budget() -> None:
    rate = DecodeRate()
    assert rate.predict_budget_ms(2000) == 2000  # nothing measured yet
    rate.observe(GenerationStats(tokens_generated=4, decode_ms=1000.0))  # too few to tell
    assert rate.tokens_per_s is None
    rate.observe(GenerationStats(tokens_generated=24, decode_ms=2400.0))  # 10 tokens/s
    assert rate.predict_budget_ms(2000) == 2900  # 24 tokens at 10/s, and half a second
    assert rate.predict_budget_ms(0) == 0  # no limit stays no limit
    fast = DecodeRate()
    fast.observe(GenerationStats(tokens_generated=44, decode_ms=2000.0))  # 22 tokens/s
    assert fast.predict_budget_ms(2000) == 2000
