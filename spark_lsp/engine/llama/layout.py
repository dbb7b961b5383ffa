"""A request's prompt as tokens: the body (prefix side, then suffix side), the trigger, and what
token healing removed. Pure: it needs only the model's tokens and template."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from spark_lsp import templates
from spark_lsp.engine.base import (
    ChatPrompt,
    EngineError,
    GenerationRequest,
    InfillPrompt,
    PromptTooLong,
    SegmentPrompt,
    TextPrompt,
)
from spark_lsp.engine.llama.tokens import ModelTokens

TRIM_STEP_SHARE = 16  # a prompt over the context is cut in steps of budget / this


@dataclass(frozen=True)
class Layout:
    body: list[int]
    split: int  # body[:split] is the prefix side, body[split:] the suffix side
    trigger: int
    heal: bytes = b""  # the bytes of the prefix's last token, removed to be generated again
    lead: bytes = b""  # what the answer must start with after them (GenerationRequest.lead)

    @property
    def spell(self) -> bytes:
        """What the answer's first tokens are constrained to spell."""
        return self.heal + self.lead


def build_layout(
    tokens: ModelTokens,
    template: templates.FimTemplate,
    request: GenerationRequest,
    n_ctx: int,
    model_name: str,
) -> Layout:
    prompt = request.prompt
    if isinstance(prompt, ChatPrompt):
        prompt = SegmentPrompt(tuple(tokens.chat_segments(prompt, model_name)))
    if isinstance(prompt, TextPrompt):
        prefix_side, suffix_side, trigger = [templates.Segment(prompt.text)], [], None
    elif isinstance(prompt, SegmentPrompt):
        prefix_side, suffix_side, trigger = list(prompt.segments), [], None
    else:
        assert isinstance(prompt, InfillPrompt)
        prefix_side, suffix_side, trigger = templates.fim_segments(
            template, prompt.prefix, prompt.suffix, prompt.file_path, prompt.extra_context
        )
    prefix_parts = [tokens.segment_tokens([segment]) for segment in prefix_side]
    suffix_parts = [tokens.segment_tokens([segment]) for segment in suffix_side]
    if tokens.add_bos:
        prefix_parts.insert(0, [tokens.bos])
        # A placeholder keeps segments and token parts aligned for fit; BOS is never cut.
        prefix_side = [templates.Segment("<bos>", special=True), *prefix_side]
    trigger_tokens = tokens.segment_tokens([trigger]) if trigger is not None else []
    answer_room = request.max_tokens + len(request.resume)  # a resumed answer's whole room
    budget = n_ctx - answer_room - 1 - len(trigger_tokens)
    if isinstance(request.prompt, InfillPrompt):
        fit(prefix_side, prefix_parts, suffix_side, suffix_parts, budget)
    elif (overflow := sum(map(len, prefix_parts)) - budget) > 0:
        raise PromptTooLong(overflow)
    heal = b""
    healable = request.heal and not request.resume and isinstance(request.prompt, InfillPrompt)
    if healable and prefix_parts and prefix_parts[-1] and not prefix_side[-1].special:
        heal = tokens.token_bytes(prefix_parts[-1].pop())
    prefix_tokens = [token for part in prefix_parts for token in part]
    body = prefix_tokens + [token for part in suffix_parts for token in part] + trigger_tokens
    if not body:
        raise EngineError("empty prompt")
    split = min(len(prefix_tokens), len(body) - 1)
    # A resumed answer: its tokens so far follow the prompt (their cells were kept).
    body += request.resume
    lead = b"" if request.resume else request.lead.encode("utf-8")
    return Layout(body[:-1], split, body[-1], heal, lead)


def fit(
    prefix_side: Sequence[templates.Segment],
    prefix_parts: list[list[int]],
    suffix_side: Sequence[templates.Segment],
    suffix_parts: list[list[int]],
    budget: int,
) -> None:
    """Trim an infill prompt over ``budget`` tokens: the suffix text from its end (keeping a
    quarter of the budget), then the prefix text from its start. The cursor's neighbourhood
    stays. Only a guard: the context builder fits completion prompts with a safe count, but an
    infill prompt from elsewhere (``spark-lsp complete`` on a minified file's one long line)
    may still come in over; PromptTooLong when even trimming cannot fit it.
    Cuts come in steps of a sixteenth of the budget: cut to the token, each typed token
    would move the prompt's start or end, and no cell behind it could be reused."""
    overflow = sum(map(len, prefix_parts)) + sum(map(len, suffix_parts)) - budget
    if overflow <= 0:
        return
    step = max(1, budget // TRIM_STEP_SHARE)
    texts = [i for i, segment in enumerate(suffix_side) if not segment.special]
    if texts:
        part = suffix_parts[texts[-1]]
        cut = min(-(-overflow // step) * step, max(0, len(part) - budget // 4))
        suffix_parts[texts[-1]] = part[: len(part) - cut]
        overflow -= cut
    texts = [i for i, segment in enumerate(prefix_side) if not segment.special]
    if texts and overflow > 0:
        part = prefix_parts[texts[-1]]
        cut = min(-(-overflow // step) * step, len(part))
        prefix_parts[texts[-1]] = part[cut:]
        overflow -= cut
    if overflow > 0:
        raise PromptTooLong(overflow)
