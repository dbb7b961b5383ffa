"""The prompt for a cursor: the most useful context that fits a token budget.

Sources, in order of priority: the cursor's neighbourhood (``near_lines_above``/``below``, never
cut), recently edited places, snippets from open documents similar to the cursor's code,
definitions from imported workspace modules, then the rest of the file above and below (far
prefix and suffix). Filling follows that order, so trimming cuts the far text first, then
definitions, then snippets, then recent edits. Everything is measured in whole pieces (a chunk, or
a block of ``BLOCK_LINES`` lines aligned to the document), so the outcome is deterministic.

Stability: a prompt that changes near its start throws the KV cache behind it away, so in a
file larger than the budget the window must not move while the user types. A fresh build fills
only ``budget - budget // SLACK_SHARE`` tokens, and the next builds keep its placement (the same
first line, the same lines after the window, the same extra chunks) for as long as it fits the
budget, holds the cursor's neighbourhood and the same extra chunks are offered: typing spends
the slack instead of moving the window a block at a time.

Counting: the engine tokenizes each prompt segment on its own, so a prompt's length is the sum
of its segments' counts; prefix and suffix are counted as aligned line blocks whose counts are
cached by content (a keystroke recounts only the block it touched). A block split at a line end
never tokenizes into fewer tokens than the joined text, so the sum errs on the safe side.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from spark_lsp import templates
from spark_lsp.context.settings import ContextSettings
from spark_lsp.context.sources import ExtraChunk, layout_rank, priority, source_of
from spark_lsp.context.window import CursorWindow
from spark_lsp.token_counting import TokenCounter

BLOCK_LINES = 32
SLACK_SHARE = 8  # a fresh build leaves this share of the budget for typing
# A kept placement must still hold this share of the cursor's neighbourhood (a fresh build may
# not hold all of it either, when the budget is small).
KEEP_NEAR_SHARE = 4


@dataclass(frozen=True)
class BuiltPrompt:
    window: CursorWindow
    extra_context: tuple[tuple[str, str], ...]
    tokens: int  # the estimate: at least what the engine's tokenizer will count
    budget: int
    near_tokens: int


@dataclass(frozen=True)
class Placement:
    """Where a document's last prompt sat, in terms that survive edits inside the window."""

    extra_context: tuple[tuple[str, str], ...]
    first_line: int
    lines_after: int  # document lines after the window's end
    offered: int  # which extra chunks it was chosen from (``offered_key``)
    budget: int  # the budget it was placed for (another budget places the prompt afresh)

    @staticmethod
    def of(built: BuiltPrompt, line_count: int, extra: Sequence[ExtraChunk]) -> Placement:
        return Placement(
            built.extra_context,
            built.window.first_line,
            line_count - built.window.last_line,
            offered_key(extra),
            built.budget,
        )


def offered_key(extra: Sequence[ExtraChunk]) -> int:
    return hash(tuple(extra))


def effective_budget(
    settings: ContextSettings, context_size: int | None, max_new_tokens: int
) -> int:
    """The smaller of the configured budget and what the model's context leaves."""
    budget = settings.max_prompt_tokens
    if context_size is not None:
        budget = min(budget, context_size - max_new_tokens - settings.margin_tokens)
    return max(0, budget)


