"""The model's own confidence in a rewritten region: the mean log-probability of the tokens
that wrote the lines it changed. Lines copied from the region are near-certain for any model
(they are drafted from it), so only the changed part says how sure the model was of the edit."""

from __future__ import annotations

from collections.abc import Sequence

from spark_lsp.actions.rewrite import minimal_edits
from spark_lsp.documents import split_lines


def changed_lines(original: Sequence[str], predicted: Sequence[str]) -> list[str]:
    """The predicted lines that are not the original's (replaced or inserted), in order: the
    new text of the minimal edits code actions apply."""
    edits = minimal_edits("".join(original), "".join(predicted))
    return [line for edit in edits for line in split_lines(edit.text) if line]


def _offsets(raw: str, pieces: Sequence[str]) -> int | None:
    """Where the scored pieces start in ``raw``: at 0 when they spell its start (a stop
    string may have cut the text short of them), at the end when they spell its end (the
    answer was resumed after a preemption); None when they are neither."""
    joined = "".join(pieces)
    if raw.startswith(joined) or joined.startswith(raw):
        return 0
    if raw.endswith(joined):
        return len(raw) - len(joined)
    return None


def mean_changed_logprob(
    raw: str,
    scored: Sequence[tuple[str, float]],
    original: Sequence[str],
    predicted: Sequence[str],
) -> float | None:
    """The mean log-probability of the tokens of ``raw`` (the model's answer as generated,
    scored token by token) that wrote the changed lines of ``predicted`` (the region's next
    version taken from it); all tokens' when no changed line is in the text (the change only
    deletes lines). None without scores (a remote engine's answer) or when they cannot be
    placed in the text."""
    if not scored:
        return None
    start = _offsets(raw, [piece for piece, _ in scored])
    if start is None:
        return None
    spans: list[tuple[int, int]] = []
    cursor = 0
    for line in changed_lines(original, predicted):
        text = line.strip()
        found = raw.find(text, cursor) if text else -1
        if found >= 0:
            spans.append((found, found + len(text)))
            cursor = found + len(text)
    chosen: list[float] = []
    position = start
    for piece, logprob in scored:
        end = position + len(piece)
        if not spans or any(first < end and position < last for first, last in spans):
            chosen.append(logprob)
        position = end
    return sum(chosen) / len(chosen) if chosen else None
