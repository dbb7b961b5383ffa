"""The KV reuse planner: kept cells always hold the tokens the new prompt has at their positions."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from spark_lsp.engine.reuse import SequenceState, plan_reuse

tokens = st.lists(st.integers(0, 5), max_size=40)


def state_after(body: list[int], split: int) -> SequenceState:
    return SequenceState(seq_id=0, head=body[:split], tail_start=split, tail=body[split:])


def test_typing_one_character_reevaluates_the_tail_and_refresh_tokens() -> None:
    old = [1, 2, 3, 4, 10, 11, 12, 13, 14, 15, 16, 17]
    new = [1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15, 16, 17]  # one token typed at the cursor
    plan = plan_reuse(state_after(old, 4), new, 5, refresh=2)
    assert plan.keep_head == 4
    assert plan.evaluate_range == (4, 7)  # the typed token and two refreshed suffix tokens
    assert plan.reuse_count == 6
    assert (plan.reuse_old_start, plan.reuse_new_start, plan.shift) == (6, 7, 1)


def test_exact_mode_keeps_only_the_common_prefix() -> None:
    old = [1, 2, 3, 10, 11, 12]
    plan = plan_reuse(state_after(old, 3), [1, 2, 3, 4, 10, 11, 12], 4, refresh=None)
    assert (plan.keep_head, plan.reuse_count) == (3, 0)
    assert plan.evaluate_range == (3, 7)


def test_an_identical_prompt_reuses_everything_without_refresh() -> None:
    body = [1, 2, 3, 10, 11, 12]
    plan = plan_reuse(state_after(body, 3), body, 3, refresh=4)
    assert plan.evaluate_range == (3, 3)  # nothing to decode but the trigger
    assert plan.reuse_count == 3


def test_a_short_common_tail_is_not_reused() -> None:
    plan = plan_reuse(state_after([1, 2, 9, 10], 2), [1, 2, 3, 9, 10], 3, refresh=4)
    assert plan.reuse_count == 0
    assert plan.evaluate_range == (2, 5)


@settings(max_examples=1000, deadline=None)
@given(tokens, tokens, st.data(), st.integers(1, 6) | st.none())
def test_plans_are_consistent(old: list[int], new: list[int], data: st.DataObject, refresh) -> None:
    old_split = data.draw(st.integers(0, len(old)))
    new_split = data.draw(st.integers(0, len(new)))
    state = state_after(old, old_split)
    plan = plan_reuse(state, new, new_split, refresh)
    first, until = plan.evaluate_range
    assert 0 <= plan.keep_head == first <= until <= len(new)
    assert new[: plan.keep_head] == state.head[: plan.keep_head]
    assert until + plan.reuse_count == len(new)
    if plan.reuse_count:
        old_cells = old[plan.reuse_old_start : plan.reuse_old_start + plan.reuse_count]
        assert old_cells == new[until:]
        assert plan.reuse_old_start >= state.tail_start
        assert plan.reuse_new_start >= new_split
    if refresh is None:
        assert plan.reuse_count == 0


def test_a_prompt_over_the_context_is_cut_in_coarse_steps_that_typing_does_not_move() -> None:
    """Typed tokens at the cursor make the prompt longer; its start and end stay where they
    were (the cells behind them stay reusable) until the overflow passes the next step."""
    from spark_lsp.engine.llama import LlamaEngine
    from spark_lsp.templates import Segment

    prefix_side = [Segment("<pre>", special=True), Segment("prefix")]
    suffix_side = [Segment("<suf>", special=True), Segment("suffix")]
    budget, starts, ends = 1024, set(), set()
    for typed in range(40):
        prefix = [[0], list(range(1000, 1900 + typed))]
        suffix = [[1], list(range(5000, 5400))]
        LlamaEngine._fit(prefix_side, prefix, suffix_side, suffix, budget)
        assert sum(map(len, prefix)) + sum(map(len, suffix)) <= budget
        starts.add(prefix[1][0])
        ends.add(suffix[1][-1])
    assert len(starts) <= 2 and len(ends) <= 2
