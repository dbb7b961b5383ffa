"""What can go wrong talking to an inference server, sorted by what the caller can do about it."""

from __future__ import annotations

from spark_lsp.engine.base import EngineError


class RemoteError(EngineError):
    """The inference server could not serve a request. The message names the server and the fix."""


class RemoteUnavailable(RemoteError):
    """Refused, timed out, overloaded (5xx, 429) or gone mid-stream: worth a retry or a fallback."""


class RemoteRejected(RemoteError):
    """The server answered 4xx: the request or the credentials are wrong; retrying cannot help."""


class RemoteMalformed(RemoteError):
    """The server's answer is not what its API promises (a broken or foreign stream)."""
