"""What an inference server tells about itself: which server it is, its model, context and slots.

llama.cpp's server answers ``GET /props`` (context per slot, slot count); vLLM lists
``max_model_len`` in ``GET /v1/models``; llama-cpp-python's server lists only model names. Each
also offers a tokenize endpoint of its own, which calibrates our token counter.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from spark_lsp.engine.base import CancelToken
from spark_lsp.engine.remote.errors import RemoteError, RemoteMalformed, RemoteRejected
from spark_lsp.engine.remote.transport import Transport

logger = logging.getLogger(__name__)

LLAMA_CPP = "llama.cpp"
OPENAI = "openai"  # any other OpenAI-compatible server


@dataclass(frozen=True)
class ServerInfo:
    kind: str
    models: tuple[str, ...]
    n_ctx: int | None  # tokens per request the server allows, when it says
    slots: int  # llama.cpp's parallel slots (0: unknown or not llama.cpp)
    tokenize_path: str | None  # an endpoint that tokenizes text with the model's tokenizer
    http_version: str = ""  # what the connection negotiated

    def describe(self) -> str:
        context = f"{self.n_ctx} tokens" if self.n_ctx else "context not reported"
        model = self.models[0] if self.models else "unnamed model"
        return f"{self.kind} server, {model}, {context}, {self.http_version or 'HTTP'}"


def probe(transport: Transport, cancel: CancelToken | None = None) -> ServerInfo:
    """Ask the server about itself. Raises RemoteError when it cannot be reached at all or
    answers nonsense, and transport.Cancelled when ``cancel`` fires meanwhile."""
    try:
        return _probe(transport, cancel)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        where = transport.url("/v1/models")
        raise RemoteMalformed(f"{where}: not an OpenAI-compatible server ({error!r})") from None


def _probe(transport: Transport, cancel: CancelToken | None) -> ServerInfo:
    props = _optional(transport, "/props", cancel)
    llama_cpp = isinstance(props, dict) and "default_generation_settings" in props
    listing = transport.get_json("/v1/models", cancel)  # every OpenAI-compatible server has it
    entries = listing.get("data") if isinstance(listing, dict) else None
    entries = [entry for entry in entries or [] if isinstance(entry, dict)]
    models = tuple(str(entry["id"]) for entry in entries if "id" in entry)
    n_ctx = None
    slots = 0
    if llama_cpp:
        assert isinstance(props, dict)
        settings = props["default_generation_settings"]
        n_ctx = _int(settings.get("n_ctx") if isinstance(settings, dict) else None)
        n_ctx = n_ctx or _int(props.get("n_ctx"))
        slots = _int(props.get("total_slots")) or 0
    for entry in entries:
        meta = entry.get("meta")
        n_ctx = n_ctx or _int(entry.get("max_model_len"))  # vLLM
        meta = meta if isinstance(meta, dict) else {}
        n_ctx = n_ctx or _int(meta.get("n_ctx")) or _int(meta.get("n_ctx_train"))  # llama.cpp
    kind = LLAMA_CPP if llama_cpp else OPENAI
    http_version = transport.http_version
    tokenize_path = _tokenize_path(transport, kind, models, cancel)
    return ServerInfo(kind, models, n_ctx, slots, tokenize_path, http_version)


def _tokenize_path(
    transport: Transport, kind: str, models: tuple[str, ...], cancel: CancelToken | None
) -> str | None:
    for path in ("/tokenize",) if kind == LLAMA_CPP else ("/extras/tokenize", "/tokenize"):
        try:
            server_tokens(transport, path, "def f(x):\n    return x\n", models, cancel)
        except RemoteError:
            continue
        return path
    return None


def server_tokens(
    transport: Transport,
    path: str,
    text: str,
    models: tuple[str, ...],
    cancel: CancelToken | None = None,
) -> list[int]:
    """``text`` tokenized by the server's own tokenizer (no special tokens added)."""
    body: dict[str, Any] = {
        "content": text,  # llama.cpp
        "input": text,  # llama-cpp-python
        "prompt": text,  # vLLM
        "add_special": False,
        "add_special_tokens": False,
    }
    if models:
        body["model"] = models[0]
    answer = transport.post_json(path, body, cancel)
    tokens = answer.get("tokens") if isinstance(answer, dict) else None
    if not isinstance(tokens, list):
        raise RemoteError(f"{transport.url(path)} did not answer a token list")
    return tokens


def _optional(transport: Transport, path: str, cancel: CancelToken | None) -> Any:
    """An endpoint only some servers have: None when this one does not (4xx, not JSON)."""
    try:
        return transport.get_json(path, cancel)
    except (RemoteRejected, RemoteMalformed) as error:
        logger.debug("%s: %s", path, error)
        return None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None
