"""Client options: parsing untrusted values, and initializationOptions / didChangeConfiguration
over stdio (no model needed)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from spark_lsp.lsp.options import ServerOptions, merge_options, section_of, to_wire
from tests.raw_client import RawClient


def test_valid_options_apply_and_bad_ones_keep_their_value() -> None:
    raw = {
        "completion": {"automatic": False, "debounceMs": "soon", "fallbackSort": "first"},
        "engine": {"nCtx": 4096, "kvReuse": "sideways", "threads": True},
        "colour": "blue",
    }
    options, problems = merge_options(ServerOptions(), raw)
    assert options.completion.automatic is False
    assert options.completion.fallback_sort == "first"
    assert options.completion.debounce_ms == 0
    assert options.engine.n_ctx == 4096
    assert options.engine.kv_reuse == "shift"
    assert problems == [
        "completion.debounceMs must be an integer (got 'soon'); keeping 0",
        "engine.kvReuse must be one of 'shift', 'exact' (got 'sideways'); keeping 'shift'",
        "engine.threads must be an integer (got True); keeping 0",
        "unknown option colour",
    ]


def test_bounds_nulls_and_shapes_are_checked() -> None:
    options, problems = merge_options(
        ServerOptions(), {"completion": {"maxTokensLine": 0, "automatic": None}, "engine": []}
    )
    assert options == ServerOptions()
    assert problems == [
        "completion.maxTokensLine must be between 1 and 512 (got 0); keeping 64",
        "completion.automatic must not be null (got None); keeping True",
        "engine must be an object",
    ]
    assert merge_options(ServerOptions(), [1])[1] == ["options must be an object"]
    assert merge_options(ServerOptions(), {"engine": {"model": None}})[1] == []


def test_our_section_is_found_in_a_configuration_value() -> None:
    ours = {"completion": {"automatic": False}}
    assert section_of({"sparkLsp": ours, "python": {}}) == ours
    assert section_of(ours) == ours
    assert section_of({"python": {"x": 1}}) is None  # another tool's settings
    assert section_of([]) is None and section_of(None) is None


def test_options_round_trip_through_their_wire_form() -> None:
    wire = to_wire(ServerOptions())
    assert wire["completion"]["fallbackSort"] == "last"
    assert wire["engine"]["suffixRefreshTokens"] == 4
    assert merge_options(ServerOptions(), wire) == (ServerOptions(), [])


@pytest.fixture
def client() -> Iterator[RawClient]:
    raw = RawClient()
    yield raw
    raw.close()


def test_initialization_options_apply_and_problems_are_shown_once(client: RawClient) -> None:
    client.initialize(options={"completion": {"fallbackSort": "first", "debounceMs": -5}})
    shown = client.wait_for(lambda m: m.get("method") == "window/showMessage")
    assert shown["params"]["message"] == (
        "spark-lsp: initializationOptions: "
        "completion.debounceMs must be between 0 and 2000 (got -5); keeping 0"
    )
    options = client.request("spark/debug/options")["result"]
    assert options["completion"]["fallbackSort"] == "first"
    assert options["completion"]["debounceMs"] == 0


def test_did_change_configuration_updates_options(client: RawClient) -> None:
    client.initialize()
    settings = {"sparkLsp": {"completion": {"automatic": False}, "engine": {"nCtx": 2048}}}
    client.notify("workspace/didChangeConfiguration", {"settings": settings})
    options = client.request("spark/debug/options")["result"]
    assert options["completion"]["automatic"] is False
    assert options["engine"]["nCtx"] == 2048  # the model is not loaded yet: applies at its load
    client.notify("workspace/didChangeConfiguration", {"settings": {"other": {"x": 1}}})
    assert client.request("spark/debug/options")["result"] == options


def test_configuration_is_pulled_when_the_client_sends_none(client: RawClient) -> None:
    client.initialize({"workspace": {"configuration": True}})
    client.notify("workspace/didChangeConfiguration", {"settings": None})
    pull = client.wait_for(lambda m: m.get("method") == "workspace/configuration")
    assert pull["params"]["items"] == [{"section": "sparkLsp"}]
    client.send({"jsonrpc": "2.0", "id": pull["id"], "result": [{"completion": {"debounceMs": 7}}]})
    for _ in range(50):  # the answer is applied on a later turn of the server's event loop
        options = client.request("spark/debug/options")["result"]
        if options["completion"]["debounceMs"] == 7:
            break
        time.sleep(0.05)
    assert options["completion"]["debounceMs"] == 7


def test_editor_patterns_add_to_the_private_files_and_never_remove_one() -> None:
    defaults = ServerOptions().context.private_files
    emptied, problems = merge_options(ServerOptions(), {"context": {"privateFiles": []}})
    assert emptied.context.private_files == defaults and problems == []
    added, _ = merge_options(ServerOptions(), {"context": {"privateFiles": ["*.tfvars", "*.pem"]}})
    assert added.context.private_files == (*defaults, "*.tfvars")


def test_a_workspace_may_keep_the_model_local_but_not_choose_a_remote_one() -> None:
    local, problems = merge_options(ServerOptions(), {"engine": {"backend": "local"}})
    assert local.engine.backend == "local" and problems == []
    remote, problems = merge_options(
        ServerOptions(), {"engine": {"backend": "remote", "remoteModel": "gpt-expensive"}}
    )
    assert remote.engine.backend == "local" and remote.engine.remote_model is None
    assert [problem.split(" is ")[0] for problem in problems] == [
        "engine.backend",
        "engine.remoteModel",
    ]


def test_the_endpoint_is_shown_without_its_credentials() -> None:
    endpoint = "http://user:hunter2@127.0.0.1:9/v1?api_key=sk-secret#frag"
    raw = RawClient("--backend", "remote", "--endpoint", endpoint, "--no-preload")
    try:
        raw.initialize()
        options = raw.request("spark/debug/options")["result"]
        assert options["engine"]["endpoint"] == "http://127.0.0.1:9/v1"
        assert "hunter2" not in json.dumps(options) and "sk-secret" not in json.dumps(options)
    finally:
        raw.close()
    doctor = subprocess.run(
        [
            sys.executable,
            "-m",
            "spark_lsp",
            "doctor",
            "--backend",
            "remote",
            "--endpoint",
            endpoint,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "127.0.0.1:9/v1" in doctor.stdout
    assert "hunter2" not in doctor.stdout + doctor.stderr
    assert "sk-secret" not in doctor.stdout + doctor.stderr
