"""JSON-RPC errors the server answers with, and the one mapping from the services' errors to them.

LSP's own codes beyond JSON-RPC's: RequestFailed (-32803, the one pygls lacks) for a valid
request the server cannot serve now; pygls' ContentModified (-32801) for a result invalidated by a
change and RequestCancelled (-32800) for a request the user or client cancelled.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pygls.exceptions import (
    JsonRpcContentModified,
    JsonRpcException,
    JsonRpcInvalidParams,
    JsonRpcRequestCancelled,
)

from spark_lsp.actions.errors import (
    ActionCancelled,
    ActionFailed,
    DocumentChanged,
    InvalidTarget,
)
from spark_lsp.documents import DocumentOutOfSync, UnknownDocument


class RequestFailed(JsonRpcException):
    """The request was valid but the server cannot serve it now."""

    CODE = -32803


def as_json_rpc_error(error: Exception) -> JsonRpcException | None:
    """The JSON-RPC error for a service's error, or None when it is not one of theirs."""
    match error:
        case UnknownDocument() | InvalidTarget():
            return JsonRpcInvalidParams(str(error))
        case DocumentOutOfSync() | ActionFailed():
            return RequestFailed(str(error))
        case DocumentChanged():
            return JsonRpcContentModified(str(error))
        case ActionCancelled():
            return JsonRpcRequestCancelled(str(error))
    return None


@contextmanager
def json_rpc_errors() -> Iterator[None]:
    """Around a handler's body: the services' errors leave as the client's JSON-RPC errors."""
    try:
        yield
    except Exception as error:
        converted = as_json_rpc_error(error)
        if converted is None:
            raise
        raise converted from None
