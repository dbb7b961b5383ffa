"""The model's vocabulary as the engine uses it: tokenizing (plain and piecewise), special and
end-of-generation ids, token bytes, chat rendering, and the healing tables (built aside)."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import llama_cpp
from llama_cpp import _internals

from spark_lsp import templates
from spark_lsp.engine.base import ChatPrompt, EngineError
from spark_lsp.engine.healing import HealingVocabulary
from spark_lsp.engine.line_tokens import PieceTokenizer
from spark_lsp.engine.vocabulary import piece_bytes
from spark_lsp.token_counting import calibration_texts

PIECE_SAMPLES = 12  # source files that check piecewise tokenization at load


class ModelTokens:
    """Tokens of one loaded model."""

    def __init__(self, model: _internals.LlamaModel) -> None:
        self._model = model
        self._vocab = model.vocab
        self.n_vocab = model.n_vocab()
        self._special_cache: dict[str, int | None] = {}
        # Only the lines a keystroke changed are tokenized again, where that gives the same
        # tokens (checked at load on this package's own sources; see engine/line_tokens.py).
        self.pieces = PieceTokenizer(self.tokenize)
        # Token healing's sorted vocabulary takes about a second to build: built aside at load,
        # so the first healed request does not pay for it (the piece tokenizer's check too).
        self._healing: HealingVocabulary | None = None
        self.healing_build = threading.Thread(
            target=self._build_healing, name="spark-healing-vocabulary", daemon=True
        )
        self.healing_build.start()

    def special_token_id(self, text: str) -> int | None:
        if text not in self._special_cache:
            ids = self._model.tokenize(text.encode("utf-8"), add_bos=False, special=True)
            exact = len(ids) == 1 and self._model.token_get_text(ids[0]) == text
            self._special_cache[text] = ids[0] if exact else None
        return self._special_cache[text]

    def tokenize(self, text: str) -> list[int]:
        """Document text as plain tokens: special-token spellings in it stay plain text."""
        if not text:
            return []
        return self._model.tokenize(text.encode("utf-8"), add_bos=False, special=False)

    def text_tokens(self, text: str) -> list[int]:
        """``tokenize``, piece by piece with the pieces cached when the model allows it."""
        return self.pieces.tokenize(text) if text else []

    def segment_tokens(self, segments: Sequence[templates.Segment]) -> list[int]:
        tokens: list[int] = []
        for segment in segments:
            if segment.special:
                token = self.special_token_id(segment.text)
                if token is None:
                    raise EngineError(f"the model has no {segment.text} token")
                tokens.append(token)
            elif segment.markup:
                markup = segment.text.encode("utf-8")
                tokens.extend(self._model.tokenize(markup, add_bos=False, special=True))
            else:
                tokens.extend(self.text_tokens(segment.text))
        return tokens

    def token_bytes(self, token: int) -> bytes:
        return piece_bytes(self._vocab, token)

    @property
    def add_bos(self) -> bool:
        return bool(llama_cpp.llama_vocab_get_add_bos(self._vocab))

    @property
    def bos(self) -> int:
        return int(llama_cpp.llama_vocab_bos(self._vocab))

    def is_normal_token(self, token: int) -> bool:
        return bool(self._model.token_get_attr(token) & llama_cpp.LLAMA_TOKEN_ATTR_NORMAL)

    def detokenize(self, tokens: Sequence[int]) -> str:
        return self._model.detokenize(list(tokens), special=False).decode("utf-8", "replace")

    def metadata(self, key: str) -> str | None:
        return self._model.metadata().get(key)

    def render_chat(self, prompt: ChatPrompt, model_name: str) -> str:
        return templates.render_text(self.chat_segments(prompt, model_name))

    def chat_segments(self, prompt: ChatPrompt, model_name: str) -> list[templates.Segment]:
        """The chat rendered by the model's template: its markup's special tokens are special,
        the messages' text is plain text."""
        chat_template = self.metadata("tokenizer.chat_template")
        if not chat_template:
            raise EngineError(f"{model_name} has no chat template")
        return templates.chat_segments(chat_template, prompt.as_dicts(), "", "")

    def eog_ids(self) -> frozenset[int]:
        return frozenset(
            token
            for token in range(self.n_vocab)
            if llama_cpp.llama_vocab_is_eog(self._vocab, token)
        )

    def _build_healing(self) -> None:
        self._healing = HealingVocabulary(self.n_vocab, self.token_bytes, self.is_normal_token)
        # Until this says yes, text is tokenized whole (the same tokens, only slower).
        self.pieces.verify(calibration_texts()[:PIECE_SAMPLES])

    def healing(self) -> HealingVocabulary:
        self.healing_build.join()
        assert self._healing is not None
        return self._healing
