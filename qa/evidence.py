"""Evidence selection: the best sentences of the retrieved chunks, each with its citation.

A small model reads about 60 prompt tokens a second here, so the prompt carries a few sharp
passages (a sentence or two around the best match in each of the top chunks) instead of whole
chunks.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.text import tokenize

from .retrieve import Hit

_SENT_END = re.compile(r"(?<=[。！？；!?])|(?<=[.;])\s+(?=[A-Z“\"(\[])")


@dataclass
class Evidence:
    n: int  # citation number shown to the model and the user
    hit: Hit
    quote: str  # the passage given to the model, copied from the chunk
    score: float  # retrieval score of the chunk
    anchor: str = ""  # the quote's best-matching sentence: the citation gives its page

    @property
    def doc(self) -> str:
        return self.hit.chunk.doc

    @property
    def section(self) -> str:
        return self.hit.chunk.section

    @property
    def page(self) -> int:
        """The page of the quote's best-matching sentence (a chunk may run over page breaks)."""
        return quote_page(self.hit.chunk, self.anchor or self.quote)

    @property
    def lang(self) -> str:
        return self.hit.chunk.lang

    def citation(self) -> dict:
        c = self.hit.chunk
        return {"n": self.n, "doc": c.doc, "section": c.section, "page": self.page, "chunk_id": c.id, "quote": self.quote}


def quote_page(chunk, quote: str) -> int:
    """The page where `quote` starts in the chunk; the chunk's first page if it is not found.
    A quote is whole sentences of the chunk joined, so the quote itself, else its first sentence,
    is a substring of the chunk text."""
    if not chunk.page_breaks:
        return chunk.page
    q = quote.rstrip("…").strip()
    for probe in (q, (split_sentences(q) or [""])[0]):
        at = chunk.text.find(probe) if probe else -1
        if at >= 0:
            return chunk.page_at(at)
    return chunk.page


def split_sentences(text: str) -> list[str]:
    parts: list[str] = []
    for line in text.split("\n"):
        for s in _SENT_END.split(line):
            if s and s.strip():
                parts.append(s.strip())
    return parts


def _overlap(q_tokens: set[str], sentence: str) -> float:
    toks = set(tokenize(sentence, stopwords=True))
    if not toks or not q_tokens:
        return 0.0
    shared = q_tokens & toks
    # longer shared tokens (names, numbers, multi-character words) weigh more
    return sum(min(len(t), 4) for t in shared) / (sum(min(len(t), 4) for t in q_tokens) + 1e-6)


def best_passage(chunk_text: str, query_tokens: set[str], max_chars: int) -> tuple[str, str]:
    """The best-matching sentence of a chunk, widened with its neighbours up to max_chars; and
    that sentence itself (the anchor the citation's page is taken from)."""
    sents = split_sentences(chunk_text)
    if not sents:
        return chunk_text[:max_chars], ""
    scores = [_overlap(query_tokens, s) for s in sents]
    i = max(range(len(sents)), key=lambda j: (scores[j], -j))
    lo, hi = i, i + 1
    text = sents[i]
    while True:  # widen towards the better-matching neighbour while it fits
        options = []
        if hi < len(sents) and len(text) + len(sents[hi]) <= max_chars:
            options.append((scores[hi], 1, "after"))
        if lo > 0 and len(text) + len(sents[lo - 1]) <= max_chars:
            options.append((scores[lo - 1], 0, "before"))
        if not options:
            break
        side = max(options)[2]
        if side == "after":
            text, hi = _join(text, sents[hi]), hi + 1
        else:
            text, lo = _join(sents[lo - 1], text), lo - 1
    if len(text) > max_chars:
        text = text[:max_chars].rstrip() + "…"
    return text, sents[i]


def _join(a: str, b: str) -> str:
    if a and b and (ord(a[-1]) > 0x2E80 or ord(b[0]) > 0x2E80):
        return a + b
    return f"{a} {b}"


def select_evidence(hits: list[Hit], question: str, translation: str | None, max_evidence: int,
                    max_chars: int) -> list[Evidence]:
    q_tokens = set(tokenize(question, stopwords=True)) | (set(tokenize(translation, stopwords=True)) if translation else set())
    out: list[Evidence] = []
    for h in hits[:max_evidence]:
        # a Chinese character costs the model about as much as three English letters
        limit = max_chars // 2 if h.chunk.lang == "zh" else max_chars
        quote, anchor = best_passage(_body(h.chunk), q_tokens, limit)
        out.append(Evidence(n=len(out) + 1, hit=h, quote=quote, score=h.score, anchor=anchor))
    return out


def _body(chunk) -> str:
    """The chunk without its leading title line (the title travels in the citation)."""
    title = chunk.section_path[-1] if chunk.section_path else ""
    if title and chunk.text.startswith(title) and len(chunk.text) > len(title) + 1:
        return chunk.text[len(title) + 1:]
    return chunk.text


_QUOTED = re.compile(r"《([^》]{2,40})》|“([^”]{2,40})”|\"([^\"]{2,40})\"")


def missing_titles(question: str, translation: str | None, texts: list[str]) -> list[str]:
    """Titles the question quotes (《…》, “…”) that appear in none of the texts: a question about a
    document or a law the corpus never mentions cannot be answered from it."""
    hay = re.sub(r"\s+", "", "".join(texts)).lower()
    missing = []
    for m in _QUOTED.finditer(question):
        title = next(g for g in m.groups() if g)
        if re.sub(r"\s+", "", title).lower() not in hay:
            missing.append(title)
    return missing
