"""A request's cursor facts, computed once: the prompt's window from the context service (or
the plain window without one), the boundary, one line or a block, the language and the file's
path. The model call and post-processing read the same value."""

from __future__ import annotations

from collections.abc import Sequence

from spark_lsp.completion.cursor import CursorState, PromptWindow, QuickState, cursor_state
from spark_lsp.context.builder import BuiltPrompt
from spark_lsp.context.service import ContextService
from spark_lsp.documents import DocumentSnapshot


class CursorFacts:
    def __init__(self, context: ContextService | None) -> None:
        self.context = context

    def file_path(self, uri: str) -> str:
        return self.context.display_path(uri) if self.context else uri.rsplit("/", 1)[-1]

    def at(
        self,
        snapshot: DocumentSnapshot,
        line: int,
        column: int,
        max_new_tokens: int,
        selected: tuple[int, str] | None = None,
        quick: QuickState | None = None,
        lines: Sequence[str] | None = None,
        budget_cap: int | None = None,
    ) -> CursorState:
        """The facts at (line, column) of ``snapshot``; ``lines``: other lines than the
        snapshot's (a prefetch's next line); ``selected`` a popup item, as in ``quick_state``;
        ``budget_cap``: a smaller prompt budget (a cold document's)."""
        return cursor_state(
            snapshot.lines if lines is None else lines,
            line,
            column,
            selected,
            snapshot.language_id,
            self._prompt_window(
                snapshot,
                max_new_tokens,
                lines_changed=selected is not None or lines is not None,
                budget_cap=budget_cap,
            ),
            quick,
            self.file_path(snapshot.uri),
        )

    def _prompt_window(
        self,
        snapshot: DocumentSnapshot,
        max_new_tokens: int,
        lines_changed: bool,
        budget_cap: int | None,
    ) -> PromptWindow | None:
        """Builds prompts with the context service; ``lines_changed``: the lines it will get
        differ from the snapshot's (a popup item inserted, a prefetch's next line)."""
        context = self.context
        if context is None:
            return None

        def build(lines: Sequence[str], line: int, column: int) -> BuiltPrompt | None:
            if lines_changed:
                snapshot_ = DocumentSnapshot(
                    snapshot.uri, snapshot.language_id, snapshot.version, tuple(lines)
                )
            else:
                snapshot_ = snapshot
            return context.build(snapshot_, line, column, max_new_tokens, budget_cap=budget_cap)

        return build
