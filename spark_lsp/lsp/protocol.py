"""JSON-RPC and LSP lifecycle rules that pygls 2.1 leaves out.

- Every request is answered: a request whose params fail to deserialize gets InvalidParams
  (pygls would log and send nothing, and the client would wait forever).
- Before ``initialize`` a request gets ServerNotInitialized and a notification is dropped; after
  ``shutdown`` a request gets InvalidRequest; a second ``initialize`` gets InvalidRequest.
- The position encoding is chosen per LSP 3.17: utf-8 when the client offers it, else utf-16
  (utf-32 only when the client offers nothing else we know).
- Scalars are structured strictly: a string field takes only a JSON string and a number field
  only a JSON number (cattrs would turn ``{"a": 1}`` into the text ``"{'a': 1}"`` and ``true``
  into ``1``, and a didChange would apply that).
- Text synchronisation bypasses pygls' workspace documents, which rebuild the whole text on every
  change; the server's own DocumentStore handles it.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Generator
from typing import Any

import attrs
import cattrs
from lsprotocol import types
from lsprotocol.converters import get_converter
from lsprotocol.types import ResponseErrorMessage
from pygls.capabilities import ServerCapabilitiesBuilder
from pygls.exceptions import (
    JsonRpcException,
    JsonRpcInternalError,
    JsonRpcInvalidParams,
    JsonRpcInvalidRequest,
    JsonRpcRequestCancelled,
    JsonRpcServerNotInitialized,
)
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.json_rpc import (
    JsonRPCNotification,
    JsonRPCRequestMessage,
    JsonRPCResponseMessage,
)
from pygls.protocol.language_server import lsp_method
from pygls.uris import from_fs_path
from pygls.workspace import Workspace

logger = logging.getLogger(__name__)

JSONRPC_VERSION = "2.0"
MAX_REASON_CHARACTERS = 300
_ENCODING_PREFERENCE = (
    types.PositionEncodingKind.Utf8,
    types.PositionEncodingKind.Utf16,
    types.PositionEncodingKind.Utf32,
)


def _strict(kind: type, accepted: tuple[type, ...]) -> Callable[[Any, Any], Any]:
    def structure(value: Any, _: Any) -> Any:
        if (isinstance(value, bool) and bool not in accepted) or not isinstance(value, accepted):
            raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
        return kind(value)

    return structure


def strict_converter() -> cattrs.Converter:
    """lsprotocol's converter, with scalars that are not coerced from other JSON types."""
    converter = get_converter(cattrs.Converter())
    converter.register_structure_hook(str, _strict(str, (str,)))
    converter.register_structure_hook(int, _strict(int, (int,)))
    converter.register_structure_hook(float, _strict(float, (int, float)))
    converter.register_structure_hook(bool, _strict(bool, (bool,)))
    return converter


@attrs.define
class UnreadableMessage:
    """A request or notification whose params did not deserialize into the method's type."""

    method: str
    params: Any
    error: str
    id: int | str | None = None


@attrs.define
class InvalidMessage:
    """A message that is not JSON-RPC 2.0 (wrong version, id or method type): InvalidRequest,
    answered to its id when it has a usable one (``answer`` False: dropped silently)."""

    id: Any
    reason: str
    answer: bool = True


_SURROGATE = re.compile("[\ud800-\udfff]")


