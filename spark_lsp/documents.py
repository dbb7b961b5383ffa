"""Incremental text store for open documents.

The store keeps each document as a list of lines (each line keeps its own terminator), so a
keystroke-sized edit touches one or two list entries instead of rebuilding the whole text.
Positions arrive in the negotiated LSP position encoding (utf-8, utf-16 or utf-32 code units) and
are converted per line. The module has no LSP types in it: the server converts lsprotocol objects
at its edge.

Threads: the store is changed on the event loop only. A ``DocumentSnapshot`` is immutable (a
tuple of lines), so worker threads and ``asyncio.to_thread`` helpers read snapshots, never the
store.

Invariants of ``TextDocument._lines``:
- concatenated, the lines are exactly the document text;
- every entry except the last ends with one line break (``\\r\\n``, ``\\r`` or ``\\n``);
  the last has none;
- no entry ending in a lone ``\\r`` is followed by one starting with ``\\n`` (that is one break).
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

logger = logging.getLogger(__name__)

_LINE_BREAK = re.compile(r"\r\n|\r|\n")

# Bounds: a document of more characters than this is refused (or goes out of sync when an edit
# takes it there); at most this many documents are open at once.
MAX_DOCUMENT_CHARACTERS = 16 * 1024 * 1024
MAX_OPEN_DOCUMENTS = 1000


class PositionEncoding(StrEnum):
    """What a position's ``character`` counts: UTF-8 bytes, UTF-16 code units or code points."""

    UTF8 = "utf-8"
    UTF16 = "utf-16"
    UTF32 = "utf-32"


@dataclass(frozen=True, slots=True)
class Position:
    """A zero-based line and a column counted in some position encoding."""

    line: int
    character: int


@dataclass(frozen=True, slots=True)
class Range:
    start: Position
    end: Position


@dataclass(frozen=True, slots=True)
class TextChange:
    """One content change: replace ``range`` with ``text``; no range means the whole document."""

    text: str
    range: Range | None = None


class DocumentError(Exception):
    """Base class of the store's errors; the message is meant for the user."""


class UnknownDocument(DocumentError):
    def __init__(self, uri: str) -> None:
        super().__init__(f"document {uri} is not open (send textDocument/didOpen first)")
        self.uri = uri


class InvalidChange(DocumentError):
    """A change that cannot be applied: malformed or out of range. Nothing of it was applied."""

    # True only for the change that took the document out of sync, so it is reported once.
    newly_out_of_sync = False


class DocumentRefused(DocumentError):
    """A document the store will not hold (too large, or too many open)."""


class DocumentOutOfSync(DocumentError):
    def __init__(self, uri: str, reason: str) -> None:
        super().__init__(
            f"document {uri} is out of sync ({reason}); reopen it or send a full-text change"
        )
        self.uri = uri
        self.reason = reason


def split_lines(text: str) -> list[str]:
    """Split ``text`` into lines that keep their terminators; the last entry has none (maybe "")."""
    lines: list[str] = []
    start = 0
    for match in _LINE_BREAK.finditer(text):
        lines.append(text[start : match.end()])
        start = match.end()
    lines.append(text[start:])
    return lines


def _terminator_length(line: str) -> int:
    if line.endswith("\r\n"):
        return 2
    if line.endswith(("\n", "\r")):
        return 1
    return 0


def line_content(line: str) -> str:
    """A stored line without its terminator."""
    return line[: len(line) - _terminator_length(line)]


def units_to_code_points(content: str, units: int, encoding: PositionEncoding) -> int:
    """Convert a column in ``encoding`` units to a code-point index into ``content``.

    A column past the end of the line is clamped to the line's length, as the LSP specification
    asks. A column that falls inside one character (half a surrogate pair, the middle of a UTF-8
    sequence) raises InvalidChange.
    """
    if units < 0:
        raise InvalidChange(f"negative character offset {units}")
    if encoding is PositionEncoding.UTF32 or content.isascii():
        return min(units, len(content))
    if encoding is PositionEncoding.UTF16:
        encoded = content.encode("utf-16-le", "surrogatepass")
        width = 2
    else:
        encoded = content.encode("utf-8", "surrogatepass")
        width = 1
    if units * width >= len(encoded):
        return len(content)
    try:
        return len(encoded[: units * width].decode("utf-16-le" if width == 2 else "utf-8"))
    except UnicodeDecodeError:
        raise InvalidChange(
            f"character offset {units} ({encoding}) falls inside a character"
        ) from None


def code_points_to_units(content: str, code_points: int, encoding: PositionEncoding) -> int:
    """Convert a code-point index into ``content`` to a column in ``encoding`` units."""
    head = content[:code_points]
    if encoding is PositionEncoding.UTF32 or head.isascii():
        return len(head)
    if encoding is PositionEncoding.UTF16:
        return len(head.encode("utf-16-le", "surrogatepass")) // 2
    return len(head.encode("utf-8", "surrogatepass"))


