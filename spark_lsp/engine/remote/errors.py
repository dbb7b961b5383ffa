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


class RemoteUnauthorized(RemoteRejected):
    """401/403: the API key is missing or wrong; every request will fail alike."""


# What says the server (or the way to it) is failing, rather than one request being wrong: these
# change the reported health and send requests to the local fallback.
SERVER_FAULTS = (RemoteUnavailable, RemoteMalformed, RemoteUnauthorized)
