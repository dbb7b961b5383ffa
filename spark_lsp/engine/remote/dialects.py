"""Request bodies and stream chunks of the three server APIs we speak.

- ``/infill`` (llama.cpp's server): prefix, suffix and extra files as fields; the server applies the
  model's own FIM template (repo-level for Qwen2.5-Coder) and tokenizes document text as plain text.
- ``/v1/completions`` (OpenAI-compatible: vLLM, llama.cpp, llama-cpp-python): one prompt string,
  the FIM template rendered into it by us.
- ``/v1/chat/completions``: messages; the server applies the model's chat template.

Decoding is greedy everywhere, like the in-process engine. Every chunk is untrusted: anything that
does not match the API becomes RemoteMalformed, never an exception from deep inside.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from spark_lsp import templates
from spark_lsp.engine.base import (
    ChatPrompt,
    GenerationRequest,
    InfillPrompt,
    SegmentPrompt,
    StopReason,
    TextPrompt,
)
from spark_lsp.engine.remote.errors import RemoteMalformed, RemoteRejected

INFILL = "/infill"
COMPLETIONS = "/v1/completions"
CHAT = "/v1/chat/completions"
OPENAI_FINISH = {"stop": StopReason.STOP, "length": StopReason.LENGTH, "eos": StopReason.EOS}
LLAMA_CPP_STOP = {"eos": StopReason.EOS, "limit": StopReason.LENGTH, "word": StopReason.STOP}


@dataclass(frozen=True)
class Call:
    path: str
    body: dict[str, Any]


@dataclass
class Chunk:
    text: str = ""
    finish: StopReason | None = None
    prompt_tokens: int | None = None  # the whole prompt, as the server counted it
    evaluated_tokens: int | None = None  # of which the server computed (not served from cache)
    done: bool = False  # the stream's end marker ([DONE])


@dataclass(frozen=True)
class Options:
    """What the server dialect needs besides the request."""

    model: str
    template: templates.FimTemplate
    use_infill: bool
    llama_cpp: bool  # ask for prompt caching and a slot
    slot: int | None = None
    server_stops: tuple[str, ...] = ()  # stop strings the server applies itself


def build(request: GenerationRequest, options: Options) -> Call:
    prompt = request.prompt
    common: dict[str, Any] = {"stream": True, "temperature": 0.0}
    if options.server_stops:
        common["stop"] = list(options.server_stops)
    if options.llama_cpp:
        common["cache_prompt"] = True
        if options.slot is not None:
            common["id_slot"] = options.slot
    if isinstance(prompt, InfillPrompt) and options.use_infill:
        return Call(
            INFILL,
            {
                **common,
                "input_prefix": prompt.prefix,
                "input_suffix": prompt.suffix,
                "input_extra": [
                    {"filename": path, "text": text} for path, text in prompt.extra_context
                ],
                "prompt": "",
                "n_predict": request.max_tokens,
                "samplers": ["top_k"],
                "top_k": 1,
            },
        )
    openai = {**common, "max_tokens": request.max_tokens, "stream_options": {"include_usage": True}}
    if options.model:
        openai["model"] = options.model
    if isinstance(prompt, ChatPrompt):
        return Call(CHAT, {**openai, "messages": prompt.as_dicts()})
    if isinstance(prompt, TextPrompt | SegmentPrompt):
        return Call(COMPLETIONS, {**openai, "prompt": prompt.text})
    return Call(COMPLETIONS, {**openai, "prompt": render_infill(prompt, options.template)})


def render_infill(prompt: InfillPrompt, template: templates.FimTemplate) -> str:
    """The FIM prompt as text, for servers that take a prompt string: the template's special
    tokens spelled out, which OpenAI-compatible servers parse as special tokens."""
    prefix_side, suffix_side, trigger = templates.fim_segments(
        template, prompt.prefix, prompt.suffix, prompt.file_path, prompt.extra_context
    )
    segments = [*prefix_side, *suffix_side, *([trigger] if trigger is not None else [])]
    return templates.render_text(segments)


def parse(data: str, path: str) -> Chunk:
    """One ``data`` field of the stream."""
    if data.strip() == "[DONE]":
        return Chunk(done=True)
    try:
        chunk = json.loads(data)
    except json.JSONDecodeError:
        raise RemoteMalformed(f"{path} sent a chunk that is not JSON: {data[:120]!r}") from None
    if not isinstance(chunk, dict):
        raise RemoteMalformed(f"{path} sent a chunk that is not an object: {data[:120]!r}")
    if "error" in chunk:
        error = chunk["error"]
        message = error.get("message", error) if isinstance(error, dict) else error
        raise RemoteRejected(f"{path}: the server stopped with an error: {message}")
    try:
        return _parse_infill(chunk) if path == INFILL else _parse_openai(chunk, path == CHAT)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as error:
        message = f"{path} sent an unexpected chunk ({error!r}): {data[:120]!r}"
        raise RemoteMalformed(message) from None


def _parse_infill(chunk: dict[str, Any]) -> Chunk:
    text = chunk["content"]
    if not isinstance(text, str):
        raise TypeError("content is not a string")
    result = Chunk(text=text)
    if chunk.get("stop"):
        result.finish = LLAMA_CPP_STOP.get(str(chunk.get("stop_type")), StopReason.STOP)
        _read_timings(result, chunk)
        result.done = True
    return result


def _parse_openai(chunk: dict[str, Any], chat: bool) -> Chunk:
    result = Chunk()
    choices = chunk.get("choices") or []
    if choices:
        choice = choices[0]
        if chat:
            text = (choice.get("delta") or {}).get("content") or ""
        else:
            text = choice.get("text") or ""
        if not isinstance(text, str):
            raise TypeError("text is not a string")
        result.text = text
        if (finish := choice.get("finish_reason")) is not None:
            result.finish = OPENAI_FINISH.get(str(finish), StopReason.STOP)
    usage = chunk.get("usage")
    if isinstance(usage, dict) and isinstance(usage.get("prompt_tokens"), int):
        result.prompt_tokens = usage["prompt_tokens"]
        details = usage.get("prompt_tokens_details")
        cached = details.get("cached_tokens") if isinstance(details, dict) else None
        if isinstance(cached, int):
            result.evaluated_tokens = result.prompt_tokens - cached
    _read_timings(result, chunk)
    return result


def _read_timings(result: Chunk, chunk: dict[str, Any]) -> None:
    """llama.cpp's server reports what it evaluated and what its cache held."""
    timings = chunk.get("timings")
    evaluated = timings.get("prompt_n") if isinstance(timings, dict) else None
    if isinstance(evaluated, int):
        result.evaluated_tokens = evaluated
    total = chunk.get("tokens_evaluated")  # llama.cpp: the prompt's length, cached or not
    if isinstance(total, int) and result.prompt_tokens is None:
        result.prompt_tokens = total