def has_lone_surrogate(value: Any) -> bool:
    """Whether any string in a decoded JSON value holds a lone surrogate (JSON can encode one;
    Python's str can hold it; UTF-8 cannot). Iterative: the nesting may be deep."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def as_plain(value: Any) -> Any:
    """Params of a custom method as plain dicts and lists (pygls hands them over as namedtuples)."""
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return {key: as_plain(item) for key, item in value._asdict().items()}
    if isinstance(value, list | tuple):
        return [as_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: as_plain(item) for key, item in value.items()}
    return value


def choose_position_encoding(
    capabilities: types.ClientCapabilities,
) -> types.PositionEncodingKind:
    offered = capabilities.general.position_encodings if capabilities.general else None
    if not offered:
        return types.PositionEncodingKind.Utf16
    for encoding in _ENCODING_PREFERENCE:
        if encoding in offered:
            return encoding
    return types.PositionEncodingKind.Utf16


CapabilityFilter = Callable[[types.ClientCapabilities], set[str]]
UnreadableHandler = Callable[[UnreadableMessage], None]


class SparkProtocol(LanguageServerProtocol):
    """LanguageServerProtocol with strict lifecycle handling and an answer for every request.

    Features plug in two hooks: ``capability_filters`` name registered methods not to advertise
    to a client (given its capabilities), and ``unreadable_notification_handlers`` hear about
    notifications whose params did not deserialize (a lost didChange desyncs its document).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.capability_filters: list[CapabilityFilter] = []
        self.unreadable_notification_handlers: list[UnreadableHandler] = []
        self.initialize_received = False
        self.position_encoding = types.PositionEncodingKind.Utf16
        # Set by the exit notification: 0 after a shutdown request, 1 otherwise (LSP spec).
        self.exit_code: int | None = None

    def structure_message(self, data: dict[str, Any]) -> Any:
        if "jsonrpc" not in data:  # json.loads calls this for every object, nested ones too
            return data
        method, message_id = data.get("method"), data.get("id")
        if data.get("jsonrpc") != JSONRPC_VERSION:
            return InvalidMessage(message_id, f"jsonrpc must be {JSONRPC_VERSION!r}")
        if not (isinstance(message_id, int | str) or message_id is None) or isinstance(
            message_id, bool
        ):
            return InvalidMessage(None, "id must be a number or a string")
        if method is not None and not isinstance(method, str):
            return InvalidMessage(message_id, "method must be a string")
        if isinstance(method, str) and has_lone_surrogate(data):
            reason = "a string holds a lone surrogate (not valid Unicode)"
            return UnreadableMessage(method, data.get("params"), reason, message_id)
        if "params" not in data and isinstance(method, str) and method.startswith("spark/"):
            # JSON-RPC lets params be omitted; pygls' generic message for custom methods wants it.
            data = {**data, "params": None}
        try:
            return self._structure(data, method, message_id)
        except Exception as error:  # untrusted input: any failure is an error answer
            if not isinstance(method, str):
                logger.warning("dropped a response that does not deserialize: %s", error)
                return InvalidMessage(None, "", answer=False)
            cause = error.__cause__ or error
            reason = str(cause)[:MAX_REASON_CHARACTERS] or type(cause).__name__
            return UnreadableMessage(method, data.get("params"), reason, message_id)

    def _structure(self, data: dict[str, Any], method: Any, message_id: Any) -> Any:
        """pygls' own structuring, without its error logs (they would hold the params: document
        text, at ERROR level, for every malformed message)."""
        if "id" in data:
            if "error" in data:
                return self._converter.structure(data, ResponseErrorMessage)
            if method is not None:
                kind = self.get_message_type(method) or JsonRPCRequestMessage
                if kind.__name__.endswith("Notification"):
                    return InvalidMessage(message_id, f"{method} is a notification: no id")
                return self._converter.structure(data, kind)
            kind = self._result_types.pop(message_id, None) or JsonRPCResponseMessage
            return self._converter.structure(data, kind)
        kind = self.get_message_type(method or "") or JsonRPCNotification
        return self._converter.structure(data, kind)

    def _send_handler_result(self, future: Any, *, msg_id: Any) -> None:
        """Answer a request from its handler's future. A JSON-RPC error is the handler's answer
        (logged as one line); anything else is a bug (logged with its traceback, answered
        InternalError). Unlike pygls, no params are logged."""
        self._request_futures.pop(msg_id, None)
        if future.cancelled():
            error: JsonRpcException = JsonRpcRequestCancelled(f"request {msg_id} was cancelled")
            self._send_response(msg_id, error=error.to_response_error())
            return
        failure = future.exception()
        if failure is None:
            self._send_response(msg_id, result=future.result())
            return
        if isinstance(failure, JsonRpcException):
            logger.info("request %s: %s", msg_id, str(failure.message)[:MAX_REASON_CHARACTERS])
            error = failure
        else:
            logger.error("request %s failed", msg_id, exc_info=failure)
            error = JsonRpcInternalError(f"{type(failure).__name__}: {failure}"[:300])
        self._send_response(msg_id, error=error.to_response_error())

    def handle_message(self, message: Any) -> None:
        if isinstance(message, InvalidMessage):
            if message.answer:
                logger.warning("invalid message: %s", message.reason)
                error = JsonRpcInvalidRequest(message.reason)
                self._send_response(message.id, error=error.to_response_error())
            return
        method = getattr(message, "method", None)
        if method is None or method == types.EXIT:
            super().handle_message(message)
            return
        is_request = getattr(message, "id", None) is not None
        error = self._lifecycle_error(method)
        if error is not None:
            if is_request:
                self._send_response(message.id, error=error.to_response_error())
            else:
                logger.warning("Dropped notification %s: %s", method, error.message)
        elif isinstance(message, UnreadableMessage):
            self._handle_unreadable(message)
        else:
            super().handle_message(message)

    def _lifecycle_error(self, method: str) -> JsonRpcException | None:
        """The error a message gets at this point of the lifecycle, if any (records initialize)."""
        if method == types.INITIALIZE:
            if self.initialize_received:
                return JsonRpcInvalidRequest("initialize may be sent only once")
            self.initialize_received = True
            return None
        if not self.initialize_received:
            return JsonRpcServerNotInitialized(f"{method} before initialize")
        if self._shutdown:
            return JsonRpcInvalidRequest(f"{method} after shutdown")
        return None

    def _handle_unreadable(self, message: UnreadableMessage) -> None:
        logger.warning("Invalid params for %s: %s", message.method[:100], message.error)
        if message.id is not None:
            error = JsonRpcInvalidParams(f"invalid params for {message.method}: {message.error}")
            self._send_response(message.id, error=error.to_response_error())
        else:
            for handler in self.unreadable_notification_handlers:
                handler(message)

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(
        self, params: types.InitializeParams
    ) -> Generator[Any, Any, types.InitializeResult]:
        self._server.process_id = params.process_id
        self.client_capabilities = params.capabilities
        self.position_encoding = choose_position_encoding(params.capabilities)
        root_uri = params.root_uri
        if root_uri is None and params.root_path is not None:
            root_uri = from_fs_path(params.root_path)
        self._workspace = Workspace(
            root_uri,
            self._server._text_document_sync_kind,
            params.workspace_folders or [],
            self.position_encoding,
        )
        if (user_handler := self.fm.features.get(types.INITIALIZE)) is not None:
            yield user_handler, (params,), None
        hidden: set[str] = set()
        for hide in self.capability_filters:
            hidden |= hide(params.capabilities)
        features = set({**self.fm.features, **self.fm.builtin_features}.keys()) - hidden
        self.server_capabilities = ServerCapabilitiesBuilder(
            self.client_capabilities,
            features,
            self.fm.feature_options,
            list(self.fm.commands.keys()),
            self._server._text_document_sync_kind,
            self._server._notebook_document_sync,
            self.position_encoding,
        ).build()
        logger.debug(
            "Server capabilities: %s",
            json.dumps(self.server_capabilities, default=self._serialize_message),
        )
        return types.InitializeResult(
            capabilities=self.server_capabilities, server_info=self.server_info
        )

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args: Any) -> Generator[Any, Any, None]:
        self.exit_code = 0 if self._shutdown else 1
        yield from super().lsp_exit(*args)

    def _user_handler(self, method: str, params: Any) -> Generator[Any, Any, None]:
        if (user_handler := self.fm.features.get(method)) is not None:
            yield user_handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(
        self, params: types.DidOpenTextDocumentParams
    ) -> Generator[Any, Any, None]:
        yield from self._user_handler(types.TEXT_DOCUMENT_DID_OPEN, params)

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(
        self, params: types.DidChangeTextDocumentParams
    ) -> Generator[Any, Any, None]:
        yield from self._user_handler(types.TEXT_DOCUMENT_DID_CHANGE, params)

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(
        self, params: types.DidCloseTextDocumentParams
    ) -> Generator[Any, Any, None]:
        yield from self._user_handler(types.TEXT_DOCUMENT_DID_CLOSE, params)
