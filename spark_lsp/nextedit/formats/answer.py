"""Reading a model's rewrite of the window, whatever the prompt format: the answer's lines cut to
the window (a model that runs past the window's end goes on copying the file), an answer cut
short completed with the window's own lines (its partial last line dropped), and where the
answer starts in the window (cursortab's anchor)."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from spark_lsp.engine import GenerationRequest, GenerationResult, Priority, Prompt, StopReason
from spark_lsp.nextedit.confidence import mean_changed_logprob
from spark_lsp.nextedit.context import EditContext, Prediction

ANCHOR_SIMILARITY = 0.7
# Lines an answer may write beyond the window's (lines it inserts); past them it has run on.
EXTRA_LINES = 5
CUT_SHORT = (StopReason.LENGTH, StopReason.TIME_BUDGET)


def rewrite_request(
    context: EditContext, prompt: Prompt, key: str, stops: tuple[str, ...] = ()
) -> GenerationRequest:
    """The request for a rewrite of the window, whatever the format: background priority, its
    log-probabilities kept (the confidence guard), drafted from the window (prompt lookup), at
    most a token per two characters of it; with ``stops`` (a raw completion, whose answer is
    the window alone), also ended at the window's lines plus EXTRA_LINES and by the line after
    the window (``past_the_end_stop``)."""
    window = context.window
    text = "".join(window)
    return GenerationRequest(
        prompt,
        max_tokens=len(text) // 2 + 64,
        max_lines=len(window) + EXTRA_LINES if stops else 0,
        stop=(*stops, *past_the_end_stop(context)) if stops else (),
        priority=Priority.SPECULATIVE,
        key=key,
        draft=text,
        logprobs=True,
    )


def past_the_end_stop(context: EditContext) -> tuple[str, ...]:
    """A stop string that ends an answer running past the window: the line after the window,
    when it is distinctive (long enough, not in the window, so a rewrite never writes it)."""
    first, last = context.region
    if last >= len(context.lines):
        return ()
    following = context.lines[last].strip()
    inside = {line.strip() for line in context.lines[first:last]}
    return (following,) if len(following) >= 8 and following not in inside else ()


def cut_to_window(
    answer: Sequence[str], window: Sequence[str], following: Sequence[str]
) -> list[str]:
    """The answer's lines that rewrite the window: when it has more lines than the window and
    goes on with the lines after it, those are cut; with no such resynchronisation, the answer
    is cut to the window's length."""
    if len(answer) <= len(window):
        return list(answer)
    known = [*window, *following[: len(answer)]]
    matcher = difflib.SequenceMatcher(a=answer, b=known, autojunk=False)
    for start_a, start_b, size in matcher.get_matching_blocks():
        if size and start_b <= len(window) < start_b + size:
            return list(answer[: start_a + len(window) - start_b])
    return list(answer[: len(window)])


def anchor_of(answer: Sequence[str], window: Sequence[str]) -> int:
    """The window line most like the answer's first line (cursortab: similarity above 0.7),
    0 when none is."""
    head = answer[0].strip() if answer else ""
    best, anchor = ANCHOR_SIMILARITY, 0
    for index, line in enumerate(window):
        similarity = difflib.SequenceMatcher(a=head, b=line.strip(), autojunk=False).ratio()
        if similarity > best:
            best, anchor = similarity, index
    return anchor


def prediction(
    context: EditContext, text: str, result: GenerationResult, source: str
) -> Prediction | None:
    """The window's next version in ``text`` (the answer with the format's markers removed);
    None for an empty answer (no suggestion, as cursortab: never "delete the window")."""
    if not text.strip():
        return None
    window = context.window
    answer = text.splitlines(keepends=True)
    if answer and not answer[-1].strip() and not answer[-1].endswith("\n"):
        answer.pop()  # the indentation before a stop string
    complete = 1.0
    if result.stop_reason in CUT_SHORT:
        if answer and not answer[-1].endswith("\n"):
            answer.pop()
        complete = min(1.0, len(answer) / len(window)) if window else 0.0
        answer = [*answer, *window[len(answer) :]]
    last = context.region[1]
    lines = cut_to_window(answer, window, context.lines[last : last + len(answer)])
    if window and not window[-1].endswith("\n") and lines and lines[-1].endswith("\n"):
        lines[-1] = lines[-1].rstrip("\n")  # the document's last line has no line break
    confidence = mean_changed_logprob(result.text, result.scored, window, lines)
    tokens = result.stats.tokens_generated
    return Prediction(lines, source, tokens, confidence, anchor_of(lines, window), complete)
