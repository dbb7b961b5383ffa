"""A model's tokenizer without its weights: llama.cpp's vocabulary-only load, for token counts and
tests that must check prompts against the real tokenizer cheaply."""

from __future__ import annotations

import ctypes
from pathlib import Path

import llama_cpp
from llama_cpp import _internals


def piece_bytes(vocab: llama_cpp.llama_vocab_p, token: int, special: bool = False) -> bytes:
    """A token's exact bytes. (llama-cpp-python's ``LlamaModel.token_to_piece`` uses a fixed
    32-byte buffer: longer tokens come back empty and trailing NUL bytes are ambiguous.)"""
    size = 64
    while True:
        buffer = ctypes.create_string_buffer(size)
        written = llama_cpp.llama_token_to_piece(vocab, token, buffer, size, 0, special)
        if written >= 0:
            return buffer.raw[:written]
        size = -written


class LlamaVocabulary:
    def __init__(self, model_path: Path) -> None:
        llama_cpp.llama_backend_init()
        params = _internals.LlamaModel.default_params()
        params.vocab_only = True
        self._model = _internals.LlamaModel(
            path_model=str(model_path), params=params, verbose=False
        )
        self.n_vocab = self._model.n_vocab()

    def special_token_id(self, text: str) -> int | None:
        ids = self._model.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        exact = len(ids) == 1 and self._model.token_get_text(ids[0]) == text
        return ids[0] if exact else None

    @property
    def add_bos(self) -> bool:
        return bool(llama_cpp.llama_vocab_get_add_bos(self._model.vocab))

    def tokenize(self, text: str) -> list[int]:
        if not text:
            return []
        return self._model.tokenize(text.encode("utf-8"), add_bos=False, special=False)

    def token_bytes(self, token: int) -> bytes:
        return piece_bytes(self._model.vocab, token)

    def is_normal_token(self, token: int) -> bool:
        return bool(self._model.token_get_attr(token) & llama_cpp.LLAMA_TOKEN_ATTR_NORMAL)

    def metadata(self, key: str) -> str | None:
        return self._model.metadata().get(key)