def resolve_position(
    lines: list[str] | tuple[str, ...], position: Position, encoding: PositionEncoding
) -> tuple[int, int]:
    """Resolve a position to (line, code-point column), validating it against ``lines``.

    ``(line_count, 0)`` is accepted as the end of the document, since some clients address the
    end that way.
    """
    line, character = position.line, position.character
    if line == len(lines) and character == 0:
        return line - 1, len(line_content(lines[line - 1]))
    if not 0 <= line < len(lines):
        raise InvalidChange(f"line {line} is out of range (the document has {len(lines)} lines)")
    return line, units_to_code_points(line_content(lines[line]), character, encoding)


@dataclass(slots=True)
class _Undo:
    first: int
    removed: list[str]
    inserted_count: int


@dataclass(frozen=True, slots=True)
class DocumentSnapshot:
    """An immutable view of a document at one version, for request handlers and the engine."""

    uri: str
    language_id: str
    version: int
    lines: tuple[str, ...]
    # Which opening of the document this is (the store counts them): a document closed and
    # opened again at the same version holds other text, and an edit computed on the old one
    # must not leave the server.
    generation: int = 0
    _text: list[str] = field(default_factory=list, repr=False, compare=False)

    @property
    def text(self) -> str:
        if not self._text:
            self._text.append("".join(self.lines))
        return self._text[0]

    @property
    def line_count(self) -> int:
        return len(self.lines)

    def line(self, index: int) -> str:
        return line_content(self.lines[index])

    def to_code_points(self, position: Position, encoding: PositionEncoding) -> tuple[int, int]:
        return resolve_position(self.lines, position, encoding)

    def to_units(self, line: int, code_point: int, encoding: PositionEncoding) -> int:
        return code_points_to_units(line_content(self.lines[line]), code_point, encoding)

    def offset_at(self, line: int, code_point: int) -> int:
        """Offset into ``text`` of a (line, code-point column) position."""
        return sum(len(entry) for entry in self.lines[:line]) + code_point


class TextDocument:
    """One open document: its lines, version and synchronisation state."""

    def __init__(
        self, uri: str, language_id: str, version: int, text: str, generation: int = 0
    ) -> None:
        self.uri = uri
        self.language_id = language_id
        self.version = version
        self.generation = generation
        self._lines = split_lines(text)
        self._characters = len(text)
        self.out_of_sync_reason: str | None = None

    @property
    def line_count(self) -> int:
        return len(self._lines)

    @property
    def text(self) -> str:
        return "".join(self._lines)

    def line(self, index: int) -> str:
        return line_content(self._lines[index])

    def snapshot(self) -> DocumentSnapshot:
        if self.out_of_sync_reason is not None:
            raise DocumentOutOfSync(self.uri, self.out_of_sync_reason)
        return DocumentSnapshot(
            self.uri, self.language_id, self.version, tuple(self._lines), self.generation
        )

    def to_code_points(self, position: Position, encoding: PositionEncoding) -> tuple[int, int]:
        return resolve_position(self._lines, position, encoding)

    def apply_changes(
        self, changes: Iterable[TextChange], version: int, encoding: PositionEncoding
    ) -> None:
        """Apply all ``changes`` in order, or none of them.

        On an invalid change the document is rolled back to its state before this call, marked
        out of sync, and InvalidChange is raised. A full-text change with a newer version
        brings an out-of-sync document back in sync; incremental changes to an out-of-sync
        document are skipped. Any change whose version does not follow the document's (a
        full-text one included) marks it out of sync: edits computed for that version would
        otherwise land on other text.
        """
        undo_log: list[_Undo] = []
        was_out_of_sync = self.out_of_sync_reason
        characters = self._characters
        changes = list(changes)
        try:
            if version <= self.version:
                raise InvalidChange(
                    f"version {version} does not follow version {self.version}: a change was "
                    "sent twice or out of order"
                )
            for change in changes:
                if change.range is None:
                    undo_log.append(self._replace_all(change.text))
                    self.out_of_sync_reason = None
                elif self.out_of_sync_reason is None:
                    undo_log.append(self._replace_range(change.range, change.text, encoding))
                if self._characters > MAX_DOCUMENT_CHARACTERS:
                    raise InvalidChange(
                        f"the document would exceed {MAX_DOCUMENT_CHARACTERS:,} characters"
                    )
        except InvalidChange as error:
            for undo in reversed(undo_log):
                self._lines[undo.first : undo.first + undo.inserted_count] = undo.removed
            self._characters = characters
            self.out_of_sync_reason = str(error)
            raise
        if self.out_of_sync_reason is None:
            if was_out_of_sync is not None:
                logger.info("%s is back in sync at version %d", self.uri, version)
            self.version = version

    def _replace_all(self, text: str) -> _Undo:
        removed = self._lines
        self._lines = split_lines(text)
        self._characters = len(text)
        # The undo slice covers the whole list, so restoring it restores the old lines exactly.
        return _Undo(0, removed, len(self._lines))

    def _replace_range(self, change_range: Range, text: str, encoding: PositionEncoding) -> _Undo:
        start_line, start_col = self.to_code_points(change_range.start, encoding)
        end_line, end_col = self.to_code_points(change_range.end, encoding)
        if (end_line, end_col) < (start_line, start_col):
            raise InvalidChange(
                f"range end {end_line}:{end_col} comes before its start {start_line}:{start_col}"
            )
        # A lone "\r" before the edit may join a "\n" the edit puts first: take that line in.
        first = start_line
        if first > 0 and self._lines[first - 1].endswith("\r"):
            first -= 1
        head = "".join(self._lines[first:start_line]) + self._lines[start_line][:start_col]
        tail = self._lines[end_line][end_col:]
        replacement = split_lines(head + text + tail)
        if end_line < len(self._lines) - 1:
            # The region ends with a line break, so its last split entry is the empty remainder.
            replacement.pop()
        removed = self._lines[first : end_line + 1]
        self._lines[first : end_line + 1] = replacement
        self._characters += sum(map(len, replacement)) - sum(map(len, removed))
        return _Undo(first, removed, len(replacement))


