"""Prompt formats per model family, detected from the model's vocabulary and GGUF metadata.

A fill-in-the-middle (FIM) template says which special tokens wrap the prefix, the suffix and the
middle, in which order, and which tokens end a completion. The engine builds token sequences from
it (never by tokenizing special-token text out of user code); remote backends can render text.
Models without FIM tokens get a prefix-only template. Instruction tasks use the GGUF's own chat
template.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Protocol


class Order(StrEnum):
    PSM = "psm"  # prefix, suffix, middle: the usual layout
    SPM = "spm"  # suffix first, then prefix; generation continues the prefix (Codestral)
    PREFIX_ONLY = "prefix-only"


@dataclass(frozen=True)
class FimTemplate:
    family: str
    order: Order
    prefix_token: str = ""
    suffix_token: str = ""
    middle_token: str = ""
    repo_name_token: str = ""  # repo-level prompts (Qwen2.5-Coder, StarCoder2)
    file_sep_token: str = ""
    stop_tokens: tuple[str, ...] = ()
    # Stop strings that end a completion in text (a model may spell a file separator in text).
    stop_strings: tuple[str, ...] = field(default=())

    @property
    def supports_repo_context(self) -> bool:
        return bool(self.repo_name_token and self.file_sep_token)

    def required_tokens(self) -> tuple[str, ...]:
        return tuple(t for t in (self.prefix_token, self.suffix_token, self.middle_token) if t)


QWEN25_CODER = FimTemplate(
    family="qwen2.5-coder",
    order=Order.PSM,
    prefix_token="<|fim_prefix|>",
    suffix_token="<|fim_suffix|>",
    middle_token="<|fim_middle|>",
    repo_name_token="<|repo_name|>",
    file_sep_token="<|file_sep|>",
    stop_tokens=(
        "<|endoftext|>",
        "<|fim_prefix|>",
        "<|fim_suffix|>",
        "<|fim_middle|>",
        "<|fim_pad|>",
        "<|repo_name|>",
        "<|file_sep|>",
        "<|im_start|>",
        "<|im_end|>",
    ),
)
# A model with Qwen's FIM tokens but without its repo-level tokens.
QWEN_STYLE = replace(QWEN25_CODER, family="qwen-style", repo_name_token="", file_sep_token="")
CODEGEMMA = FimTemplate(
    family="codegemma",
    order=Order.PSM,
    prefix_token="<|fim_prefix|>",
    suffix_token="<|fim_suffix|>",
    middle_token="<|fim_middle|>",
    stop_tokens=(
        "<|file_separator|>",
        "<eos>",
        "<|fim_prefix|>",
        "<|fim_suffix|>",
        "<|fim_middle|>",
    ),
)
STARCODER2 = FimTemplate(
    family="starcoder2",
    order=Order.PSM,
    prefix_token="<fim_prefix>",
    suffix_token="<fim_suffix>",
    middle_token="<fim_middle>",
    repo_name_token="<repo_name>",
    file_sep_token="<file_sep>",
    stop_tokens=("<|endoftext|>", "<file_sep>", "<fim_prefix>", "<fim_suffix>", "<fim_middle>"),
)
STARCODER = FimTemplate(
    family="starcoder",
    order=Order.PSM,
    prefix_token="<fim_prefix>",
    suffix_token="<fim_suffix>",
    middle_token="<fim_middle>",
    stop_tokens=("<|endoftext|>", "<fim_prefix>", "<fim_suffix>", "<fim_middle>", "<file_sep>"),
)
DEEPSEEK_CODER = FimTemplate(
    family="deepseek-coder",
    order=Order.PSM,
    prefix_token="<｜fim▁begin｜>",  # noqa: RUF001 - the model's own full-width bars
    suffix_token="<｜fim▁hole｜>",  # noqa: RUF001
    middle_token="<｜fim▁end｜>",  # noqa: RUF001
    stop_tokens=("<|EOT|>", "<｜end▁of▁sentence｜>", "<｜fim▁begin｜>"),  # noqa: RUF001
)
CODESTRAL = FimTemplate(
    family="codestral",
    order=Order.SPM,
    prefix_token="[PREFIX]",
    suffix_token="[SUFFIX]",
    stop_tokens=("</s>", "[PREFIX]", "[SUFFIX]"),
)
CODELLAMA = FimTemplate(
    family="codellama",
    order=Order.PSM,
    prefix_token="▁<PRE>",
    suffix_token="▁<SUF>",
    middle_token="▁<MID>",
    stop_tokens=("▁<EOT>", "</s>", "▁<PRE>", "▁<SUF>", "▁<MID>"),
)
PREFIX_ONLY = FimTemplate(
    family="prefix-only",
    order=Order.PREFIX_ONLY,
    stop_tokens=("<|endoftext|>", "<|im_end|>", "</s>", "<eos>"),
)

# Most specific first: CodeGemma and Qwen share FIM token names but not their file separators.
KNOWN_TEMPLATES: tuple[tuple[FimTemplate, tuple[str, ...]], ...] = (
    (QWEN25_CODER, ("<|fim_prefix|>", "<|repo_name|>", "<|file_sep|>")),
    (CODEGEMMA, ("<|fim_prefix|>", "<|file_separator|>")),
    (STARCODER2, ("<fim_prefix>", "<repo_name>", "<file_sep>")),
    (STARCODER, ("<fim_prefix>", "<fim_suffix>", "<fim_middle>")),
    (DEEPSEEK_CODER, DEEPSEEK_CODER.required_tokens()),
    (CODESTRAL, ("[PREFIX]", "[SUFFIX]")),
    (CODELLAMA, CODELLAMA.required_tokens()),
    (QWEN_STYLE, QWEN_STYLE.required_tokens()),
)


ALL_TEMPLATES: tuple[FimTemplate, ...] = (
    *(template for template, _ in KNOWN_TEMPLATES),
    PREFIX_ONLY,
)


def family_names() -> tuple[str, ...]:
    return tuple(template.family for template in ALL_TEMPLATES)


def by_family(family: str) -> FimTemplate:
    return next(template for template in ALL_TEMPLATES if template.family == family)


# Spellings in model names (Hugging Face repos, GGUF files, server aliases), most specific first.
_NAME_PATTERNS: tuple[tuple[str, FimTemplate], ...] = (
    (r"qwen[-_ .]?2\.?5[-_ .]?coder|qwen[-_ .]?3[-_ .]?coder", QWEN25_CODER),
    (r"codegemma", CODEGEMMA),
    (r"starcoder[-_ ]?2", STARCODER2),
    (r"starcoder|santacoder", STARCODER),
    (r"deepseek[-_ ]?coder", DEEPSEEK_CODER),
    (r"codestral", CODESTRAL),
    (r"code[-_ ]?llama", CODELLAMA),
)


def guess_from_name(name: str) -> FimTemplate:
    """The template a model's name suggests; prefix-only when it names no known FIM family
    (a wrong FIM format is worse than none)."""
    for pattern, template in _NAME_PATTERNS:
        if re.search(pattern, name, re.IGNORECASE):
            return template
    return PREFIX_ONLY


class Vocabulary(Protocol):
    def special_token_id(self, text: str) -> int | None:
        """The id of ``text`` when it is exactly one token of the vocabulary, else None."""
        ...


def detect(vocabulary: Vocabulary) -> FimTemplate:
    """The FIM template whose marker tokens all exist in the vocabulary; prefix-only otherwise."""
    for template, markers in KNOWN_TEMPLATES:
        if all(vocabulary.special_token_id(marker) is not None for marker in markers):
            return template
    return PREFIX_ONLY


def stop_token_ids(template: FimTemplate, vocabulary: Vocabulary) -> frozenset[int]:
    ids = (vocabulary.special_token_id(token) for token in template.stop_tokens)
    return frozenset(i for i in ids if i is not None)


@dataclass(frozen=True)
class Segment:
    """A special token (by its text), template markup (text whose special-token spellings are
    special tokens: a chat template's own text) or document text to tokenize as plain text."""

    text: str
    special: bool = False
    markup: bool = False


def fim_segments(
    template: FimTemplate,
    prefix: str,
    suffix: str,
    file_path: str = "",
    extra_context: Sequence[tuple[str, str]] = (),
    repo_name: str = "",
) -> tuple[list[Segment], list[Segment], Segment | None]:
    """The prompt as (cursor-independent head + prefix side, suffix side, trigger token).

    The engine keeps the two sides' KV cells separately so that typing at the cursor only
    re-evaluates the edited end of the prefix side. The trigger (the middle token) is the token
    whose logits start generation; None means generation continues the prefix side directly.
    """
    head: list[Segment] = []
    if template.supports_repo_context and (extra_context or file_path):
        head.append(Segment(template.repo_name_token, special=True))
        head.append(Segment(f"{repo_name}\n"))
        for path, text in extra_context:
            head.append(Segment(template.file_sep_token, special=True))
            head.append(Segment(f"{path}\n{text}"))
        head.append(Segment(template.file_sep_token, special=True))
        head.append(Segment(f"{file_path}\n"))
    elif extra_context:
        head.extend(Segment(f"{_comment(path)}\n{text}\n") for path, text in extra_context)
    pre = Segment(template.prefix_token, special=True)
    suf = Segment(template.suffix_token, special=True)
    if template.order is Order.PREFIX_ONLY:
        return [*head, Segment(prefix)], [], None
    if template.order is Order.SPM:
        return [*head, suf, Segment(suffix), pre, Segment(prefix)], [], None
    middle = Segment(template.middle_token, special=True)
    return [*head, pre, Segment(prefix)], [suf, Segment(suffix)], middle


def _comment(path: str) -> str:
    return f"# file: {path}"


def render_text(segments: Sequence[Segment]) -> str:
    """The textual form of segments, for backends that take a prompt string."""
    return "".join(segment.text for segment in segments)


def chat_segments(
    chat_template: str, messages: Sequence[dict[str, str]], bos_token: str, eos_token: str
) -> list[Segment]:
    """The rendered chat as segments: the template's own text is markup (its ``<|im_start|>``
    is the special token), the messages' contents are plain text (a special-token spelling in
    a user's code stays text). Each content is rendered as a placeholder, then put back."""
    marker = f"\ue000{uuid.uuid4().hex}"
    placeholders = [
        {**message, "content": f"{marker}{index}\ue001"} for index, message in enumerate(messages)
    ]
    rendered = render_chat(chat_template, placeholders, bos_token, eos_token)
    pieces = re.split(rf"{marker}(\d+)\ue001", rendered)
    if len(pieces) != 2 * len(messages) + 1:  # the template dropped or repeated a message
        return [Segment(render_chat(chat_template, messages, bos_token, eos_token))]
    segments: list[Segment] = []
    for index, piece in enumerate(pieces):
        if index % 2:
            segments.append(Segment(messages[int(piece)]["content"]))
        elif piece:
            segments.append(Segment(piece, markup=True))
    return segments


def render_chat(
    chat_template: str, messages: Sequence[dict[str, str]], bos_token: str, eos_token: str
) -> str:
    """Render a GGUF chat template (Jinja2, sandboxed) with a generation prompt appended."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    formatter = Jinja2ChatFormatter(
        template=chat_template, eos_token=eos_token, bos_token=bos_token
    )
    return formatter(messages=list(messages)).prompt  # type: ignore[arg-type]
