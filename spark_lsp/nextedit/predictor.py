"""One next-edit prediction: a deterministic rule where the edit is certain, else the model
rewrites the window in a prompt format (nextedit/formats), and the gate decides whether the
answer is shown. Engine-agnostic: ``predict`` takes a function that runs one generation
request; a caller that waits for the model its own way uses ``model_request`` and
``from_model``.

The steps are pure functions of an EditContext (immutable), so they run on any thread; each is
bounded by MAX_EDIT_CHARS and MAX_REGION_CHARS (``within_bounds``)."""

from __future__ import annotations

from collections.abc import Callable, Collection

from spark_lsp.engine import GenerationRequest, GenerationResult
from spark_lsp.nextedit import gate, rules
from spark_lsp.nextedit.context import EditContext, Prediction, window_around
from spark_lsp.nextedit.formats import FORMATS, NextEditFormat
from spark_lsp.nextedit.history import MAX_EDIT_CHARS

__all__ = ["EditContext", "Prediction", "window_around"]

Generate = Callable[[GenerationRequest], GenerationResult]

# The least mean log-probability of the changed lines' tokens at which a model answer is
# shown (chosen on `spark-lsp bench next-edit`; README "Benchmarks"). Answers without scores
# (remote engines) skip this check.
MIN_CONFIDENCE = -0.05

# A window of long lines (minified code, data) gets no next edit (the model would have to
# write it all again, the checks read it all).
MAX_REGION_CHARS = 16_000

DEFAULT_FORMAT = "sweep"


def within_bounds(context: EditContext) -> bool:
    """Whether the edit and the window are small enough to predict from."""
    first, last = context.region
    region_chars = sum(len(line) for line in context.lines[first:last])
    edit_chars = len(context.before) + len(context.after)
    return region_chars <= MAX_REGION_CHARS and edit_chars <= MAX_EDIT_CHARS


def by_rules(context: EditContext) -> Prediction | None:
    """The first deterministic rule that applies (nextedit/rules.py)."""
    return rules.first_certain(context)


def model_request(
    context: EditContext, key: str, format_: NextEditFormat = FORMATS[DEFAULT_FORMAT]
) -> GenerationRequest:
    """The request that has the model rewrite the window."""
    return format_.request(context, key)


def from_model(
    context: EditContext,
    result: GenerationResult,
    format_: NextEditFormat = FORMATS[DEFAULT_FORMAT],
) -> Prediction | None:
    """The window's next version in the model's answer, if it has one."""
    return format_.answer(context, result)


def by_model(
    context: EditContext,
    generate: Generate,
    key: str,
    format_: NextEditFormat = FORMATS[DEFAULT_FORMAT],
) -> Prediction | None:
    return from_model(context, generate(model_request(context, key, format_)), format_)


def predict(
    context: EditContext,
    generate: Generate | None,
    key: str = "next-edit",
    format_: NextEditFormat = FORMATS[DEFAULT_FORMAT],
) -> Prediction | None:
    """The suggestion worth showing, if any (``generate`` None: the rules only)."""
    if not within_bounds(context):
        return None
    found = by_rules(context)
    if found is None and generate is not None:
        found = by_model(context, generate, key, format_)
    return gated(context, found) if found is not None else None


def gated(
    context: EditContext,
    found: Prediction,
    min_confidence: float | None = MIN_CONFIDENCE,
    skip: Collection[str] = (),
) -> Prediction | None:
    """``found`` when no guard of gate.py refuses it (``min_confidence`` None: any confidence;
    ``skip``: guards not applied, for the bench)."""
    return found if gate.refusal(context, found, min_confidence, skip) is None else None
