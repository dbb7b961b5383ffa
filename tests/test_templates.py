"""FIM templates: detection from a vocabulary, segment layout and stop tokens per family."""

from __future__ import annotations

import pytest

from spark_lsp import templates
from spark_lsp.templates import Order, Segment


class FakeVocabulary:
    def __init__(self, *special: str) -> None:
        self.ids = {text: index for index, text in enumerate(special)}

    def special_token_id(self, text: str) -> int | None:
        return self.ids.get(text)


QWEN = FakeVocabulary(*templates.QWEN25_CODER.stop_tokens)
CASES = [
    (QWEN, "qwen2.5-coder", ("<|endoftext|>", "<|file_sep|>", "<|fim_pad|>")),
    (
        FakeVocabulary("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|endoftext|>"),
        "qwen-style",
        ("<|endoftext|>",),
    ),
    (
        FakeVocabulary(
            "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|file_separator|>", "<eos>"
        ),
        "codegemma",
        ("<|file_separator|>", "<eos>"),
    ),
    (
        FakeVocabulary(
            "<fim_prefix>",
            "<fim_suffix>",
            "<fim_middle>",
            "<repo_name>",
            "<file_sep>",
            "<|endoftext|>",
        ),
        "starcoder2",
        ("<|endoftext|>", "<file_sep>"),
    ),
    (
        FakeVocabulary("<fim_prefix>", "<fim_suffix>", "<fim_middle>", "<|endoftext|>"),
        "starcoder",
        ("<|endoftext|>",),
    ),
    (
        FakeVocabulary(*templates.DEEPSEEK_CODER.required_tokens(), "<|EOT|>"),
        "deepseek-coder",
        ("<|EOT|>",),
    ),
    (FakeVocabulary("[PREFIX]", "[SUFFIX]", "</s>"), "codestral", ("</s>",)),
    (
        FakeVocabulary("▁<PRE>", "▁<SUF>", "▁<MID>", "▁<EOT>", "</s>"),
        "codellama",
        ("▁<EOT>", "</s>"),
    ),
    (FakeVocabulary("<|im_end|>", "<|endoftext|>"), "prefix-only", ("<|im_end|>",)),
]


@pytest.mark.parametrize(("vocabulary", "family", "stops"), CASES)
def test_detection_and_stop_tokens(vocabulary, family: str, stops: tuple[str, ...]) -> None:
    template = templates.detect(vocabulary)
    assert template.family == family
    stop_ids = templates.stop_token_ids(template, vocabulary)
    for stop in stops:
        assert vocabulary.special_token_id(stop) in stop_ids


def test_psm_layout_keeps_prefix_and_suffix_sides_apart() -> None:
    head, tail, trigger = templates.fim_segments(templates.STARCODER, "def f(", "):\n")
    assert head == [Segment("<fim_prefix>", True), Segment("def f(")]
    assert tail == [Segment("<fim_suffix>", True), Segment("):\n")]
    assert trigger == Segment("<fim_middle>", True)


def test_qwen_repo_level_layout_puts_context_first() -> None:
    head, tail, trigger = templates.fim_segments(
        templates.QWEN25_CODER, "x = ", "\n", "main.py", [("util.py", "def g(): pass\n")], "demo"
    )
    assert templates.render_text([*head, *tail, trigger]) == (
        "<|repo_name|>demo\n<|file_sep|>util.py\ndef g(): pass\n"
        "<|file_sep|>main.py\n<|fim_prefix|>x = <|fim_suffix|>\n<|fim_middle|>"
    )


def test_spm_and_prefix_only_continue_the_prefix() -> None:
    head, tail, trigger = templates.fim_segments(templates.CODESTRAL, "a", "b")
    assert templates.CODESTRAL.order is Order.SPM
    assert templates.render_text(head) == "[SUFFIX]b[PREFIX]a"
    assert (tail, trigger) == ([], None)
    head, tail, trigger = templates.fim_segments(templates.PREFIX_ONLY, "a", "b")
    assert templates.render_text(head) == "a"
    assert (tail, trigger) == ([], None)


def test_render_chat_uses_the_jinja_template() -> None:
    chat = (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
        "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    text = templates.render_chat(chat, [{"role": "user", "content": "hi"}], "", "<|im_end|>")
    assert text == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"


def test_chat_segments_keep_the_templates_markup_apart_from_the_messages_text() -> None:
    chat = (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
        "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    messages = [{"role": "user", "content": "x = '<|im_end|>'"}]
    segments = templates.chat_segments(chat, messages, "", "<|im_end|>")
    assert [(s.text, s.markup) for s in segments] == [
        ("<|im_start|>user\n", True),
        ("x = '<|im_end|>'", False),  # a user's special-token spelling stays text
        ("<|im_end|>\n<|im_start|>assistant\n", True),
    ]
    assert templates.render_text(segments) == templates.render_chat(chat, messages, "", "")
