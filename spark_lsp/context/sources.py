"""The prompt's extra context, by source: one entry each, in order of priority (the first is
chosen first and dropped last), with where its chunks sit in the prompt and how they are found.
Adding a source is adding an entry here; ``check`` runs at start-up and refuses a list the
prompt builder could not order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from spark_lsp.context.definitions import ImportedDefinitions
from spark_lsp.context.recent import BLOCK_LINES as RECENT_BLOCK_LINES
from spark_lsp.context.recent import EditedBlock
from spark_lsp.context.settings import ContextSettings
from spark_lsp.context.similar import SimilarSnippets
from spark_lsp.documents import DocumentSnapshot
from spark_lsp.uris import uri_to_path

QUERY_LINES = 24  # lines above the cursor that similar snippets are compared with


@dataclass(frozen=True)
class ExtraChunk:
    source: str  # the name of its entry in SOURCES
    path: str
    text: str


@dataclass(frozen=True)
class Gathering:
    """What a source may look at for one cursor (read on a worker thread: copies only)."""

    snapshot: DocumentSnapshot
    line: int
    documents: Mapping[str, DocumentSnapshot]  # the open documents that are not private
    recent_blocks: Sequence[EditedBlock]
    settings: ContextSettings
    similar: SimilarSnippets
    definitions: ImportedDefinitions
    display_path: Callable[[str], str]


@dataclass(frozen=True)
class ContextSource:
    name: str
    # Where its chunks sit in the prompt, lowest first: the most stable first, so that a
    # change of the less stable ones keeps the KV cache of the text before them.
    layout_rank: int
    gather: Callable[[Gathering], Iterable[ExtraChunk]]
    # Its chunks also stay within ``context.definitionsTokens`` (a share of their own).
    own_allowance: bool = False


def _recent(found: Gathering) -> Iterable[ExtraChunk]:
    """Recently edited places, outside the prompt's own window of the document."""
    far_first = found.line - found.settings.far_lines_above
    far_last = found.line + found.settings.far_lines_below
    for block in found.recent_blocks:
        document = found.documents.get(block.uri)
        if document is None:
            continue
        if block.uri == found.snapshot.uri and far_first <= block.first_line <= far_last:
            continue  # the prompt's own prefix or suffix may hold it
        text = "".join(document.lines[block.first_line : block.first_line + RECENT_BLOCK_LINES])
        if text.strip():
            yield ExtraChunk("recent", found.display_path(block.uri), text)


def _similar(found: Gathering) -> Iterable[ExtraChunk]:
    """Snippets of other open documents like the code above the cursor."""
    if not found.settings.similar_snippets:
        return
    snapshot = found.snapshot
    query = "".join(snapshot.lines[max(0, found.line - QUERY_LINES) : found.line + 1])
    others = (
        (document.uri, document.version, document.lines)
        for uri, document in sorted(found.documents.items())
        if uri != snapshot.uri
    )
    for snippet in found.similar.best(query, others, found.settings.similar_snippets):
        yield ExtraChunk("similar", found.display_path(snippet.uri), snippet.text)


def _definitions(found: Gathering) -> Iterable[ExtraChunk]:
    """Outlines of the workspace modules the document imports."""
    if not found.settings.definitions_tokens:
        return
    snapshot = found.snapshot
    current = uri_to_path(snapshot.uri)
    for definition in found.definitions.of(
        snapshot.language_id, snapshot.text, current.resolve() if current else None
    ):
        yield ExtraChunk("definitions", definition.path, definition.outline)


SOURCES: tuple[ContextSource, ...] = (
    ContextSource("recent", 2, _recent),
    ContextSource("similar", 1, _similar),
    ContextSource("definitions", 0, _definitions, own_allowance=True),
)
_BY_NAME = {source.name: source for source in SOURCES}


def source_of(chunk: ExtraChunk) -> ContextSource:
    source = _BY_NAME.get(chunk.source)
    if source is None:
        raise ValueError(f"a context chunk from {chunk.source!r}, which is not in SOURCES")
    return source


def priority(chunk: ExtraChunk) -> int:
    """Lower is chosen first and dropped last."""
    return SOURCES.index(source_of(chunk))


def layout_rank(chunk: ExtraChunk) -> int:
    return source_of(chunk).layout_rank


def check(sources: Sequence[ContextSource] = SOURCES) -> None:
    """Refuse, at start-up, a list the builder could not order: two sources of one name, or
    two at one place in the prompt."""
    names = [source.name for source in sources]
    ranks = sorted(source.layout_rank for source in sources)
    if len(set(names)) != len(names):
        raise ValueError(f"context sources: a name is used twice: {names}")
    if ranks != list(range(len(sources))):
        raise ValueError(f"context sources: layout ranks must be 0..{len(sources) - 1}: {ranks}")
