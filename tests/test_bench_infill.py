"""bench infill's own logic: the task sample, the protocols' candidates and the cold figures."""

from __future__ import annotations

from spark_lsp.bench.infill import (
    FirstLineClock,
    Outcomes,
    cold_figures,
    load_tasks,
    run_task,
)
from spark_lsp.completion.settings import CompletionSettings
from spark_lsp.engine import GenerationRequest
from spark_lsp.engine.fake import FakeEngine


def test_a_limited_sample_takes_whole_problems_spread_over_the_set() -> None:
    everything = load_tasks(0)
    sample = load_tasks(100)
    assert len(everything) == 1033 and 90 <= len(sample) <= 100
    chosen = {task.problem["task_id"] for task in sample}
    numbers = sorted(int(task_id.split("/")[1]) for task_id in chosen)
    assert numbers[0] == 0 and numbers[-1] > 120  # not the first problems only
    for task_id in chosen - {sample[-1].problem["task_id"]}:  # the last may be cut by the cap
        whole = [task for task in everything if task.problem["task_id"] == task_id]
        assert [task.line for task in sample if task.problem["task_id"] == task_id] == [
            task.line for task in whole
        ]


def test_each_protocol_gets_its_candidate_and_cold_requests_are_the_problems_first() -> None:
    tasks = [task for task in load_tasks(0) if task.problem["task_id"] == "HumanEval/2"]
    target = tasks[0].target  # "    return number % 1.0"

    def responder(request: GenerationRequest) -> str:
        return "\n" + target + "\n"  # right for the prompts ending at the line above

    outcomes = Outcomes()
    engine = FakeEngine(responder)
    for task in tasks:
        run_task(engine, task, CompletionSettings(), outcomes, "line-start")
    assert outcomes.exact["raw"] == [False]  # asked at column 0, it stops at its newline
    assert outcomes.exact["raw-natural"] == [True]
    assert outcomes.exact["pipeline"] == [True]
    assert outcomes.drops == [] and len(outcomes.cold) == 1
    pipeline = engine.requests[2]  # as an invoked request: alternatives for a line only
    block = pipeline.max_tokens == CompletionSettings().max_tokens_block
    assert pipeline.alternatives == (0 if block else CompletionSettings().alternatives)


def test_a_blank_pipeline_answer_is_counted_with_its_reason_when_a_raw_one_was_right() -> None:
    task = next(task for task in load_tasks(0) if task.problem["task_id"] == "HumanEval/2")

    def responder(request: GenerationRequest) -> str:
        return " " if request.key.endswith("#pipeline") else "\n" + task.target + "\n"

    outcomes = Outcomes()
    run_task(FakeEngine(responder), task, CompletionSettings(), outcomes, "line-start")
    assert [drop["reason"] for drop in outcomes.drops] == ["blank answer"]
    assert outcomes.raw_right == 1


def test_cold_figures_are_medians_side_by_side() -> None:
    figures = cold_figures([(1000.0, 1050.0), (2000.0, 2400.0), (500.0, 500.0)])
    assert figures == {
        "problems": 3,
        "raw_median_ms": 1000.0,
        "pipeline_median_ms": 1050.0,
        "median_ratio": 1.05,
    }
    assert cold_figures([]) == {}


def test_the_first_line_clock_stops_at_the_end_of_the_first_written_line() -> None:
    clock = FirstLineClock()
    clock.feed("\n    ")
    assert clock.ms == 0.0
    clock.feed("x = 1")
    assert clock.ms == 0.0
    clock.feed("\n    y")
    assert clock.ms > 0.0
