"""Evidence selection: the best sentences of the retrieved chunks, each with its citation.

The bundled model reads about 45 prompt tokens a second here, so the prompt carries a few sharp
passages (the best-matching sentence of each of the top chunks, with whole neighbouring
sentences while they fit) instead of whole chunks. Passages are whole sentences of the chunk's
body: never cut with `…`, never holding a heading (the heading is the citation's label).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ingest.chunking import split_sentences as split_spans
from ingest.text import tokenize

from .retrieve import Hit
from .sentences import Sentence, body_sentences, join_sentences, overlap


@dataclass
class Evidence:
    n: int  # citation number shown to the model and the user
    hit: Hit
    quote: str  # the passage given to the model, copied from the chunk
    score: float  # retrieval score of the chunk
    anchor: str = ""  # the quote's best-matching sentence: the citation gives its page
    sentences: list[Sentence] = field(default_factory=list)  # the chunk's body sentences, whole
    # the body sentences the passage goes on with in the next chunk of the same section (a
    # chunk ends where the index split the section, not where the answer ends)
    following: list[str] = field(default_factory=list)

    @property
    def doc(self) -> str:
        return self.hit.chunk.doc

    @property
    def section(self) -> str:
        return self.hit.chunk.section

    @property
    def page(self) -> int:
        """The page of the quote's best-matching sentence (a chunk may run over page breaks)."""
        return quote_page(self.hit.chunk, self.anchor or self.quote, self.sentences)

    @property
    def lang(self) -> str:
        return self.hit.chunk.lang

    def citation(self) -> dict:
        c = self.hit.chunk
        return {"n": self.n, "doc": c.doc, "section": c.section, "page": self.page, "chunk_id": c.id, "quote": self.quote}


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


def best_passage(sentences: list[Sentence], query_tokens: set[str], max_chars: int) -> tuple[str, str]:
    """The chunk's best-matching body sentence, whole, widened with whole neighbouring sentences
    while they fit in max_chars; and that sentence itself (the anchor of the citation's page).
    Headings never enter a passage and nothing is cut: a long best sentence is kept whole."""
    sents = [s.text for s in sentences]
    if not sents:
        return "", ""
    scores = [overlap(query_tokens, s) for s in sents]
    i = max(range(len(sents)), key=lambda j: (scores[j], -j))
    lo, hi = i, i + 1
    size = len(sents[i])
    while True:  # widen towards the better-matching neighbour while it fits
        options = []
        if hi < len(sents) and size + len(sents[hi]) <= max_chars:
            options.append((scores[hi], 1, "after"))
        if lo > 0 and size + len(sents[lo - 1]) <= max_chars:
            options.append((scores[lo - 1], 0, "before"))
        if not options:
            break
        side = max(options)[2]
        if side == "after":
            size, hi = size + len(sents[hi]), hi + 1
        else:
            size, lo = size + len(sents[lo - 1]), lo - 1
    return join_sentences(sents[lo:hi]), sents[i]


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


def select_evidence(hits: list[Hit], question: str, translation: str | None, max_evidence: int,
                    max_chars: int, titles: dict[str, list[str]] | None = None,
                    chunks: list | None = None) -> list[Evidence]:
    """The best passage of each of the first hits that has body text; `titles`: every section
    title of each document, so a heading restated inside a body is recognised; `chunks`: the
    chunk store, for the sentences a passage goes on with in the next chunk."""
    q_tokens = question_tokens(question, translation)
    out: list[Evidence] = []
    for h in hits:
        if len(out) == max_evidence:
            break
        # a Chinese character costs the model about as much as three English letters
        limit = max_chars // 2 if h.chunk.lang == "zh" else max_chars
        sents = body_sentences(h.chunk, (titles or {}).get(h.chunk.doc))
        quote, anchor = best_passage(sents, q_tokens, limit)
        # a chunk of nothing but headings (a contents page) gives no passage; neither does one
        # whose passage an earlier chunk gave (the same text indexed twice, or a chunk's
        # overlap sentence): the slot goes to the next chunk
        if quote and all(quote != e.quote for e in out):
            out.append(Evidence(n=len(out) + 1, hit=h, quote=quote, score=h.score, anchor=anchor, sentences=sents,
                                following=following_sentences(h, sents, chunks, (titles or {}).get(h.chunk.doc))))
    return out


def question_tokens(question: str, translation: str | None) -> set[str]:
    return set(tokenize(question, stopwords=True)) | (set(tokenize(translation, stopwords=True)) if translation else set())
