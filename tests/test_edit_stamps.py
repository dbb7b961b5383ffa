"""An edit leaves the server only for the text it was computed on: versions in one opening of
the document (its generation). A document closed and opened again at the same version, or given
a full-text change that does not raise its version, never gets an edit computed before."""

from __future__ import annotations

import asyncio

import pytest

from spark_lsp.actions.errors import DocumentChanged
from spark_lsp.actions.service import ActionService
from spark_lsp.context.service import ContextService
from spark_lsp.documents import DocumentStore, InvalidChange, PositionEncoding, TextChange
from spark_lsp.engine import GenerationRequest
from spark_lsp.engine.fake import FakeEngine
from spark_lsp.engine.worker import InferenceWorker

URI = "file:///ws/shapes.py"
SOURCE = "def area(w, h):\n    return w * h\n\n\ndef double(x):\n    return 2 * x\n"
OTHER = "import os\n\n\nprint(os.getcwd())\n"


def test_a_full_text_change_that_does_not_raise_the_version_is_out_of_sync() -> None:
    store = DocumentStore()
    store.open(URI, "python", 2, SOURCE)
    with pytest.raises(InvalidChange):
        store.change(URI, 2, [TextChange(OTHER)], PositionEncoding.UTF16)
    assert store.document(URI).out_of_sync_reason is not None
    assert store.document(URI).text == SOURCE  # rolled back, not silently replaced
    store.change(URI, 3, [TextChange(OTHER)], PositionEncoding.UTF16)  # a newer full text heals
    assert store.snapshot(URI).text == OTHER and store.snapshot(URI).version == 3


def test_every_opening_has_its_own_generation() -> None:
    store = DocumentStore()
    first = store.open(URI, "python", 1, SOURCE).snapshot()
    store.close(URI)
    second = store.open(URI, "python", 1, OTHER).snapshot()
    assert first.version == second.version and first.generation != second.generation
    assert store.holds(URI, 1, second.generation) and not store.holds(URI, 1, first.generation)


def test_a_code_action_resolving_across_a_close_and_reopen_at_the_same_version_fails() -> None:
    rewritten = "def area(w: float, h: float) -> float:\n    return w * h\n"

    def responder(request: GenerationRequest) -> str:
        return f"```python\n{rewritten}```\n"

    async def scenario() -> None:
        store = DocumentStore()
        snapshot = store.open(URI, "python", 1, SOURCE).snapshot()
        engine = FakeEngine(responder, delay_per_token_s=0.02)
        worker = InferenceWorker(engine)
        context = ContextService(store.snapshots)
        context.model_ready(engine, engine.token_counter())

        async def loaded() -> InferenceWorker:
            return worker

        actions = ActionService(store.snapshot, loaded, engine.token_counter, context)
        try:
            items = actions.menu(snapshot, (0, 0), (0, 0), [], False)
            hints = next(item for item in items if "type hints" in item.title)
            assert hints.target.generation == snapshot.generation
            task = asyncio.ensure_future(actions.edit_for(hints.target))
            await asyncio.sleep(0.1)  # the model is at work
            store.close(URI)
            store.open(URI, "python", 1, OTHER)
            with pytest.raises(DocumentChanged, match="opened again"):
                await task
            # The target itself, sent again by the client, is refused too.
            with pytest.raises(DocumentChanged):
                await actions.edit_for(hints.target)
        finally:
            worker.stop()

    asyncio.run(scenario())
