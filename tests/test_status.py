"""The ``spark/status`` notifications that drive editors' status bars."""

from __future__ import annotations

from typing import Any

import pytest

from spark_lsp.lsp.status import STATUS_NOTIFICATION, StatusReporter


def reporter() -> tuple[StatusReporter, list[dict[str, Any]]]:
    sent: list[dict[str, Any]] = []

    def send(method: str, params: dict[str, Any]) -> None:
        assert method == STATUS_NOTIFICATION
        sent.append(params)

    return StatusReporter(send), sent


def test_loading_then_ready() -> None:
    status, sent = reporter()
    status.loading(0, "loading the model")
    status.loading(40, "loading the model")
    status.model_ready("coder.gguf")
    assert [p["state"] for p in sent] == ["loading", "loading", "ready"]
    assert sent[1]["percentage"] == 40


def test_a_model_loaded_on_demand_is_announced_once_and_loading_follows() -> None:
    status, sent = reporter()
    status.not_loaded("the model loads at the first suggestion")
    status.not_loaded("the model loads at the first suggestion")
    status.loading(0, "loading the model")
    status.not_loaded("too late: it is loading")
    status.model_ready("coder.gguf")
    assert [(p["state"], p["message"]) for p in sent] == [
        ("ready", "the model loads at the first suggestion"),
        ("loading", "loading the model"),
        ("ready", "coder.gguf"),
    ]


def test_requests_before_the_model_is_ready_do_not_claim_generating() -> None:
    status, sent = reporter()
    status.loading(10, "loading the model")
    with status.generating() as timing:
        timing["latencyMs"] = 5.0
    assert [p["state"] for p in sent] == ["loading"]


def test_overlapping_requests_report_one_generating_and_the_last_latency() -> None:
    status, sent = reporter()
    status.model_ready("coder.gguf")
    with status.generating():
        with status.generating() as inner:
            inner["latencyMs"] = 3.0
        with status.generating() as outer:
            outer["latencyMs"] = 123.456
    assert sent[1:] == [
        {"state": "generating", "message": "generating"},
        {"state": "ready", "message": "coder.gguf", "latencyMs": 123.5},
    ]


def test_a_failed_request_still_returns_to_ready_without_a_latency() -> None:
    status, sent = reporter()
    status.model_ready("coder.gguf")
    with pytest.raises(RuntimeError), status.generating("rewriting"):
        raise RuntimeError("boom")
    assert sent[-2:] == [
        {"state": "generating", "message": "rewriting"},
        {"state": "ready", "message": "coder.gguf"},
    ]


def test_a_load_failure_is_an_error_state() -> None:
    status, sent = reporter()
    status.model_failed("cannot load the model: no such file")
    with status.generating():
        pass
    assert sent == [{"state": "error", "message": "cannot load the model: no such file"}]


def test_requests_waiting_for_the_model_report_generating_once_it_is_ready() -> None:
    status, sent = reporter()
    status.loading(0, "loading the model")
    with status.generating() as timing:
        status.model_ready("coder.gguf")
        timing["latencyMs"] = 900.0
    assert [p["state"] for p in sent] == ["loading", "ready", "generating", "ready"]
    assert sent[-1]["latencyMs"] == 900.0