class PromptBuilder:
    def __init__(
        self, counter: TokenCounter, template: templates.FimTemplate, add_bos: bool
    ) -> None:
        self.counter = counter
        self.template = template
        self._bos = int(add_bos)

    def _overhead(self, extra: Sequence[tuple[str, str]], file_path: str) -> int:
        """Tokens of everything but the prefix and suffix text (special tokens count one)."""
        prefix_side, suffix_side, trigger = templates.fim_segments(
            self.template, "", "", file_path, extra
        )
        segments = [*prefix_side, *suffix_side, *([trigger] if trigger else [])]
        return self._bos + sum(
            1 if segment.special else self.counter.count(segment.text) for segment in segments
        )

    def build(
        self,
        lines: Sequence[str],
        line: int,
        column: int,
        file_path: str,
        extra: Sequence[ExtraChunk],
        budget: int,
        settings: ContextSettings,
        previous: Placement | None = None,
    ) -> BuiltPrompt:
        """``lines`` keep their terminators; ``column`` counts code points. ``previous``: the
        document's last placement, kept when it still fits (see the module's docstring)."""
        if previous is not None:
            kept = self._keep(previous, lines, line, column, file_path, extra, budget, settings)
            if kept is not None:
                return kept
        count = self.counter.count
        near_above = 1 + -(-max(0, settings.near_lines_above - line % BLOCK_LINES) // BLOCK_LINES)
        near_below = 1 + -(-settings.near_lines_below // BLOCK_LINES)
        far_above = near_above + -(-settings.far_lines_above // BLOCK_LINES)
        far_below = near_below + -(-settings.far_lines_below // BLOCK_LINES)
        current = lines[line]
        above = _blocks_above(lines, line, current[:column], far_above)  # nearest first
        below = _blocks_below(lines, line, current[column:], far_below)
        near = sum(map(count, above[:near_above])) + sum(map(count, below[:near_below]))
        room = budget - budget // SLACK_SHARE - self._overhead((), file_path) - near

        chosen, room = _choose_extra(extra, room, settings.definitions_tokens, count)
        taken_above = _take(above[near_above:], room * 3 // 4, count)
        room -= sum(map(count, above[near_above : near_above + taken_above]))
        taken_below = _take(below[near_below:], room, count)
        room -= sum(map(count, below[near_below : near_below + taken_below]))
        more = _take(above[near_above + taken_above :], room, count)
        prefix_blocks = above[: near_above + taken_above + more]
        suffix_blocks = below[: near_below + taken_below]
        chosen.sort(key=layout_rank)
        prefix_blocks, suffix_blocks, extra_context, total = self._trim(
            prefix_blocks, suffix_blocks, chosen, (near_above, near_below), file_path, budget
        )
        first_line = line - line % BLOCK_LINES - BLOCK_LINES * (len(prefix_blocks) - 1)
        last_line = min(len(lines), line - line % BLOCK_LINES + BLOCK_LINES * len(suffix_blocks))
        window = CursorWindow(
            "".join(reversed(prefix_blocks)), "".join(suffix_blocks), max(0, first_line), last_line
        )
        return BuiltPrompt(window, extra_context, total, budget, near)

    def _keep(
        self,
        previous: Placement,
        lines: Sequence[str],
        line: int,
        column: int,
        file_path: str,
        extra: Sequence[ExtraChunk],
        budget: int,
        settings: ContextSettings,
    ) -> BuiltPrompt | None:
        """The prompt at ``previous``'s placement, or None when it no longer holds a quarter of
        the cursor's neighbourhood, other extra chunks are offered (new context, warmed up:
        the prompt is placed afresh, as the warm-up placed it), or it is over ``budget``."""
        first, last = previous.first_line, len(lines) - previous.lines_after
        if (
            first % BLOCK_LINES
            or first > max(0, line - settings.near_lines_above // KEEP_NEAR_SHARE)
            or last < min(len(lines), line + 1 + settings.near_lines_below // KEEP_NEAR_SHARE)
            or previous.offered != offered_key(extra)
            or previous.budget != budget
        ):
            return None
        count = self.counter.count
        current = lines[line]
        above = _blocks_above(lines, line, current[:column], (line - first) // BLOCK_LINES + 1)
        below = _blocks_below(lines, line, current[column:], len(lines), until=last)
        text_tokens = sum(map(count, above)) + sum(map(count, below))
        total = self._overhead(previous.extra_context, file_path) + text_tokens
        if total > budget:
            return None
        near = count(above[0]) + count(below[0])
        window = CursorWindow("".join(reversed(above)), "".join(below), first, last)
        return BuiltPrompt(window, previous.extra_context, total, budget, near)

    def _trim(
        self,
        prefix_blocks: list[str],
        suffix_blocks: list[str],
        chosen: list[ExtraChunk],
        near: tuple[int, int],
        file_path: str,
        budget: int,
    ) -> tuple[list[str], list[str], tuple[tuple[str, str], ...], int]:
        """Count the prompt exactly and trim it, in reverse priority, until it fits ``budget``:
        far prefix blocks, far suffix blocks, extra chunks (lowest priority first), then the
        neighbourhood itself (``near`` blocks above and below), farthest lines first."""
        count = self.counter.count
        near_above, near_below = near
        while True:
            extra_context = tuple((chunk.path, chunk.text) for chunk in chosen)
            text_tokens = sum(map(count, prefix_blocks)) + sum(map(count, suffix_blocks))
            total = self._overhead(extra_context, file_path) + text_tokens
            if total <= budget:
                return prefix_blocks, suffix_blocks, extra_context, total
            if len(prefix_blocks) > near_above:
                prefix_blocks = prefix_blocks[:-1]
            elif len(suffix_blocks) > near_below:
                suffix_blocks = suffix_blocks[:-1]
            elif chosen:
                lowest = max(chosen, key=priority)
                chosen.remove(lowest)
            elif len(prefix_blocks) > 1 or len(suffix_blocks) > 1:
                longer = (
                    prefix_blocks if len(prefix_blocks) >= len(suffix_blocks) else suffix_blocks
                )
                longer.pop()
            else:
                prefix_blocks, suffix_blocks = _trim_lines(
                    prefix_blocks[0], suffix_blocks[0], budget - (total - text_tokens), count
                )
                total = self._overhead((), file_path) + count(prefix_blocks[0])
                total += count(suffix_blocks[0])
                return prefix_blocks, suffix_blocks, (), total


def _choose_extra(
    extra: Sequence[ExtraChunk], room: int, definitions_tokens: int, count: Callable[[str], int]
) -> tuple[list[ExtraChunk], int]:
    """The extra chunks that fit ``room`` tokens, by source priority (definitions also within
    their own allowance), and the room left."""
    chosen: list[ExtraChunk] = []
    definitions_left = definitions_tokens
    for chunk in sorted(extra, key=priority):  # stable: a source's own order is kept
        own_allowance = source_of(chunk).own_allowance
        cost = count(f"{chunk.path}\n{chunk.text}\n") + 2  # + separator tokens
        if cost > room or (own_allowance and cost > definitions_left):
            continue
        chosen.append(chunk)
        room -= cost
        if own_allowance:
            definitions_left -= cost
    return chosen, room


def _trim_lines(
    prefix: str, suffix: str, room: int, count: Callable[[str], int]
) -> tuple[list[str], list[str]]:
    """Cut whole lines from the far ends (the prefix's first, the suffix's last, alternately),
    then characters from the prefix's start, until both fit in ``room`` tokens."""
    head = prefix.splitlines(keepends=True)
    tail = suffix.splitlines(keepends=True)
    while count("".join(head)) + count("".join(tail)) > room:
        if len(tail) > 1 and len(tail) >= len(head):
            tail.pop()
        elif len(head) > 1:
            head.pop(0)
        elif tail and tail != [""] and count("".join(tail)) > 0 and len(tail[0]) > 0:
            tail = [tail[0][: len(tail[0]) // 2]] if len(tail[0]) > 1 else []
        elif head and head[0]:
            head = [head[0][len(head[0]) // 2 :]] if len(head[0]) > 1 else []
        else:
            break
    return ["".join(head)], ["".join(tail)]


def _take(blocks: Sequence[str], room: int, count: Callable[[str], int]) -> int:
    """How many leading blocks fit in ``room`` tokens (contiguous: stop at the first misfit)."""
    taken = 0
    for text in blocks:
        cost = count(text)
        if cost > room:
            break
        room -= cost
        taken += 1
    return taken


def _blocks_above(lines: Sequence[str], line: int, head: str, limit: int) -> list[str]:
    """The prefix as aligned blocks, nearest first; the first is the cursor's block up to it."""
    start = line - line % BLOCK_LINES
    blocks = ["".join(lines[start:line]) + head]
    while start > 0 and len(blocks) < limit:
        blocks.append("".join(lines[start - BLOCK_LINES : start]))
        start -= BLOCK_LINES
    return blocks


def _blocks_below(
    lines: Sequence[str], line: int, tail: str, limit: int, until: int | None = None
) -> list[str]:
    """The suffix as aligned blocks, nearest first; the first runs from the cursor to its
    block's end; none reaches past line ``until``."""
    until = len(lines) if until is None else until
    end = min(line - line % BLOCK_LINES + BLOCK_LINES, until)
    blocks = [tail + "".join(lines[line + 1 : end])]
    while end < until and len(blocks) < limit:
        blocks.append("".join(lines[end : min(end + BLOCK_LINES, until)]))
        end += BLOCK_LINES
    return blocks
