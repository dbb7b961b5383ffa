"""Next-edit cases from a git repository's history, for ``spark-lsp bench next-edit``.

For each commit (no merges) and each text file it changed with two or more related hunks, the
first hunk is the user's edit and the others are the expected next edits. Hunks are related
when their changed words share an identifier (a rename, a signature change and its call sites,
the same pattern changed twice), or when they lie within ``NEAR_LINES`` of the first.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
NEAR_LINES = 20
MAX_FILE_BYTES = 200_000
SOURCE_SUFFIXES = (".py", ".js", ".ts", ".lua", ".go", ".rs", ".c", ".h", ".cc", ".java", ".rb")


@dataclass(frozen=True)
class Hunk:
    """Lines [start, start + len(old)) of the parent's file (0-based) became ``new``."""

    start: int
    old: tuple[str, ...]
    new: tuple[str, ...]

    def changed_words(self) -> set[str]:
        old_words = set(WORD.findall("".join(self.old)))
        new_words = set(WORD.findall("".join(self.new)))
        return old_words ^ new_words or old_words | new_words


@dataclass(frozen=True)
class Case:
    """One file of one commit: the parent's text, the user's edit and the expected next ones."""

    commit: str
    path: str
    before: str
    first: Hunk
    rest: tuple[Hunk, ...]


def _git(repo: Path, *arguments: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *arguments],
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        check=True,
        timeout=120,
    ).stdout


def parse_hunks(diff: str, before_lines: list[str]) -> list[Hunk]:
    """The hunks of a ``--unified=0`` diff of one file, with the old lines from the parent."""
    hunks: list[Hunk] = []
    lines = diff.splitlines(keepends=True)
    index = 0
    while index < len(lines):
        header = HUNK_HEADER.match(lines[index])
        index += 1
        if header is None:
            continue
        old_start, old_count = int(header.group(1)), int(header.group(2) or "1")
        new: list[str] = []
        while index < len(lines) and not lines[index].startswith("@@"):
            if lines[index].startswith("+"):
                new.append(lines[index][1:])
            index += 1
        start = old_start - 1 if old_count else old_start  # `-a,0`: inserted after line a
        old = tuple(before_lines[start : start + old_count])
        if len(old) == old_count:
            hunks.append(Hunk(start, old, tuple(_ensure_newline(new))))
    return hunks


def _ensure_newline(lines: list[str]) -> list[str]:
    return [line if line.endswith("\n") else line + "\n" for line in lines]


def related(first: Hunk, other: Hunk) -> bool:
    near = abs(other.start - first.start) <= NEAR_LINES
    return near or bool(first.changed_words() & other.changed_words())


def cases(repo: Path, limit: int, max_commits: int = 2000) -> Iterator[Case]:
    """Up to ``limit`` cases (0: all), newest commits first."""
    commits = _git(repo, "log", "--no-merges", f"-n{max_commits}", "--format=%H %P").splitlines()
    found = 0
    for line in commits:
        commit, *parents = line.split()
        if len(parents) != 1:
            continue
        names = _git(repo, "diff", "--name-only", "--diff-filter=M", parents[0], commit)
        for path in names.splitlines():
            if not path.endswith(SOURCE_SUFFIXES):
                continue
            case = _case(repo, parents[0], commit, path)
            if case is not None:
                yield case
                found += 1
                if limit and found >= limit:
                    return


def _case(repo: Path, parent: str, commit: str, path: str) -> Case | None:
    try:
        before = _git(repo, "show", f"{parent}:{path}")
    except subprocess.CalledProcessError:
        return None
    if len(before) > MAX_FILE_BYTES or "\0" in before:
        return None
    diff = _git(repo, "diff", "--unified=0", "--no-color", parent, commit, "--", path)
    hunks = parse_hunks(diff, before.splitlines(keepends=True))
    if len(hunks) < 2:
        return None
    first, *others = hunks
    rest = tuple(hunk for hunk in others if related(first, hunk))
    if not rest:
        return None
    return Case(commit, path, before, first, rest)
