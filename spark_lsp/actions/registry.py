"""Every code action, one entry each: its menu title and kind, what the model is asked, and how
its result reaches the document. Adding an action is adding an entry here (and, for a new
outcome, its handler in ``service.py``); ``check`` runs at start-up and refuses an entry the
rest of the server could not serve.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum

from spark_lsp.actions import docstrings
from spark_lsp.actions.errors import InvalidTarget
from spark_lsp.actions.target import Target

REWRITE_SYSTEM = (
    "You are a careful programming assistant inside a code editor. You rewrite the code you are "
    "given as asked. Reply with the complete rewritten code only, in one fenced code block, "
    "with no explanation before or after it."
)
EXPLAIN_SYSTEM = (
    "You are a programming assistant inside a code editor. Explain the code you are given to "
    "a colleague: what it does, how, and anything surprising. Use short Markdown."
)


class Outcome(StrEnum):
    REWRITE = "rewrite"  # the target's lines are replaced by the model's code (minimal edits)
    TEST_FILE = "test file"  # the model's code goes into a test file beside the document
    EXPLANATION = "explanation"  # Markdown for the editor to show; run as a command


class Offered(StrEnum):
    SELECTION = "selection"  # on the menu of any range
    DIAGNOSTIC = "diagnostic"  # once per diagnostic in the range
    LAST = "last"  # after the others, when anything was offered (it needs the user's words)


# (language id, the code before, the model's code) -> the code to apply, or None: refused
Refinement = Callable[[str, str, str], str | None]


@dataclass(frozen=True)
class ActionSpec:
    key: str  # what a Target's ``action`` holds
    title: str  # the menu's title
    kind: str  # an LSP CodeActionKind value
    instruction: str  # what the model is asked ({message}: the diagnostic's message)
    outcome: Outcome
    offered: Offered = Offered.SELECTION
    needs_file_creation: bool = False  # offered only to clients that can create files
    system: str = REWRITE_SYSTEM
    # A last step on the model's code (a docstring action keeps only the docstrings), with
    # the message for a refusal.
    refine: Refinement | None = None
    refused: str = ""

    def instruction_for(self, target: Target, user_instruction: str | None = None) -> str:
        if user_instruction is not None:
            return user_instruction
        return self.instruction.format(message=target.message)


def _only_docstrings(language_id: str, code: str, new_code: str) -> str | None:
    if language_id != "python":
        return new_code
    return docstrings.keep_only_docstrings(code, new_code)


ACTIONS: Mapping[str, ActionSpec] = {
    spec.key: spec
    for spec in (
        ActionSpec(
            "fix",
            "Fix: {message}",
            "quickfix",
            "Fix this problem reported by the editor: {message}",
            Outcome.REWRITE,
            Offered.DIAGNOSTIC,
        ),
        ActionSpec(
            "docstring",
            "spark-lsp: Add docstring",
            "refactor.rewrite",
            "Add a docstring (or doc comment) to this code. Change nothing else.",
            Outcome.REWRITE,
            refine=_only_docstrings,
            refused="the model's answer added no docstring",
        ),
        ActionSpec(
            "type_hints",
            "spark-lsp: Add type hints",
            "refactor.rewrite",
            "Add type hints to this code. Do not change what it does.",
            Outcome.REWRITE,
        ),
        ActionSpec(
            "simplify",
            "spark-lsp: Simplify",
            "refactor.rewrite",
            "Simplify this code without changing its behaviour.",
            Outcome.REWRITE,
        ),
        ActionSpec(
            "explain",
            "spark-lsp: Explain",
            "source",
            "Explain this code.",
            Outcome.EXPLANATION,
            system=EXPLAIN_SYSTEM,
        ),
        ActionSpec(
            "unit_test",
            "spark-lsp: Write a unit test",
            "source",
            "Write unit tests for this code (pytest for Python), as a complete test file that "
            "imports what it tests from the module named below.",
            Outcome.TEST_FILE,
            needs_file_creation=True,
        ),
        ActionSpec(
            "edit",
            "spark-lsp: Edit with instruction...",
            "refactor.rewrite",
            "",  # the user's own words
            Outcome.REWRITE,
            Offered.LAST,
        ),
    )
}


def spec_of(target: Target) -> ActionSpec:
    """The target's action; InvalidTarget for a key no entry has (targets come back from the
    client untrusted)."""
    spec = ACTIONS.get(target.action)
    if spec is None:
        raise InvalidTarget(f"no such spark-lsp code action: {target.action!r}")
    return spec


def check(kinds: Collection[str], served: Collection[Outcome]) -> None:
    """Refuse, at start-up, an entry the server could not serve: a kind it does not announce,
    an outcome without a handler, a missing instruction or title."""
    for spec in ACTIONS.values():
        problems = []
        if not spec.title:
            problems.append("no title")
        if spec.kind not in kinds:
            problems.append(f"kind {spec.kind!r} is not announced ({', '.join(sorted(kinds))})")
        if spec.outcome not in served:
            problems.append(f"no handler for the {spec.outcome} outcome")
        if not spec.instruction and spec.offered is not Offered.LAST:
            problems.append("no instruction for the model")
        if spec.refine is not None and not spec.refused:
            problems.append("a refinement without a refusal message")
        if problems:
            raise ValueError(f"code action {spec.key!r}: {'; '.join(problems)}")
