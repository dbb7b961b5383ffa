"""``spark-lsp bench latency --backend remote --endpoint URL``: in-process against a server.

The same typing traces as the in-process latency bench, replayed side by side in one run through
the in-process engine (KV reuse) and through the remote engine against the given server (on
loopback, the network costs nothing, so the difference is the server's own cache reuse and the
HTTP/SSE overhead). Then the per-request overhead of HTTP itself: the same small request with a
kept-alive connection against a new connection per request.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from typing import Any

from spark_lsp import models
from spark_lsp.bench.report import format_table, write_json
from spark_lsp.bench.traces import keystroke_prompts, pick_points, run_engine, source_files
from spark_lsp.engine import CancelToken, GenerationRequest, TextPrompt
from spark_lsp.engine.loader import load_engine
from spark_lsp.engine.remote import RemoteEngine
from spark_lsp.engine.remote.engine import api_key
from spark_lsp.engine.remote.transport import Transport
from spark_lsp.engine.settings import EngineSettings, engine_settings_from
from spark_lsp.percentiles import median, percentile

OVERHEAD_REQUESTS = 30


def overhead(settings: EngineSettings, reuse: bool, requests: int) -> dict[str, float]:
    """Median and p90 of a listing (GET /v1/models) and of a one-token completion of a short
    cached prompt, each a full HTTP round trip, over pooled or per-request connections."""
    assert settings.endpoint is not None
    transport = Transport(
        settings.endpoint, api_key(settings), settings.remote_timeout_ms / 1000, 0, reuse
    )
    engine = RemoteEngine(settings, transport)
    engine.connect()
    listing, completion = [], []
    one_token = GenerationRequest(TextPrompt("def add(a, b):\n    return"), max_tokens=1, key="o")
    engine.generate(one_token, CancelToken())  # fills the server's prompt cache
    for _ in range(requests):
        started = time.perf_counter()
        transport.get_json("/v1/models")
        listing.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        engine.generate(one_token, CancelToken())
        completion.append((time.perf_counter() - started) * 1000)
    engine.close()
    return {
        "listing_ms_p50": round(median(listing), 2),
        "listing_ms_p90": round(percentile(listing, 0.9), 2),
        "completion_ms_p50": round(median(completion), 2),
        "completion_ms_p90": round(percentile(completion, 0.9), 2),
    }


def main(args: argparse.Namespace) -> int:
    settings = engine_settings_from(args)
    local = load_engine(replace(settings, kv_reuse="shift"), models.stderr_progress())
    points = pick_points(local, source_files(), args.points_per_file)
    if args.max_positions:
        points = points[: args.max_positions]
    traces = [keystroke_prompts(point) for point in points]
    keystrokes = sum(len(trace) - 1 for trace in traces)
    remote = RemoteEngine.for_settings(settings)
    info = remote.connect()
    api = "infill" if remote.uses_infill else "completions"
    print(f"server: {info.describe()}; fill-in-the-middle over {api}")
    print(f"{len(points)} positions, {keystrokes} keystrokes; measuring in-process...")
    in_process = run_engine(local, traces, "local")
    local.close()
    print("measuring remote...")
    over_server = run_engine(remote, traces, "remote")
    remote.close()
    compared = min(len(in_process["answers"]), len(over_server["answers"]))
    same = sum(in_process["answers"][i] == over_server["answers"][i] for i in range(compared))
    print(f"measuring per-request overhead ({OVERHEAD_REQUESTS} requests each)...")
    pooled = overhead(settings, True, OVERHEAD_REQUESTS)
    fresh = overhead(settings, False, OVERHEAD_REQUESTS)

    ratio = _print_tables(remote.name, in_process, over_server, pooled, fresh, (same, compared))
    for result in (in_process, over_server):
        result.pop("answers", None)
    write_json(
        args.json,
        "latency-remote",
        {
            "endpoint": settings.endpoint,
            "server": info.describe(),
            "remote_api": api,
            "positions": [f"{p.path.name}:{p.line + 1}" for p in points],
            "in_process": in_process,
            "remote": over_server,
            "remote_over_in_process_ttft_p50": round(ratio, 3),
            "same_first_line": {"same": same, "compared": compared},
            "overhead_pooled": pooled,
            "overhead_new_connection": fresh,
        },
    )
    return 0


def _print_tables(
    remote_name: str,
    in_process: dict[str, Any],
    over_server: dict[str, Any],
    pooled: dict[str, float],
    fresh: dict[str, float],
    agreement: tuple[int, int],
) -> float:
    """Print both tables and the summary line; the remote / in-process TTFT ratio."""
    same, compared = agreement
    columns = ("ttft_ms_p50", "ttft_ms_p90", "full_ms_p50", "full_ms_p90", "tokens_evaluated_p50")
    print(
        format_table(
            ("path", "keys", "TTFT p50", "TTFT p90", "full p50", "full p90", "eval/key"),
            [
                (name, r["keystrokes"], *(r.get(column, "-") for column in columns))
                for name, r in (("in-process", in_process), (remote_name, over_server))
            ],
        )
    )
    print(
        format_table(
            ("connections", "GET p50", "GET p90", "1-token p50", "1-token p90"),
            [
                (name, *r.values())
                for name, r in (("kept alive (pool)", pooled), ("new per request", fresh))
            ],
        )
    )
    ratio = over_server["ttft_ms_p50"] / in_process["ttft_ms_p50"]
    saved = fresh["completion_ms_p50"] - pooled["completion_ms_p50"]
    print(
        f"remote / in-process TTFT p50: {ratio:.2f}x; same first line {same}/{compared}; "
        f"a kept-alive connection saves {saved:.2f} ms per request (p50)"
    )
    return ratio
