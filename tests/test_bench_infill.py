"""bench infill's own logic: the samples (HumanEval, a corpus of files), each path's candidate,
the reasons for an empty answer, the cold figures and the LSP answer's line."""

from __future__ import annotations

import asyncio
from pathlib import Path

from spark_lsp.bench.infill import cold_figures
from spark_lsp.bench.infill_cases import PINNED_FOLDER, corpus_cases, humaneval_cases
from spark_lsp.bench.infill_lsp import applied
from spark_lsp.bench.infill_paths import InProcess, Outcomes, continues
from spark_lsp.completion.headless import HeadlessCompletion
from spark_lsp.engine import GenerationRequest
from spark_lsp.engine.fake import FakeEngine


def test_a_limited_sample_takes_whole_problems_spread_over_the_set() -> None:
    everything = humaneval_cases(0)
    sample = humaneval_cases(100)
    assert len(everything) == 1033 and 90 <= len(sample) <= 100
    chosen = {case.document for case in sample}
    numbers = sorted(int(task_id.split("/")[1]) for task_id in chosen)
    assert numbers[0] == 0 and numbers[-1] > 120  # not the first problems only
    for task_id in chosen - {sample[-1].document}:  # the last may be cut by the cap
        whole = [case.line for case in everything if case.document == task_id]
        assert [case.line for case in sample if case.document == task_id] == whole


def test_a_humaneval_case_is_the_whole_program_with_its_line_masked() -> None:
    case = next(case for case in humaneval_cases(0) if case.document == "HumanEval/2")
    assert case.target == "    return number % 1.0"
    assert case.typed("line-start") == "" and case.typed("indented") == "    "
    assert case.typed("typed") == "    return"  # a third of "return number % 1.0"
    assert "def truncate_number" in case.program("    return 0.0")
    assert case.with_line("    x")[case.line] == "    x\n"


def test_the_corpus_spreads_lines_over_the_files_in_file_order(tmp_path: Path) -> None:
    for index in range(4):
        lines = [f"value_{index}_{n} = {n}\n" for n in range(10 * (index + 1))]
        (tmp_path / f"m{index}.py").write_text("".join(lines) + "\n)\n", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not python\n", encoding="utf-8")
    cases = corpus_cases(tmp_path, 20)
    assert len(cases) == 20
    per_file = {name: sum(c.document == name for c in cases) for name in ("m0.py", "m3.py")}
    assert per_file["m3.py"] > per_file["m0.py"] >= 1  # in proportion to size
    assert all(len(case.target.strip()) >= 4 for case in cases)  # no lone ")"
    order = [(case.document, case.line) for case in cases]
    assert order == sorted(order)
    two_files = corpus_cases(tmp_path, 0, files=2)
    assert len({case.document for case in two_files}) == 2


def test_the_default_corpus_is_this_repository_at_its_pinned_commit() -> None:
    cases = corpus_cases(None, 300)
    assert len(cases) == 300
    files = {case.document for case in cases}
    assert len(files) > 50 and all(name.startswith(PINNED_FOLDER + "/") for name in files)


def test_a_line_continues_when_the_real_line_goes_on_with_it() -> None:
    case = next(case for case in humaneval_cases(0) if case.document == "HumanEval/2")
    assert continues("    return num", case, "")
    assert not continues("    ", case, "    ")  # nothing added
    assert not continues("    return x", case, "")
    assert not continues(None, case, "")


def run_in_process(responder, cursor: str = "line-start") -> tuple[Outcomes, FakeEngine]:
    case = next(case for case in humaneval_cases(0) if case.document == "HumanEval/2")
    engine = FakeEngine(responder)
    outcomes = Outcomes()

    async def scenario() -> None:
        completion = HeadlessCompletion(engine)
        try:
            await InProcess(completion, cursor, "python").run(case, outcomes)
        finally:
            completion.stop()

    asyncio.run(scenario())
    return outcomes, engine


def test_each_path_gets_its_candidate_and_the_pipeline_is_the_service() -> None:
    target = "    return number % 1.0"

    def responder(request: GenerationRequest) -> str:
        return "\n" + target + "\n"  # right for the prompts ending at the line above

    outcomes, engine = run_in_process(responder)
    assert outcomes.exact["raw"] == [False]  # asked at column 0, it stops at its newline
    assert outcomes.exact["raw-natural"] == [True]
    assert outcomes.exact["pipeline"] == [True] and outcomes.passed["pipeline"] == [True]
    assert outcomes.drops == [] and len(outcomes.cold) == 1
    pipeline = [r for r in engine.requests if r.key == "file:///bench/infill/HumanEval/2"]
    assert pipeline and pipeline[0].alternatives in (0, 2)  # an Invoked request's


def test_a_blank_pipeline_answer_is_counted_with_its_reason_when_a_raw_one_was_right() -> None:
    def responder(request: GenerationRequest) -> str:
        if request.key == "file:///bench/infill/HumanEval/2":
            return " "
        return "\n    return number % 1.0\n"

    outcomes, _ = run_in_process(responder)
    assert [drop["reason"] for drop in outcomes.drops] == ["blank answer"]
    assert outcomes.raw_right == 1 and outcomes.empty["pipeline"] == [True]


def test_cold_figures_are_medians_side_by_side() -> None:
    cold = [
        {"pipeline_ms": 1050.0, "raw_ms": 1000.0},
        {"pipeline_ms": 2400.0, "raw_ms": 2000.0},
        {"pipeline_ms": 500.0, "raw_ms": 500.0},
    ]
    assert cold_figures(cold) == {
        "documents": 3,
        "pipeline_median_ms": 1050.0,
        "raw_same_prompt_median_ms": 1000.0,
        "median_ratio": 1.05,
    }
    replayed = [{"pipeline_ms": 1100.0, "raw_ms": 500.0, "same_request_ms": 1000.0}]
    assert cold_figures(replayed)["median_ratio_same_request"] == 1.1
    assert cold_figures(replayed)["median_ratio"] == 2.2
    assert cold_figures([{"pipeline_ms": 10.0}]) == {"documents": 1, "pipeline_median_ms": 10.0}
    assert cold_figures([]) == {}


def test_an_lsp_answer_is_applied_over_its_utf16_range() -> None:
    item = {
        "insertText": "é = 'ü'\nnext",
        "range": {"start": {"line": 0, "character": 4}, "end": {"line": 0, "character": 6}},
    }
    assert applied("    😀", {"result": {"items": [item]}}) == ("    é = 'ü'", True)
    assert applied("    ", {"result": {"items": []}}) == (None, False)
    assert applied("    ", {"result": None}) == (None, False)
