"""Local-only usage statistics of suggestions: shown, accepted, characters accepted, latency.

They live in one small JSON file in the user state directory and never leave the machine.
``spark-lsp stats`` prints them; the ``spark-lsp.showStatistics`` command returns them.

Several servers (one per editor window) share the file: each keeps what it counted since its
last save and, under an exclusive lock, adds that to what the file holds, then replaces the file
atomically (a temporary file of its own, synced, then renamed). So no process overwrites
another's counts, and a crash never leaves half a file. Numbers a client sends are checked:
absurd ones are refused.

Other local users: the folder is private (0700, ours; see private_dir) and the files 0600. The
lock is only tried for LOCK_TIMEOUT_S: whoever holds it longer delays a save (the counts wait
for the next one), never the server.

Threads: counted on the event loop; saved by one writer thread (the lock may be held by another
process), so the event loop never waits for the file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import math
import os
import stat
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import platformdirs

from spark_lsp.percentiles import percentile
from spark_lsp.private_dir import PrivateFolderError, owned_and_not_shared, private_dir

logger = logging.getLogger(__name__)

KEPT_LATENCIES = 1000
MAX_CHARACTERS = 1_000_000  # in one accept: more is not a real suggestion
MAX_LATENCY_MS = 3_600_000.0
COUNTERS = ("suggested", "shown", "accepted", "partially_accepted", "characters_accepted")
LOCK_TIMEOUT_S = 1.5
MAX_FILE_BYTES = 1_000_000  # the file holds at most KEPT_LATENCIES numbers and a few counters


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


class LockTimeout(Exception):
    """Another process held the statistics lock for longer than LOCK_TIMEOUT_S."""


class StatsStore:
    """Usage statistics, loaded from and merged into ``path``; a damaged file starts afresh, an
    unsafe folder (see private_dir) is warned of once and the counts stay in memory."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or stats_path()
        self._guard = threading.Lock()  # the counts, between the event loop and the writer
        self._writer: ThreadPoolExecutor | None = None
        self._queued: Future[None] | None = None  # the save not yet started, if any
        self._latest: Future[None] | None = None
        self._warned = False
        self._usable = self._check_folder()
        self.stats = self._load()  # what the file held, plus what this process counted
        self._unsaved = UsageStats()

    def _check_folder(self) -> bool:
        try:
            private_dir(self.path.parent, "statistics folder")
        except PrivateFolderError as error:
            logger.warning("statistics are not saved: %s", error)
            return False
        return True

    def _load(self) -> UsageStats:
        if not self._usable:
            return UsageStats()
        try:
            return UsageStats.from_json(json.loads(_read_small_file(self.path)))
        except FileNotFoundError:
            return UsageStats()
        except (OSError, ValueError, TypeError) as error:
            logger.warning(
                "statistics file %s is unreadable (%s); starting afresh", self.path, error
            )
            return UsageStats()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        lock_path = self.path.with_name(self.path.name + ".lock")
        descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            if not owned_and_not_shared(os.fstat(descriptor)):
                raise OSError(f"the lock file {lock_path} is not a private file of this user")
            _lock_within(descriptor, LOCK_TIMEOUT_S)
            try:
                yield
            finally:
                fcntl.flock(descriptor, fcntl.LOCK_UN)
        finally:
            os.close(descriptor)

    def save(self) -> None:
        """Add what this process counted since its last save to the file (blocking: the writer
        thread calls it; a failure keeps the counts for the next save)."""
        if not self._usable:
            return
        with self._guard:
            pending, self._unsaved = self._unsaved, UsageStats()
        try:
            merged = self._write_merged(pending)
        except (OSError, LockTimeout) as error:
            with self._guard:
                pending.add(self._unsaved)
                self._unsaved = pending
            if not self._warned:
                logger.warning("cannot save statistics to %s: %s", self.path, error)
            self._warned = True
            return
        self._warned = False
        with self._guard:
            merged.add(self._unsaved)  # what was counted while the file was written
            self.stats = merged

    def _write_merged(self, pending: UsageStats) -> UsageStats:
        with self._locked():
            merged = self._load()
            merged.add(pending)
            descriptor, temporary = tempfile.mkstemp(
                prefix=f"{self.path.name}.", suffix=".tmp", dir=self.path.parent
            )
            try:
                with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
                    stream.write(json.dumps(asdict(merged)))
                    stream.flush()
                    os.fsync(stream.fileno())
                os.replace(temporary, self.path)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temporary)
        return merged

    def save_soon(self) -> None:
        """Save on the writer thread; saves asked for while one waits are that one."""
        with self._guard:
            if self._queued is not None or not self._usable:
                return
            if self._writer is None:
                self._writer = ThreadPoolExecutor(1, thread_name_prefix="spark-stats")
            self._queued = self._latest = self._writer.submit(self._save_queued)

    def _save_queued(self) -> None:
        with self._guard:
            self._queued = None
        try:
            self.save()
        except Exception:
            logger.exception("saving statistics failed")

    def flush(self, timeout: float | None = None) -> None:
        """Wait (at most ``timeout`` seconds) for the saves asked for so far, whether they
        succeed or not."""
        latest = self._latest
        if latest is not None:
            with contextlib.suppress(TimeoutError):
                latest.result(timeout)

    def close(self) -> None:
        """Finish the save under way (bounded by LOCK_TIMEOUT_S) and stop the writer."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.shutdown(wait=True)

    def _count(self, name: str, amount: int = 1) -> None:
        with self._guard:
            for target in (self.stats, self._unsaved):
                setattr(target, name, getattr(target, name) + amount)

    def record_suggested(self, latency_ms: float) -> None:
        if not (isinstance(latency_ms, int | float) and 0 <= latency_ms <= MAX_LATENCY_MS):
            return
        self._count("suggested")
        with self._guard:
            for target in (self.stats, self._unsaved):
                target.latencies_ms = [*target.latencies_ms[-(KEPT_LATENCIES - 1) :], latency_ms]

    def record_shown(self) -> None:
        self._count("shown")

    def record_accepted(self, characters: int) -> None:
        self._count("accepted")
        self._count("characters_accepted", min(max(0, characters), MAX_CHARACTERS))
        self.save_soon()

    def record_partially_accepted(self, characters: object) -> bool:
        """Count a partial accept; False (nothing counted) for a length that is not a sane
        number of characters."""
        valid = isinstance(characters, int) and not isinstance(characters, bool)
        if not valid or not 0 <= characters <= MAX_CHARACTERS:  # type: ignore[operator]
            logger.warning("ignored a partial accept of %.40r characters", characters)
            return False
        self._count("partially_accepted")
        self._count("characters_accepted", characters)  # type: ignore[arg-type]
        self.save_soon()
        return True


def _lock_within(descriptor: int, timeout_s: float) -> None:
    """Take an exclusive flock on ``descriptor``, trying again with a growing pause; raise
    LockTimeout when it is still held after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    pause = 0.005
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            left = deadline - time.monotonic()
            if left <= 0:
                raise LockTimeout(f"another process held the lock for over {timeout_s} s") from None
            time.sleep(min(pause, left))
            pause = min(pause * 2, 0.1)


def _read_small_file(path: Path) -> str:
    """The text of a regular file (never a FIFO or a device, which could block the read)."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(descriptor, "rb") as stream:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise ValueError("not a regular file")
        return stream.read(MAX_FILE_BYTES + 1).decode("utf-8")
