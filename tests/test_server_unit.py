"""Server helpers that need no process: snapshot errors map to the right JSON-RPC codes."""

from __future__ import annotations

import pytest
from pygls.exceptions import JsonRpcInvalidParams

from spark_lsp.lsp.errors import RequestFailed
from spark_lsp.lsp.server import create_server


def test_snapshot_errors_are_json_rpc_errors() -> None:
    server = create_server()
    with pytest.raises(JsonRpcInvalidParams, match="is not open"):
        server.snapshot("file:///missing.py")
    server.store.open("file:///a.py", "python", 1, "x = 1\n")
    server.store.mark_out_of_sync("file:///a.py", "test")
    with pytest.raises(RequestFailed, match="out of sync") as error:
        server.snapshot("file:///a.py")
    assert error.value.code == -32803
