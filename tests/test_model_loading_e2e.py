"""A session loads the model in the background, with work-done progress, or says why it cannot."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

pytestmark = pytest.mark.model

CAPABILITIES = types.ClientCapabilities(
    window=types.WindowClientCapabilities(work_done_progress=True)
)
SERVER = [sys.executable, "-m", "spark_lsp"]
# A cache of its own, so this session assembles the embedded model and reports that too.
FRESH_CACHE = tempfile.mkdtemp(prefix="spark-lsp-cache-")


async def wait_for_progress_end(client: LanguageClient, timeout: float = 180) -> list:
    for _ in range(int(timeout * 10)):
        for reports in client.progress_reports.values():
            if reports and isinstance(reports[-1], types.WorkDoneProgressEnd):
                return reports
        await asyncio.sleep(0.1)
    raise AssertionError(f"no progress end; got {client.progress_reports}")


@pytest_lsp.fixture(
    config=ClientServerConfig(
        server_command=SERVER, server_env={**os.environ, "SPARK_LSP_CACHE_DIR": FRESH_CACHE}
    ),
)
async def client(lsp_client: LanguageClient):
    yield
    await lsp_client.shutdown_session()


async def test_assembly_and_loading_report_progress_until_ready(client: LanguageClient) -> None:
    await client.initialize_session(types.InitializeParams(capabilities=CAPABILITIES))
    reports = await wait_for_progress_end(client)
    assert isinstance(reports[0], types.WorkDoneProgressBegin)
    assert "loading the model" in reports[0].title
    percentages = [r.percentage for r in reports if isinstance(r, types.WorkDoneProgressReport)]
    assert percentages and percentages == sorted(percentages) and percentages[-1] == 100
    assert any("assembling" in (r.message or "") for r in reports[1:-1])
    assert "ready" in reports[-1].message
    assert "qwen2.5-coder" in reports[-1].message


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=[*SERVER, "--model", "/nonexistent/model.gguf"]),
)
async def broken_client(lsp_client: LanguageClient):
    yield
    await lsp_client.shutdown_session()


async def test_a_missing_model_is_one_clear_message(broken_client: LanguageClient) -> None:
    await broken_client.initialize_session(types.InitializeParams(capabilities=CAPABILITIES))
    await wait_for_progress_end(broken_client)
    messages = [m.message for m in broken_client.messages]
    assert len(messages) == 1
    assert "/nonexistent/model.gguf does not exist" in messages[0]
    # The server keeps serving.
    uri = "file:///still.py"
    broken_client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text="x")
        )
    )
    state = await broken_client.protocol.send_request_async("spark/debug/document", {"uri": uri})
    assert state.text == "x"