class DocumentStore:
    """All open documents, keyed by URI. Owned by the event loop (the didOpen, didChange and
    didClose handlers); other threads get immutable ``DocumentSnapshot``s, never a document."""

    def __init__(self) -> None:
        self._documents: dict[str, TextDocument] = {}
        self._openings = itertools.count(1)

    def __contains__(self, uri: str) -> bool:
        return uri in self._documents

    def __len__(self) -> int:
        return len(self._documents)

    def open(self, uri: str, language_id: str, version: int, text: str) -> TextDocument:
        """Open (or reopen) a document; DocumentRefused when it is too large or too many are
        open."""
        if len(text) > MAX_DOCUMENT_CHARACTERS:
            raise DocumentRefused(
                f"{uri} has {len(text):,} characters, more than the {MAX_DOCUMENT_CHARACTERS:,} "
                "spark-lsp holds; it gets no suggestions"
            )
        if uri not in self._documents and len(self._documents) >= MAX_OPEN_DOCUMENTS:
            raise DocumentRefused(
                f"{MAX_OPEN_DOCUMENTS} documents are open already; {uri} gets no suggestions "
                "(close some)"
            )
        if uri in self._documents:
            logger.info("%s opened again; replacing its text", uri)
        document = TextDocument(uri, language_id, version, text, next(self._openings))
        self._documents[uri] = document
        return document

    def holds(self, uri: str, version: int | None, generation: int) -> bool:
        """Whether the document is open, in sync and still the text of ``version`` in that
        opening: the check before an edit computed on it leaves the server."""
        document = self._documents.get(uri)
        return (
            document is not None
            and document.out_of_sync_reason is None
            and document.version == version
            and document.generation == generation
        )

    def change(
        self, uri: str, version: int, changes: Iterable[TextChange], encoding: PositionEncoding
    ) -> TextDocument:
        document = self.document(uri)
        was_in_sync = document.out_of_sync_reason is None
        try:
            document.apply_changes(changes, version, encoding)
        except InvalidChange as error:
            if was_in_sync:
                error.newly_out_of_sync = True
                logger.warning(
                    "%s is out of sync: rejected change to version %d: %s", uri, version, error
                )
            raise
        return document

    def snapshots(self) -> list[DocumentSnapshot]:
        """The open documents that are in sync."""
        return [
            document.snapshot()
            for document in self._documents.values()
            if document.out_of_sync_reason is None
        ]

    def mark_out_of_sync(self, uri: str, reason: str) -> bool:
        """Mark an open document out of sync; returns False when the URI is not open."""
        document = self._documents.get(uri)
        if document is None:
            return False
        if document.out_of_sync_reason is None:
            logger.warning("%s is out of sync: %s", uri, reason)
            document.out_of_sync_reason = reason
        return True

    def close(self, uri: str) -> None:
        if self._documents.pop(uri, None) is None:
            raise UnknownDocument(uri)

    def get(self, uri: str) -> TextDocument | None:
        return self._documents.get(uri)

    def document(self, uri: str) -> TextDocument:
        try:
            return self._documents[uri]
        except KeyError:
            raise UnknownDocument(uri) from None

    def snapshot(self, uri: str) -> DocumentSnapshot:
        """The document's current text; raises if it is unknown or out of sync."""
        return self.document(uri).snapshot()
