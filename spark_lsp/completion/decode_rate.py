"""How fast the model writes an answer on this machine, measured from its answers, never
assumed; and the predict budget that follows from it. The configured budget was chosen for a
model that writes a typical line well within it; a slower one (the large preset on a modest
CPU: 9-10 tokens/s, 2.4 s for a 24-token line) would have most of its lines cut by it, so the
budget stretches to a typical line's decode plus a cold prompt's evaluation. Showing what the
model has sooner is ``completion.earlyAnswerMs``'s job, not this budget's."""

from __future__ import annotations

from spark_lsp.completion.prompt_rate import COLD_WINDOW_S, running_estimate
from spark_lsp.engine import GenerationStats

TYPICAL_LINE_TOKENS = 24
MIN_MEASURED_TOKENS = 8  # fewer generated tokens say more about the trigger than the rate


class DecodeRate:
    def __init__(self) -> None:
        self.tokens_per_s: float | None = None

    def observe(self, stats: GenerationStats) -> None:
        if stats.tokens_generated < MIN_MEASURED_TOKENS or stats.decode_ms <= 0:
            return
        measured = stats.tokens_generated / (stats.decode_ms / 1000)
        self.tokens_per_s = running_estimate(self.tokens_per_s, measured)

    def predict_budget_ms(self, configured_ms: int) -> int:
        """The configured budget, or (when the model is slower than it allows for) a typical
        line's decode plus a cold prompt's evaluation; 0 (no limit) stays 0."""
        if not configured_ms or self.tokens_per_s is None:
            return configured_ms
        line_ms = 1000 * (TYPICAL_LINE_TOKENS / self.tokens_per_s + COLD_WINDOW_S)
        return max(configured_ms, round(line_ms))
