"""Local-only usage statistics of suggestions: shown, accepted, characters accepted, latency.

They live in one small JSON file in the user state directory and never leave the machine.
``spark-lsp stats`` prints them; the ``spark-lsp.showStatistics`` command returns them.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import platformdirs

from spark_lsp.percentiles import percentile

logger = logging.getLogger(__name__)

KEPT_LATENCIES = 1000


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
    """Usage statistics, loaded from and saved to ``path``; a damaged file starts afresh."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or stats_path()
        self.stats = self._load()

    def _load(self) -> UsageStats:
        try:
            return UsageStats(**json.loads(self.path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return UsageStats()
        except (OSError, ValueError, TypeError) as error:
            logger.warning(
                "statistics file %s is unreadable (%s); starting afresh", self.path, error
            )
            return UsageStats()

    def save(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_suffix(".tmp")
            temporary.write_text(json.dumps(asdict(self.stats)), encoding="utf-8")
            temporary.replace(self.path)
        except OSError as error:
            logger.warning("cannot save statistics to %s: %s", self.path, error)

    def record_suggested(self, latency_ms: float) -> None:
        self.stats.suggested += 1
        self.stats.latencies_ms = [*self.stats.latencies_ms[-(KEPT_LATENCIES - 1) :], latency_ms]

    def record_shown(self) -> None:
        self.stats.shown += 1

    def record_accepted(self, characters: int) -> None:
        self.stats.accepted += 1
        self.stats.characters_accepted += characters
        self.save()

    def record_partially_accepted(self, characters: int) -> None:
        self.stats.partially_accepted += 1
        self.stats.characters_accepted += characters
        self.save()
