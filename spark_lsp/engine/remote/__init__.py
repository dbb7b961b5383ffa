"""The remote backend: an OpenAI-compatible inference server (llama.cpp's server, vLLM,
llama-cpp-python's server) behind the same Engine interface as the in-process model."""

from spark_lsp.engine.remote.engine import RemoteEngine
from spark_lsp.engine.remote.errors import (
    RemoteError,
    RemoteMalformed,
    RemoteRejected,
    RemoteUnavailable,
)

__all__ = ["RemoteEngine", "RemoteError", "RemoteMalformed", "RemoteRejected", "RemoteUnavailable"]
