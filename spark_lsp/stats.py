"""Local-only usage statistics of suggestions: shown, accepted, characters accepted, latency.

They live in one small JSON file in the user state directory and never leave the machine.
``spark-lsp stats`` prints them; the ``spark-lsp.showStatistics`` command returns them.

Several servers (one per editor window) share the file: each keeps what it counted since its
last save and, under an exclusive lock, adds that to what the file holds, then replaces the file
atomically (a temporary file of its own, synced, then renamed). So no process overwrites
another's counts, and a crash never leaves half a file. Numbers a client sends are checked:
absurd ones are refused.

Threads: counted and saved on the event loop (the file is a few hundred bytes; another process
holds the lock only for one read and one write).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import math
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import platformdirs

from spark_lsp.percentiles import percentile

logger = logging.getLogger(__name__)

KEPT_LATENCIES = 1000
MAX_CHARACTERS = 1_000_000  # in one accept: more is not a real suggestion
MAX_LATENCY_MS = 3_600_000.0
COUNTERS = ("suggested", "shown", "accepted", "partially_accepted", "characters_accepted")


def stats_path() -> Path:
    override = os.environ.get("SPARK_LSP_STATE_DIR")
    base = Path(override) if override else Path(platformdirs.user_state_dir("spark-lsp"))
    return base / "stats.json"


@dataclass
class UsageStats:
    suggested: int = 0
    shown: int = 0
    accepted: int = 0
    partially_accepted: int = 0
    characters_accepted: int = 0
    latencies_ms: list[float] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: object) -> UsageStats:
        """Stats from a file's contents; ValueError when they are not ours."""
        if not isinstance(data, dict) or set(data) - {f.name for f in fields(cls)}:
            raise ValueError("not a statistics object")
        counts = {name: data.get(name, 0) for name in COUNTERS}
        if not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in counts.values()
        ):
            raise ValueError("counts must be non-negative integers")
        latencies = data.get("latencies_ms", [])
        if not isinstance(latencies, list) or not all(
            isinstance(v, int | float) and math.isfinite(v) for v in latencies
        ):
            raise ValueError("latencies must be numbers")
        return cls(**counts, latencies_ms=[float(v) for v in latencies[-KEPT_LATENCIES:]])

    def add(self, other: UsageStats) -> None:
        for name in COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.latencies_ms = [*self.latencies_ms, *other.latencies_ms][-KEPT_LATENCIES:]

    def summary(self) -> dict[str, float | int | None]:
        rate = self.accepted / self.shown if self.shown else None
        latencies = self.latencies_ms
        return {
            "suggested": self.suggested,
            "shown": self.shown,
            "accepted": self.accepted,
            "partially_accepted": self.partially_accepted,
            "characters_accepted": self.characters_accepted,
            "acceptance_rate": round(rate, 3) if rate is not None else None,
            "latency_ms_p50": round(percentile(latencies, 0.5), 1) if latencies else None,
            "latency_ms_p90": round(percentile(latencies, 0.9), 1) if latencies else None,
        }


class StatsStore:
    """Usage statistics, loaded from and merged into ``path``; a damaged file starts afresh."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or stats_path()
        self.stats = self._load()  # what the file held, plus what this process counted
        self._unsaved = UsageStats()

    def _load(self) -> UsageStats:
        try:
            return UsageStats.from_json(json.loads(self.path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return UsageStats()
        except (OSError, ValueError, TypeError) as error:
            logger.warning(
                "statistics file %s is unreadable (%s); starting afresh", self.path, error
            )
            return UsageStats()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def save(self) -> None:
        """Add what this process counted since its last save to the file."""
        try:
            with self._locked():
                merged = self._load()
                merged.add(self._unsaved)
                temporary = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
                with open(temporary, "w", encoding="utf-8") as stream:
                    stream.write(json.dumps(asdict(merged)))
                    stream.flush()
                    os.fsync(stream.fileno())
                os.replace(temporary, self.path)
        except OSError as error:
            logger.warning("cannot save statistics to %s: %s", self.path, error)
            return
        self._unsaved = UsageStats()
        self.stats = merged

    def _count(self, name: str, amount: int = 1) -> None:
        for target in (self.stats, self._unsaved):
            setattr(target, name, getattr(target, name) + amount)

    def record_suggested(self, latency_ms: float) -> None:
        if not (isinstance(latency_ms, int | float) and 0 <= latency_ms <= MAX_LATENCY_MS):
            return
        self._count("suggested")
        for target in (self.stats, self._unsaved):
            target.latencies_ms = [*target.latencies_ms[-(KEPT_LATENCIES - 1) :], latency_ms]

    def record_shown(self) -> None:
        self._count("shown")

    def record_accepted(self, characters: int) -> None:
        self._count("accepted")
        self._count("characters_accepted", min(max(0, characters), MAX_CHARACTERS))
        self.save()

    def record_partially_accepted(self, characters: object) -> bool:
        """Count a partial accept; False (nothing counted) for a length that is not a sane
        number of characters."""
        valid = isinstance(characters, int) and not isinstance(characters, bool)
        if not valid or not 0 <= characters <= MAX_CHARACTERS:  # type: ignore[operator]
            logger.warning("ignored a partial accept of %.40r characters", characters)
            return False
        self._count("partially_accepted")
        self._count("characters_accepted", characters)  # type: ignore[arg-type]
        self.save()
        return True
