"""What the pipeline derives from the text and the cursor before any model call: the prompt
window, the cursor's surroundings, one line or a block, and the request for the engine; then the
text to show for the model's answer (post-processing and the syntax check)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from spark_lsp.completion.postprocess import BLOCK_OPENERS, CursorContext, clean, wants_multiline
from spark_lsp.completion.settings import CompletionSettings
from spark_lsp.context.builder import BuiltPrompt
from spark_lsp.context.window import CursorWindow, cursor_window
from spark_lsp.documents import line_content
from spark_lsp.engine import GenerationRequest, InfillPrompt, Priority
from spark_lsp.syntax import keeps_syntax, starts_empty_block

# Syntax checks look at this much text around the cursor (see ``local_text``).
LOCAL_LINES_ABOVE = 300
LOCAL_LINES_BELOW = 100

PromptWindow = Callable[[Sequence[str], int, int], BuiltPrompt | None]


def infill_request(
    window: CursorWindow,
    extra_context: tuple[tuple[str, str], ...],
    file_path: str,
    key: str,
    max_tokens: int,
    priority: Priority = Priority.INTERACTIVE,
    **options: object,
) -> GenerationRequest:
    """The engine request for a fill-in-the-middle prompt over ``window``; ``options`` are the
    other GenerationRequest fields (stop strings, budgets, ``adopt_as``)."""
    prompt = InfillPrompt(window.prefix, window.suffix, file_path, extra_context=extra_context)
    return GenerationRequest(
        prompt,
        max_tokens=max_tokens,
        priority=priority,
        key=key,
        **options,  # type: ignore[arg-type]
    )


@dataclass(frozen=True)
class QuickState:
    """What a keystroke costs before the debounce: the cursor's line and the plain window around
    it (the type-through cache's key), with no parse and no prompt build."""

    lines: list[str]  # the document's lines, a selected popup item inserted
    line: int
    column: int  # the cursor, after the popup item's text
    context: CursorContext
    window: CursorWindow
    start_column: int  # where the suggestion's range starts (a selected popup item's start)
    head: str  # the selected popup item's text, which the suggestion extends


def quick_state(
    lines: Sequence[str], line: int, column: int, selected: tuple[int, str] | None = None
) -> QuickState:
    """``lines`` keep their terminators; columns count code points. ``selected`` is a popup
    item the suggestion must extend: (its start column, its text), as if already inserted."""
    lines = list(lines)
    start_column = column
    if selected is not None:
        start_column, selected_text = selected
        entry = lines[line]
        lines[line] = entry[:start_column] + selected_text + entry[column:]
        column = start_column + len(selected_text)
    content = line_content(lines[line])
    context = CursorContext(
        line_before=content[:column],
        line_after=content[column:],
        next_lines=tuple(line_content(e) for e in lines[line + 1 : line + 4]),
        previous_line=_previous_code_line(lines, line),
    )
    window = cursor_window(lines, line, column)
    return QuickState(
        lines, line, column, context, window, start_column, content[start_column:column]
    )


@dataclass(frozen=True)
class CursorState:
    """Everything the pipeline derives from the text and the cursor, before any model call."""

    context: CursorContext
    window: CursorWindow  # the prompt's window
    multiline: bool
    start_column: int  # where the suggestion's range starts (a selected popup item's start)
    head: str  # the selected popup item's text, which the suggestion extends
    extra_context: tuple[tuple[str, str], ...] = ()
    key: CursorWindow | None = None  # the type-through cache's key (the plain window)
    # The whitespace between the prompt's prefix and the cursor (see ``natural_boundary``):
    # the model writes it, and its answer must start on a new line.
    boundary: str = ""
    language_id: str = ""  # what the syntax checks parse the text as
    file_path: str = ""  # the document's path as the prompt names it

    @property
    def cache_key(self) -> CursorWindow:
        return self.key or self.window

    def request(
        self,
        settings: CompletionSettings,
        key: str,
        file_path: str | None = None,
        heal: bool = True,
    ) -> GenerationRequest:
        return infill_request(
            self.window,
            self.extra_context,
            self.file_path if file_path is None else file_path,
            key,
            settings.max_tokens_block if self.multiline else settings.max_tokens_line,
            stop=() if self.multiline else ("\n",),
            stop_after_text=self.context.on_blank_line,
            stop_at_block_end=self.multiline,
            predict_time_budget_ms=settings.predict_time_budget_ms,
            heal=heal,
            lead=line_break_lead(self.boundary),
        )


def cursor_state(
    lines: Sequence[str],
    line: int,
    column: int,
    selected: tuple[int, str] | None = None,
    language_id: str = "",
    prompt_window: PromptWindow | None = None,
    quick: QuickState | None = None,
    file_path: str = "",
) -> CursorState:
    """The full state: the prompt's window (``prompt_window`` builds it; default: the plain
    window) and, on a blank line, the syntax tree's answer to one line or a block. ``quick``:
    the quick state already computed for the same arguments. Computed once per request: the
    model call and post-processing both read it."""
    quick = quick or quick_state(lines, line, column, selected)
    built = prompt_window(quick.lines, quick.line, quick.column) if prompt_window else None
    window = built.window if built is not None else quick.window
    context = quick.context
    empty_block = (
        starts_empty_block(language_id, *local_text(window)) if context.on_blank_line else None
    )
    window, boundary = natural_boundary(window, context)
    return CursorState(
        context,
        window,
        wants_multiline(context, empty_block),
        quick.start_column,
        quick.head,
        built.extra_context if built is not None else (),
        quick.window,
        boundary,
        language_id,
        file_path,
    )


def natural_boundary(window: CursorWindow, context: CursorContext) -> tuple[CursorWindow, str]:
    """On a blank line, the prompt's prefix ends after the last non-blank character before the
    cursor, not in the line break and indentation: a prefix ending in a newline or in spaces is
    a token boundary the model rarely saw in training (asked that way it often answers a line
    other than the one it would write itself). The model then writes the line break and the
    indentation; ``at_cursor`` keeps what continues the text actually there."""
    if not context.on_blank_line:
        return window, ""
    kept = window.prefix.rstrip(" \t\r\n")
    if not kept or "\n" not in window.prefix[len(kept) :]:
        return window, ""
    return replace(window, prefix=kept), window.prefix[len(kept) :]


def line_break_lead(boundary: str) -> str:
    """What an answer from the natural boundary must start with: the line break (after any
    spaces ending the line above), since the suggestion is for the blank line; without the
    constraint the model sometimes goes on with the line above, which ``at_cursor`` drops."""
    rest = boundary.lstrip(" \t")
    return "\n" if rest.startswith("\n") else ""


def at_cursor(raw: str, boundary: str) -> str | None:
    """The model's answer from the natural boundary, as text at the cursor: it must start on a
    new line (an answer that goes on with the line above is not for this line); its leading
    blank lines and the indentation the cursor already has are handled by post-processing."""
    if not boundary:
        return raw
    start = len(raw) - len(raw.lstrip(" \t"))
    if not raw[start:].startswith(("\n", "\r")):
        return None
    return raw[start:].replace("\r\n", "\n").replace("\r", "\n")


def local_text(window: CursorWindow) -> tuple[str, str]:
    """The window's text near the cursor, for syntax checks (a budget of 128k tokens can put
    whole files in the window; parsing them per keystroke would cost tens of milliseconds)."""
    prefix, suffix = window.prefix, window.suffix
    start = len(prefix)
    for _ in range(LOCAL_LINES_ABOVE):
        start = prefix.rfind("\n", 0, start)
        if start < 0:
            break
    end = -1
    for _ in range(LOCAL_LINES_BELOW):
        end = suffix.find("\n", end + 1)
        if end < 0:
            break
    return prefix[start + 1 :], suffix if end < 0 else suffix[: end + 1]


def _previous_code_line(lines: Sequence[str], line: int, limit: int = 16) -> str:
    for index in range(line - 1, max(-1, line - 1 - limit), -1):
        if (content := line_content(lines[index])).strip():
            return content
    return ""


def next_line_indent(line: str) -> str:
    """The indentation an editor gives the line after ``line``: the same, one level deeper after
    a block opener (a tab when the line is indented with tabs, else four spaces)."""
    indent = line[: len(line) - len(line.lstrip())]
    if line.rstrip().endswith(BLOCK_OPENERS):
        indent += "\t" if indent.startswith("\t") else "    "
    return indent


def finish(
    raw: str,
    state: CursorState,
    language_id: str | None = None,
    multiline: bool | None = None,
    disabled: frozenset[str] = frozenset(),
) -> str | None:
    """The text to show for raw model output, or None: the rules of ``postprocess``, then the
    syntax check (a suggestion may not add syntax errors around the cursor). ``language_id``
    and ``multiline`` default to the state's; ``disabled`` names rules to skip,
    ``"syntax_check"`` included."""
    language_id = state.language_id if language_id is None else language_id
    multiline = state.multiline if multiline is None else multiline
    from_cursor = at_cursor(raw, state.boundary)
    if from_cursor is None:
        return None
    text = clean(from_cursor, state.context, multiline, disabled)
    if text is None:
        return None
    prefix, suffix = local_text(state.window)
    prefix += state.boundary  # the text around the cursor as it is
    checked = text if multiline else text + open_block_placeholder(language_id, prefix, text)
    if "syntax_check" not in disabled and not keeps_syntax(language_id, prefix, checked, suffix):
        return None
    return text


def open_block_placeholder(language_id: str, prefix: str, line: str) -> str:
    """What the syntax check adds after a one-line suggestion that opens a block (``for x in
    xs:``, ``if (ready) {``): the body the user is about to write. Without it the line would
    count as a syntax error and a blank line's most natural answer would never be shown."""
    if "\n" in line or not line.strip():
        return ""
    ending = line.rstrip()
    if language_id == "python" and ending.endswith(":"):
        written = prefix[prefix.rfind("\n") + 1 :] + line
        indent = written[: len(written) - len(written.lstrip())]
        return "\n" + indent + ("\t" if indent.startswith("\t") else "    ") + "pass"
    if ending.endswith("{"):
        return "}"
    return ""
