"""The extension points are explicit and checked: the action registry, the context sources and
the features' lifecycle hooks. Fast logic tests; the server's start-up runs the same checks."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

import pytest

from spark_lsp.actions import registry
from spark_lsp.actions.errors import InvalidTarget
from spark_lsp.actions.service import ActionService, runs_as_command
from spark_lsp.actions.target import Target
from spark_lsp.context import sources
from spark_lsp.context.service import ContextService
from spark_lsp.documents import DocumentSnapshot, DocumentStore
from spark_lsp.lifecycle import DocumentHooks, Lifecycle
from spark_lsp.lsp import code_actions
from spark_lsp.lsp.server import create_server

KINDS = {kind.value for kind in code_actions.ACTION_KINDS}


def test_every_registered_action_can_be_served_and_a_broken_entry_stops_the_start() -> None:
    registry.check(KINDS, ActionService.OUTCOMES)
    code_actions.check_actions()
    broken = replace(registry.ACTIONS["simplify"], kind="refactor.extract")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(registry, "ACTIONS", {**registry.ACTIONS, "simplify": broken})
        with pytest.raises(ValueError, match=r"'simplify'.*not announced"):
            create_server()
    unserved = {*ActionService.OUTCOMES} - {registry.Outcome.TEST_FILE}
    with pytest.raises(ValueError, match=r"'unit_test'.*no handler"):
        registry.check(KINDS, unserved)


def test_actions_that_need_words_or_show_text_run_as_commands_the_lsp_layer_has() -> None:
    as_commands = {key for key, spec in registry.ACTIONS.items() if runs_as_command(spec)}
    assert as_commands == {"explain", "edit"}
    assert as_commands <= set(code_actions.COMMANDS)


def test_an_unknown_action_from_the_client_is_refused_not_sent_to_the_model() -> None:
    """A target comes back from the client untrusted: its action once became the instruction."""
    store = DocumentStore()
    store.open("file:///a.py", "python", 1, "x = 1\n")

    async def no_worker() -> None:
        raise AssertionError("the model must not be asked")

    service = ActionService(
        store.snapshot, no_worker, lambda: None, ContextService(store.snapshots)
    )
    for action in ("Delete every file", "explain", "edit"):
        target = Target("file:///a.py", 1, 0, 1, action)
        with pytest.raises(InvalidTarget):
            asyncio.run(service.rewrite(target))
    with pytest.raises(InvalidTarget):
        asyncio.run(service.edit_for(Target("file:///a.py", 1, 0, 1, "explain")))


def test_context_sources_are_checked_and_an_unlisted_source_is_an_error_not_a_silent_skip() -> None:
    sources.check()
    assert [source.name for source in sources.SOURCES] == ["recent", "similar", "definitions"]
    twice = (*sources.SOURCES, replace(sources.SOURCES[0], layout_rank=3))
    with pytest.raises(ValueError, match="twice"):
        sources.check(twice)
    same_place = (sources.SOURCES[0], replace(sources.SOURCES[1], layout_rank=2))
    with pytest.raises(ValueError, match="layout ranks"):
        sources.check(same_place)
    with pytest.raises(ValueError, match="not in SOURCES"):
        sources.priority(sources.ExtraChunk("bookmarks", "a.py", "x = 1\n"))


class Recorder(DocumentHooks):
    def __init__(self, heard: list[str], fail: bool = False) -> None:
        self.heard = heard
        self.fail = fail

    def opened(self, snapshot: DocumentSnapshot) -> None:
        self.heard.append(f"opened {snapshot.uri}")
        if self.fail:
            raise RuntimeError("a feature's bug")

    def closed(self, uri: str) -> None:
        self.heard.append(f"closed {uri}")


def test_every_feature_hears_every_hook_even_after_one_fails(caplog) -> None:
    heard: list[str] = []
    lifecycle = Lifecycle([Recorder(heard, fail=True), Recorder(heard)])
    snapshot = DocumentSnapshot("file:///a.py", "python", 1, ("x\n",))
    with caplog.at_level(logging.ERROR):
        lifecycle.opened(snapshot)
    lifecycle.changed("file:///a.py", 0, 0)  # nobody overrides it: nothing happens
    lifecycle.closed("file:///a.py")
    assert heard == ["opened file:///a.py"] * 2 + ["closed file:///a.py"] * 2
    assert "the opened hook of Recorder failed" in caplog.text


def test_the_server_wires_its_features_through_one_lifecycle() -> None:
    server = create_server()
    features = {type(feature).__name__ for feature in server.lifecycle._features}
    expected = {"ContextService", "CompletionService", "ModelService", "InlineCompletion"}
    assert expected | {"NextEditService"} <= features
    server.close()  # every shutdown hook: nothing was loaded, nothing fails
