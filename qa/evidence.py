"""Where a quote stands: its page inside a chunk, and the sentences a chunk's section goes on
with in the next chunk (a chunk ends where the index split the section, not where the answer
ends). Quotes are whole body sentences (`qa.sentences`): never cut with `…`, never holding a
heading (the heading is the citation's label)."""
from __future__ import annotations

from ingest.chunking import split_sentences as split_spans

from .retrieve import Hit
from .sentences import Sentence, body_sentences


def quote_page(chunk, quote: str, sentences: list[Sentence] | None = None) -> int:
    """The page where `quote` starts in the chunk; the chunk's first page if it is not found.
    A quote is whole sentences of the chunk, so its first sentence is found in the chunk text
    (whitespace aside)."""
    if not chunk.page_breaks:
        return chunk.page
    sents = sentences if sentences is not None else body_sentences(chunk)
    first = (split_sentences(quote) or [quote])[0]
    for s in sents:
        if s.text == first or s.text.startswith(first) or first.startswith(s.text):
            return chunk.page_at(s.start)
    at = chunk.text.find(first)
    return chunk.page_at(at) if at >= 0 else chunk.page


def split_sentences(text: str) -> list[str]:
    """Sentences of a quote or answer text (the index's own splitter)."""
    return [text[a:b] for a, b in split_spans(text)]


def following_sentences(hit: Hit, own: list[Sentence], chunks: list | None,
                        titles: list[str] | None = None) -> list[str]:
    """The body sentences of the chunk after `hit`'s in the chunk store (`chunks`, which
    `Hit.row` indexes) when it goes on with the same section, without the sentences it shares
    with `own` (the hit's body sentences: the index's overlap)."""
    if not chunks or not 0 <= hit.row < len(chunks) - 1 or chunks[hit.row].id != hit.chunk.id:
        return []
    nxt = chunks[hit.row + 1]
    if nxt.doc != hit.chunk.doc or list(nxt.section_path) != list(hit.chunk.section_path):
        return []
    mine = {s.text for s in own}
    sents = [s.text for s in body_sentences(nxt, titles)]
    while sents and sents[0] in mine:
        sents.pop(0)
    return sents
