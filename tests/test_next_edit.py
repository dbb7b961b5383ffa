"""Next-edit prediction (spark_lsp/nextedit) and its benchmark over a git history
(spark_lsp/bench/next_edit.py, bench/git_history.py): the deterministic substitution, the gate,
the model's region rewrite (a fake engine for the logic, the real model for the capability),
and the cases mined from a real repository made here."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from spark_lsp.bench import next_edit
from spark_lsp.bench.git_history import cases, parse_hunks
from spark_lsp.engine import (
    ChatPrompt,
    GenerationRequest,
    GenerationResult,
    SegmentPrompt,
    StopReason,
)
from spark_lsp.nextedit import gate
from spark_lsp.nextedit.confidence import changed_lines, mean_changed_logprob
from spark_lsp.nextedit.context import window_around
from spark_lsp.nextedit.formats import FORMATS
from spark_lsp.nextedit.predictor import (
    MIN_CONFIDENCE,
    EditContext,
    Prediction,
    by_model,
    gated,
    predict,
)
from spark_lsp.nextedit.substitution import repeat_substitution, substitution

BEFORE = (
    "def total(items):\n"
    "    count = 0\n"
    "    for item in items:\n"
    "        count += item.price\n"
    "    print('count is done')\n"
    "    return count\n"
)
RENAMED = BEFORE.replace("count", "amount").replace("'amount is done'", "'count is done'")


def context(lines: list[str], edited: tuple[int, int], before: str, after: str) -> EditContext:
    region = window_around(lines, edited)
    return EditContext("shop.py", "python", tuple(lines), edited, before, after, region)


def after_first_rename() -> EditContext:
    lines = BEFORE.splitlines(keepends=True)
    old = lines[1]
    lines[1] = old.replace("count", "amount")
    return context(lines, (1, 2), old, lines[1])


def test_one_identifier_replacement_is_a_substitution_and_anything_else_is_not() -> None:
    assert substitution("    count = 0\n", "    amount = 0\n") == ("count", "amount")
    assert substitution("f(a, b)\n", "f(b, a)\n") is None  # two different replacements
    assert substitution("x = 1\n", "x = 1\ny = 2\n") is None  # an insertion
    assert substitution("x = '1'\n", "x = '2'\n") is None  # not an identifier
    # A keyword or literal replaced changes a value, it renames nothing.
    assert substitution("spos: int | None = None\n", "spos: int | UNSET = UNSET\n") is None
    assert substitution("check(flag, True)\n", "check(flag, False)\n") is None
    assert substitution("let done = false;\n", "let done = true;\n") is None
    # Prose: a word changed in a comment or a string is no rename of the code's names.
    assert substitution("# recognized by click.\n", "# recognized by Click.\n") is None
    assert substitution("msg = 'use count'\n", "msg = 'use total'\n") is None
    assert substitution("total(count)  # count\n", "total(amount)  # count\n") == (
        "count",
        "amount",
    )


def test_the_substitution_repeats_outside_strings_and_the_edited_line() -> None:
    view = after_first_rename()
    found = repeat_substitution(view.lines, view.region, view.edited, view.before, view.after)
    assert found is not None
    assert "".join(found) == RENAMED  # `print('count is done')` keeps its text


def test_the_gate_refuses_no_change_an_undo_and_broken_syntax() -> None:
    view = after_first_rename()
    lines = list(view.lines)
    renamed = RENAMED.splitlines(keepends=True)

    def refusal(predicted: list[str]) -> str | None:
        return gate.refusal(view, Prediction(predicted, "test"), MIN_CONFIDENCE)

    assert refusal(renamed) is None
    assert refusal(lines) == "identical"
    assert refusal(BEFORE.splitlines(keepends=True)) == "reversal"
    assert refusal([*renamed[:-1], "    return (amount\n"]) == "syntax"


def fake_model(
    answer: str, seen: list[GenerationRequest]
) -> Callable[[GenerationRequest], GenerationResult]:
    def generate(request: GenerationRequest) -> GenerationResult:
        seen.append(request)
        return GenerationResult(answer, StopReason.EOS)

    return generate


def test_the_model_rewrites_the_region_drafted_from_itself() -> None:
    lines = BEFORE.splitlines(keepends=True)
    old, lines[3] = lines[3], lines[3].replace("item.price", "item.price * item.quantity")
    view = context(lines, (3, 4), old, lines[3])
    expected = "".join(lines).replace("return count", "return round(count, 2)")
    seen: list[GenerationRequest] = []
    answer = f"```python\n{expected.replace('return', '<|cursor|>return')}```"
    found = by_model(view, fake_model(answer, seen), "key", FORMATS["chat"])
    assert found is not None and "".join(found.lines) == expected
    assert found.source == "model:chat"
    (request,) = seen
    assert request.draft == "".join(lines)  # prompt lookup drafts from the region
    assert isinstance(request.prompt, ChatPrompt)
    user = request.prompt.messages[-1][1]
    assert "+        count += item.price * item.quantity" in user and "<|cursor|>" in user


def test_a_certain_substitution_needs_no_model_and_a_bad_answer_is_not_shown() -> None:
    seen: list[GenerationRequest] = []
    found = predict(after_first_rename(), fake_model("unused", seen))
    assert found is not None and found.source == "substitution" and seen == []
    lines = BEFORE.splitlines(keepends=True)
    old, lines[4] = lines[4], "    print('done')\n"
    view = context(lines, (4, 5), old, lines[4])
    assert predict(view, fake_model("".join(lines), seen)) is None  # identical: nothing


LONG = "".join(f"value_{n} = compute({n})\n" for n in range(60))


def long_view() -> EditContext:
    """An edit in the middle of a 60-line file: the window is lines 20 to 41."""
    lines = LONG.splitlines(keepends=True)
    old, lines[30] = lines[30], "value_30 = compute(30, cached=True)\n"
    view = context(lines, (30, 31), old, lines[30])
    assert view.region == (20, 41)
    return view


def test_the_sweep_format_puts_the_stable_part_first_and_reads_the_updated_window() -> None:
    view = long_view()
    seen: list[GenerationRequest] = []
    window = view.window
    wanted = [line.replace(")\n", ", cached=True)\n") if "cached" not in line else line
              for line in window]  # fmt: skip
    found = by_model(view, fake_model("".join(wanted), seen), "key", FORMATS["sweep"])
    assert found is not None and found.lines == wanted and found.source == "model:sweep"
    (request,) = seen
    prompt = request.prompt
    assert isinstance(prompt, SegmentPrompt)
    separators = [segment for segment in prompt.segments if segment.special]
    assert {segment.text for segment in separators} == {"<|file_sep|>"}
    headers = [segment.text.split("\n")[0] for segment in prompt.segments if not segment.special]
    # The file above the window first (reused between predictions), then the edit, then the
    # window before and after it, and the open block the model completes.
    assert headers == ["shop.py", "shop.py.diff", "original/shop.py", "current/shop.py",
                       "updated/shop.py"]  # fmt: skip
    text = prompt.text
    assert "value_30 = compute(30)\n" in text.split("original/shop.py")[1].split("current/")[0]
    assert text.index("value_0 = ") < text.index("shop.py.diff")
    assert request.draft == "".join(window)
    assert request.max_lines == len(window) + 5  # an answer that runs on stops soon after
    assert "value_41 = compute(41)" in request.stop  # the line after the window ends the answer


def test_an_answer_running_past_the_window_is_cut_and_one_cut_short_is_completed() -> None:
    view = long_view()
    lines, last = list(view.lines), view.region[1]
    window = view.window
    wanted = [*window[:3], "value_23 = compute(23, cached=True)\n", *window[4:]]
    runs_on = "".join([*wanted, *lines[last : last + 5]])
    found = by_model(view, fake_model(runs_on, []), "key", FORMATS["sweep"])
    assert found is not None and found.lines == wanted
    cut_short = "".join(wanted[:18]) + "value_38 = comp"

    def stopped(request: GenerationRequest) -> GenerationResult:
        return GenerationResult(cut_short, StopReason.LENGTH)

    found = by_model(view, stopped, "key", FORMATS["sweep"])
    assert found is not None and found.lines == wanted and found.complete == 18 / 21
    assert gate.refusal(view, found, None) is None
    early = by_model(view, lambda r: GenerationResult("".join(wanted[:8]), StopReason.LENGTH),
                     "key", FORMATS["sweep"])  # fmt: skip
    assert early is not None and gate.refusal(view, early, None) == "truncation"
    assert by_model(view, fake_model(" \n", []), "key", FORMATS["sweep"]) is None  # empty
    skipped = by_model(view, fake_model("".join(window[9:]), []), "key", FORMATS["sweep"])
    assert skipped is not None and gate.refusal(view, skipped, None) == "anchor"


def test_the_fim_format_marks_the_editable_window_between_the_file_around_it() -> None:
    view = long_view()
    seen: list[GenerationRequest] = []
    found = by_model(view, fake_model("".join(view.window), seen), "key", FORMATS["fim"])
    assert found is not None and gate.refusal(view, found, None) == "identical"
    prompt = seen[0].prompt
    assert isinstance(prompt, SegmentPrompt)
    specials = [segment.text for segment in prompt.segments if segment.special]
    assert specials == ["<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|fim_middle|>"]
    assert "<|user_cursor|>" in prompt.text and prompt.text.endswith("updated\n")


def test_confidence_is_the_mean_score_of_the_tokens_that_wrote_the_changed_lines() -> None:
    original = ["a = 1\n", "b = 2\n", "c = 3\n"]
    predicted = ["a = 1\n", "b = 20\n", "c = 3\n"]
    assert changed_lines(original, predicted) == ["b = 20\n"]
    raw = "```python\na = 1\nb = 20\nc = 3\n```"
    pieces = ["```python\n", "a = 1\n", "b", " = ", "20", "\n", "c = 3\n", "```"]
    scores = [-0.01, -0.02, -0.5, -0.1, -2.4, -0.3, -0.02, -0.01]
    scored = list(zip(pieces, scores, strict=True))
    # The tokens that spell "b = 20"; not its line break, nor the copied lines.
    assert mean_changed_logprob(raw, scored, original, predicted) == pytest.approx(-1.0)
    # Scores of a resumed answer spell its end only: placed from the end.
    tail = scored[2:]
    assert mean_changed_logprob(raw, tail, original, predicted) == pytest.approx(-1.0)
    # A deletion only: every token counts; no scores or unplaceable ones: no confidence.
    shorter = ["a = 1\n", "c = 3\n"]
    deleted = mean_changed_logprob(
        "a = 1\nc = 3\n", [("a = 1\n", -0.2), ("c = 3\n", -0.4)], original, shorter
    )
    assert deleted == pytest.approx(-0.3)
    assert mean_changed_logprob(raw, [], original, predicted) is None
    assert mean_changed_logprob(raw, [("elsewhere", -1.0)], original, predicted) is None


def test_the_gate_hides_a_model_answer_below_the_confidence_threshold() -> None:
    lines = BEFORE.splitlines(keepends=True)
    old, lines[3] = lines[3], lines[3].replace("item.price", "item.price * item.quantity")
    view = context(lines, (3, 4), old, lines[3])
    better = "".join(lines).replace("return count", "return round(count, 2)")
    confident = Prediction(better.splitlines(keepends=True), "model", 9, MIN_CONFIDENCE + 0.1)
    unsure = Prediction(confident.lines, "model", 9, MIN_CONFIDENCE - 0.1)
    unscored = Prediction(confident.lines, "model", 9, None)  # a remote engine's answer
    assert gated(view, confident) is confident and gated(view, unscored) is unscored
    assert gated(view, unsure) is None
    assert gated(view, unsure, None) is unsure  # the bench's "no confidence gate" row


def git(repo: Path, *arguments: str) -> None:
    identity = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "-C", str(repo), *identity, *arguments], check=True, capture_output=True)


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """Two commits: a file, then a rename of its local variable in every use (three hunks)."""
    git(tmp_path, "init", "-q")
    source = "".join(f"# line {n}\n" for n in range(12))
    (tmp_path / "shop.py").write_text(BEFORE + source + BEFORE, encoding="utf-8")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "first")
    renamed = BEFORE.replace("count", "amount")
    (tmp_path / "shop.py").write_text(renamed + source + BEFORE, encoding="utf-8")
    git(tmp_path, "commit", "-qam", "rename")
    return tmp_path


def test_commits_with_related_hunks_become_cases_and_the_substitution_predicts_them(
    repository: Path,
) -> None:
    (case,) = list(cases(repository, 0))
    assert case.path == "shop.py" and case.first.start == 1
    assert [(hunk.start, len(hunk.old)) for hunk in case.rest] == [(3, 3)]
    view, expected = next_edit.situation(case)
    found = next_edit.baselines()["substitution"](view)
    row = next_edit.score(view, expected, found)
    # The rename's other uses in the region, and not the message in its string (which the
    # commit changed): the suggestion contains every expected change but is not exact.
    assert row["shown"] and row["location"] and not row["exact"]
    assert next_edit.score(view, expected, None) == {
        "has_target": True, "shown": False, "exact": False, "contained": False, "location": False,
        "chrf": None, "reversal": False,
    }  # fmt: skip


def test_hunks_of_a_zero_context_diff() -> None:
    before = ["a\n", "b\n", "c\n"]
    diff = "@@ -1,0 +2 @@\n+x\n@@ -3 +4 @@\n-c\n+C\n"
    inserted, replaced = parse_hunks(diff, before)
    assert (inserted.start, inserted.old, inserted.new) == (1, (), ("x\n",))
    assert (replaced.start, replaced.old, replaced.new) == (2, ("c\n",), ("C\n",))


def test_the_bench_command_prints_and_saves_the_baselines(repository: Path, tmp_path: Path) -> None:
    output = tmp_path / "next-edit.json"
    command = [sys.executable, "-m", "spark_lsp", "bench", "next-edit", "--repo", str(repository)]
    command += ["--presets", "", "--json", str(output)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    assert "substitution" in result.stdout and "delta-chrF" in result.stdout
    saved = json.loads(output.read_text(encoding="utf-8"))
    rows = {row["predictor"]: row for row in saved["predictors"]}
    assert rows["never"]["shown_pct"] == 0.0 and rows["substitution"]["shown_pct"] == 100.0
    assert rows["rules (the server's default)"]["cases"] == 1
    assert rows["substitution"]["reversal_pct"] == 0.0
    assert saved["latencies"] == []  # no model preset asked for


@pytest.mark.model
def test_the_real_model_rewrites_a_region_with_its_own_text_as_the_draft() -> None:
    from spark_lsp.engine import CancelToken
    from spark_lsp.engine.loader import load_engine
    from spark_lsp.engine.settings import EngineSettings

    engine = load_engine(EngineSettings(n_ctx=4096))
    results: list[GenerationResult] = []

    def generate(request: GenerationRequest) -> GenerationResult:
        results.append(engine.generate(request, CancelToken()))
        return results[-1]

    try:
        lines = BEFORE.splitlines(keepends=True)
        old, lines[3] = lines[3], lines[3].replace("item.price", "item.price * item.quantity")
        found = by_model(context(lines, (3, 4), old, lines[3]), generate, "next-edit-test")
    finally:
        engine.close()
    (result,) = results
    assert result.stop_reason in (StopReason.EOS, StopReason.STOP, StopReason.LENGTH)
    assert result.stats.draft_tokens > 0 and result.stats.draft_accepted > 0
    assert found is not None and found.lines and all(isinstance(line, str) for line in found.lines)
    assert "<|cursor|>" not in "".join(found.lines)


def test_each_model_is_asked_in_the_format_it_answers_best() -> None:
    from types import SimpleNamespace

    from spark_lsp import templates
    from spark_lsp.nextedit.formats import format_for

    qwen = SimpleNamespace(template=templates.QWEN25_CODER)
    assert format_for(qwen).name == "sweep"  # type: ignore[arg-type]
    other = SimpleNamespace(template=templates.PREFIX_ONLY)
    assert format_for(other).name == "chat"  # type: ignore[arg-type]


def test_the_gate_refuses_a_rewrite_that_mostly_undoes_the_edit() -> None:
    view = long_view()  # line 30 gained ", cached=True"
    window = view.window
    undone = [line.replace(", cached=True", "") for line in window]
    undone[0] = undone[0].replace("compute(20)", "compute(20, fresh=True)")  # and one more change
    assert gate.refusal(view, Prediction(undone, "test"), None) == "reversal"
    kept = [*window[:1], window[1].replace("compute(21)", "compute(21, cached=True)"), *window[2:]]
    assert gate.refusal(view, Prediction(kept, "test"), None) is None
