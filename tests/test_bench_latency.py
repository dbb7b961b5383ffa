"""bench latency's logic without the model: run sizes, the server's flags, applied suggestions."""

from __future__ import annotations

import argparse

from spark_lsp.bench import latency, lsp_typing
from spark_lsp.engine.settings import EngineSettings, add_engine_arguments, engine_settings_from


def parsed(*flags: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    latency.add_parser(parser.add_subparsers())
    return parser.parse_args(["latency", *flags])


def test_the_default_run_is_the_quick_one_and_full_the_long_one() -> None:
    quick = parsed()
    latency.apply_run_defaults(quick)
    assert (quick.points_per_file, quick.exact_keystrokes, quick.baseline_keystrokes) == (1, 40, 20)
    full = parsed("--full", "--exact-keystrokes", "7")
    latency.apply_run_defaults(full)
    assert (full.points_per_file, full.exact_keystrokes, full.baseline_keystrokes) == (3, 7, 40)


def test_the_server_gets_the_flags_of_the_settings_that_differ_from_the_defaults() -> None:
    settings = EngineSettings(n_ctx=2048, kv_reuse="exact", preload=False, prompt_lookup=True)
    flags = lsp_typing.server_flags(settings)
    assert flags == ["--n-ctx", "2048", "--kv-reuse", "exact", "--no-preload", "--prompt-lookup"]
    parser = argparse.ArgumentParser()
    add_engine_arguments(parser)
    assert engine_settings_from(parser.parse_args(flags)) == settings


def test_a_suggestion_is_applied_over_its_range() -> None:
    item = {
        "insertText": "turn total\nmore",
        "range": {"start": {"character": 6}, "end": {"character": 6}},
    }
    assert lsp_typing.applied_first_line("    re", item) == "    return total"


def test_the_lsp_breakdown_adds_the_rest_of_the_round_trip_and_takes_medians() -> None:
    first = lsp_typing.with_rest({"debounce": 40.0, "engine: decode": 300.0}, 400.0)
    assert first[lsp_typing.LSP_REST] == 60.0
    keystrokes = [
        lsp_typing.Keystroke(400.0, True, 6, "x", True, first),
        lsp_typing.Keystroke(2.0, False, 0, "x", True),  # from the cache: no phases
        lsp_typing.Keystroke(
            500.0, True, 6, "x", True, lsp_typing.with_rest({"debounce": 40.0}, 500.0)
        ),
    ]
    rest = lsp_typing.LSP_REST
    assert lsp_typing.phases_p50(keystrokes) == {
        "debounce": 40.0,
        "engine: decode": 150.0,
        rest: 260.0,
    }


def test_editor_options_for_the_lsp_run_are_parsed_as_json() -> None:
    args = parsed("--editor-option", "completion.debounceMs=0", "--editor-option", "x.y=text")
    assert latency.editor_options(args.editor_option) == {
        "completion": {"debounceMs": 0},
        "x": {"y": "text"},
    }
