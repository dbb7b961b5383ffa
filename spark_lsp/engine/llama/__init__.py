"""The in-process llama.cpp engine (``LlamaEngine``), split by job; see ``engine.py``."""

from spark_lsp.engine.llama.engine import LlamaEngine
from spark_lsp.engine.llama.layout import Layout

__all__ = ["Layout", "LlamaEngine"]
