"""One next-edit prediction: the deterministic substitution where it is certain, else the model
rewrites the editable region (drafted from the region itself), and the gate decides whether the
answer is shown. Engine-agnostic: ``predict`` takes a function that runs one generation request;
a caller that waits for the model its own way uses ``model_request`` and ``from_model``.

The steps are pure functions of an EditContext (immutable), so they run on any thread; each is
bounded by MAX_EDIT_CHARS and MAX_REGION_CHARS (``within_bounds``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from spark_lsp.actions import rewrite
from spark_lsp.engine import ChatPrompt, GenerationRequest, GenerationResult, Priority
from spark_lsp.nextedit import gate, prompt
from spark_lsp.nextedit.confidence import mean_changed_logprob
from spark_lsp.nextedit.history import MAX_EDIT_CHARS
from spark_lsp.nextedit.substitution import repeat_substitution

Generate = Callable[[GenerationRequest], GenerationResult]

# The least mean log-probability of the changed lines' tokens at which a model answer is
# shown (chosen on `spark-lsp bench next-edit`; README "Benchmarks"). Answers without scores
# (remote engines) skip this check.
MIN_CONFIDENCE = -0.05

# Thirty lines of code are a few kilobytes: a region of longer lines (minified code, data) gets
# no next edit (the model would have to write it all again, the checks read it all).
MAX_REGION_CHARS = 16_000


@dataclass(frozen=True)
class EditContext:
    """The document after the user's edit, the edit, and the region to rewrite: immutable,
    taken on the event loop and read by the threads that predict."""

    path: str
    language: str
    lines: tuple[str, ...]
    edited: tuple[int, int]  # the lines the edit left, [first, last)
    before: str  # the edit's old text
    after: str  # and its new text
    region: tuple[int, int]
    history: tuple[prompt.RecentEdit, ...] = ()


@dataclass(frozen=True)
class Prediction:
    lines: list[str]  # the region's next version
    source: str  # "substitution" or "model"
    tokens: int = 0
    confidence: float | None = None  # the model's, see confidence.py


def within_bounds(context: EditContext) -> bool:
    """Whether the edit and the region are small enough to predict from."""
    first, last = context.region
    region_chars = sum(len(line) for line in context.lines[first:last])
    edit_chars = len(context.before) + len(context.after)
    return region_chars <= MAX_REGION_CHARS and edit_chars <= MAX_EDIT_CHARS


def by_substitution(context: EditContext) -> Prediction | None:
    found = repeat_substitution(
        context.lines, context.region, context.edited, context.before, context.after
    )
    return Prediction(found, "substitution") if found is not None else None


def by_model(context: EditContext, generate: Generate, key: str) -> Prediction | None:
    return from_model(context, generate(model_request(context, key)))


def model_request(context: EditContext, key: str) -> GenerationRequest:
    """The request that has the model rewrite the region."""
    first, last = context.region
    region = "".join(context.lines[first:last])
    edited_offset = len("".join(context.lines[first : max(first, context.edited[1])]))
    history = (*context.history, prompt.RecentEdit(context.path, context.before, context.after))
    messages = prompt.messages(history, context.path, context.language, region, edited_offset)
    return GenerationRequest(
        ChatPrompt.of(messages),
        max_tokens=2 * len(region) // 3 + 64,  # about two tokens per three characters of code
        priority=Priority.SPECULATIVE,
        key=key,
        draft=region,
        logprobs=True,
    )


def from_model(context: EditContext, result: GenerationResult) -> Prediction | None:
    """The region's next version in the model's answer, if it has one."""
    first, last = context.region
    region = "".join(context.lines[first:last])
    code = rewrite.extract_code(result.text.replace(prompt.CURSOR, ""))
    if code is None:
        return None
    code = rewrite.reindent(code, region)
    predicted = code.splitlines(keepends=True)
    if region and not region.endswith("\n") and predicted:
        predicted[-1] = predicted[-1].rstrip("\n")
    original = context.lines[first:last]
    confidence = mean_changed_logprob(result.text, result.scored, original, predicted)
    return Prediction(predicted, "model", result.stats.tokens_generated, confidence)


def predict(
    context: EditContext, generate: Generate | None, key: str = "next-edit"
) -> Prediction | None:
    """The suggestion worth showing, if any (``generate`` None: the substitution only)."""
    if not within_bounds(context):
        return None
    found = by_substitution(context)
    if found is None and generate is not None:
        found = by_model(context, generate, key)
    return gated(context, found) if found is not None else None


def gated(
    context: EditContext, found: Prediction, min_confidence: float | None = MIN_CONFIDENCE
) -> Prediction | None:
    """``found`` when the gate lets it be shown: confident enough (``min_confidence`` None:
    any confidence), and then the structural checks of gate.py."""
    if (
        min_confidence is not None
        and found.confidence is not None
        and found.confidence < min_confidence
    ):
        return None
    shown = gate.worth_showing(
        context.language, context.lines, context.region, found.lines, context.before, context.after
    )
    return found if shown else None


def region_around(lines: Sequence[str], edited: tuple[int, int], size: int) -> tuple[int, int]:
    """``size`` lines centred on the edit, inside the document."""
    middle = (edited[0] + edited[1]) // 2
    first = max(0, min(middle - size // 2, len(lines) - size))
    return first, min(len(lines), first + size)
