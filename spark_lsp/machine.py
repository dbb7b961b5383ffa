"""What the install measured on this machine: the proven llama.cpp build and the model preset
chosen as the default, with the reason in one line.

``install.py`` writes the record into the environment it installs (``<venv>/share/spark-lsp/
machine.json``) after proving the build with a short decode of each preset; the server reads it
to resolve ``--model auto`` (the default), and ``spark-lsp doctor`` repeats it. A record made on
another CPU is not trusted (the environment was copied or the machine changed): the small preset
serves until the install runs again.

Standard library only: ``install.py`` loads this file before anything is installed.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

SMALL, LARGE = "small", "large"
# A suggestion of one line is about 10 tokens: at 9 tokens/s it appears about a second after
# the prompt, the slowest decode that still feels interactive (the large preset decodes 13-14
# tokens/s on the Xeon this was tuned on, 7.4 on Zen 1). Measured with the short prompt of
# ``spark-lsp model measure``, best of three passes; two installs on one Xeon measured the large
# preset at 13.1 and 10.2 tokens/s, so the bar leaves room below the slower figure.
INTERACTIVE_DECODE_TOKENS_PER_S = 9.0
# The 1.5B decodes at about 0.6 times the 0.5B's rate (13.7 against 21.5 tokens/s on the Xeon,
# 7.4 against 13.5 on Zen 1): below this 0.5B rate the large preset cannot reach the bar above
# and is not even downloaded.
LARGE_TO_SMALL_DECODE = 0.6
# Other work on the CPU makes a decode look slower than it is: the install waits (up to
# QUIET_WAIT_S) for the CPU to be at most this busy before measuring, and says so when it was not.
QUIET_BUSY_FRACTION = 0.3
QUIET_WAIT_S = 60.0
# Beside the model's own resident memory: the editor, the language server's Python, the OS.
MEMORY_HEADROOM_BYTES = 2 * 1024**3


@dataclass(frozen=True)
class Measurement:
    """One preset's short decode in a child process (``spark-lsp model measure``)."""

    preset: str
    decode_tokens_per_s: float
    prompt_tokens_per_s: float
    rss_bytes: int
    answer: str = ""  # the decoded text, to tell a sane build from one that computes garbage


@dataclass(frozen=True)
class Choice:
    preset: str
    reason: str  # one line: what was measured and why this preset


@dataclass
class Record:
    cpu: str = ""
    cmake_args: str = ""
    build_proven: bool = False
    failed_builds: list[dict[str, str]] = field(default_factory=list)  # cmake_args, detail
    measurements: list[dict[str, object]] = field(default_factory=list)
    choice: dict[str, str] = field(default_factory=dict)
    busy_fraction: float | None = None  # how busy the CPU was when the measurement began


def record_path(prefix: Path | None = None) -> Path:
    """The record of the environment at ``prefix`` (default: the running one)."""
    return Path(prefix or sys.prefix) / "share" / "spark-lsp" / "machine.json"


def read_record(path: Path | None = None) -> Record | None:
    """The record, or None when there is none or it cannot be read."""
    try:
        data = json.loads((path or record_path()).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    record = Record(**{k: v for k, v in data.items() if k in Record.__dataclass_fields__})
    shapes = {
        "cpu": str,
        "cmake_args": str,
        "build_proven": bool,
        "failed_builds": list,
        "measurements": list,
        "choice": dict,
    }
    if not all(isinstance(getattr(record, name), kind) for name, kind in shapes.items()):
        return None
    if record.busy_fraction is not None and not isinstance(record.busy_fraction, int | float):
        return None
    if not all(isinstance(v, str) for v in record.choice.values()) or not all(
        isinstance(f, dict) for f in record.failed_builds
    ):
        return None
    return record


def write_record(record: Record, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(asdict(record), indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def large_could_be_interactive(small: Measurement) -> bool:
    """Whether the large preset is worth installing and measuring, judged from the small one."""
    expected = small.decode_tokens_per_s * LARGE_TO_SMALL_DECODE
    return expected >= INTERACTIVE_DECODE_TOKENS_PER_S * 0.8  # 20 % margin: a short measurement


def choose(small: Measurement, large: Measurement | None, available_memory: int) -> Choice:
    """The preset to serve by default: the large one where it stays interactive and fits."""
    fast = f"{INTERACTIVE_DECODE_TOKENS_PER_S:g} tokens/s"
    if large is None:
        if not large_could_be_interactive(small):
            return Choice(
                SMALL,
                f"small (0.5B): it decodes {small.decode_tokens_per_s:.1f} tokens/s here, so the "
                f"large preset would fall short of {fast}",
            )
        return Choice(SMALL, "small (0.5B): the large preset could not be installed or measured")
    needed = large.rss_bytes + MEMORY_HEADROOM_BYTES
    if large.decode_tokens_per_s < INTERACTIVE_DECODE_TOKENS_PER_S:
        return Choice(
            SMALL,
            f"small (0.5B, {small.decode_tokens_per_s:.1f} tokens/s): the large preset decodes "
            f"{large.decode_tokens_per_s:.1f} tokens/s here, short of {fast}",
        )
    if available_memory and needed > available_memory:
        return Choice(
            SMALL,
            f"small (0.5B): the large preset needs {needed / 1024**3:.1f} GiB with headroom, "
            f"{available_memory / 1024**3:.1f} GiB are available",
        )
    return Choice(
        LARGE,
        f"large (1.5B, right about twice as often): it decodes {large.decode_tokens_per_s:.1f} "
        f"tokens/s here (small {small.decode_tokens_per_s:.1f}), at least {fast}, and "
        f"{large.rss_bytes / 1024**3:.1f} GiB fit in the "
        f"{available_memory / 1024**3:.1f} GiB available",
    )


def available_memory_bytes(meminfo: Path = Path("/proc/meminfo")) -> int:
    """MemAvailable, or 0 when unknown (then memory does not decide)."""
    with contextlib.suppress(OSError, ValueError):
        for line in meminfo.read_text(encoding="ascii", errors="replace").splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def cpu_busy_fraction(interval_s: float = 1.0, stat: Path = Path("/proc/stat")) -> float | None:
    """How busy all CPUs were over ``interval_s`` (0..1), or None where /proc/stat is missing."""

    def sample() -> tuple[int, int] | None:
        try:
            fields = stat.read_text(encoding="ascii").splitlines()[0].split()[1:]
            values = [int(value) for value in fields]
        except (OSError, ValueError, IndexError):
            return None
        idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
        return idle, sum(values)

    first = sample()
    time.sleep(interval_s)
    second = sample()
    if first is None or second is None or second[1] <= first[1]:
        return None
    return 1.0 - (second[0] - first[0]) / (second[1] - first[1])


def wait_until_quiet(
    busy: Callable[[], float | None] = cpu_busy_fraction, wait_s: float = QUIET_WAIT_S
) -> float | None:
    """Wait (at most ``wait_s``) until other work leaves the CPU mostly idle; the busy
    fraction last seen, so a measurement taken on a busy machine can say so."""
    deadline = time.monotonic() + wait_s
    while True:
        fraction = busy()
        if fraction is None or fraction <= QUIET_BUSY_FRACTION or time.monotonic() > deadline:
            return fraction
