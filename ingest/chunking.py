"""Sections -> chunks: sentence-aligned, sized in tokens (ingest.text.count_tokens), never
crossing a section. Each chunk's text is an exact slice of the document's cleaned text
(`sections.document_text`), so `start`/`end` point at it.
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

from .model import Chunk, ChunkSettings, Document, Section
from .headings import chapter_alias
from .sections import document_text, title_offset
from .text import count_tokens, detect_lang

_CLOSERS = "”’」』）)》\"'"
_BOUNDARY = re.compile(rf"\n|[。！？；]+[{_CLOSERS}]*|[.!?]+[{_CLOSERS}]*(?=\s|$)")
_CLAUSE = re.compile(r"[，,、；;：:]+\s*")
# Words after which a full stop does not end the sentence.
ABBREVIATIONS = frozenset(
    """e.g i.e etc vs cf al fig figs no nos art arts para paras vol vols pp p ed eds rev dr mr mrs ms
    prof st jr sr inc ltd co corp dept approx est jan feb mar apr jun jul aug sep sept oct nov dec
    u.s u.k e.u u.n sec chap ch""".split()
)
_MAY_END = frozenset("etc al inc ltd co corp jr sr".split())  # ... before a capital: a sentence end
Span = tuple[int, int]


@dataclass
class _Unit:
    """What becomes one run of chunks: a section with body text, or a heading-only subtree
    whose titles are folded in as outline lines."""

    section: Section
    title: Span | None  # the section's title line in the document text
    segments: list[Span] = field(default_factory=list)  # sentences / outline lines, in order
    table: bool = False  # one Markdown table block (ingest.tables): exactly one chunk


# A Markdown table block (ingest.tables): an optional caption line, then rows "| ... |".
_TABLE_BLOCK = re.compile(r"(?m)^(?:(?:表|附表|Table|TABLE|Tab\.)[^\n]*\n)?(?:\|[^\n]*\|[ \t]*(?:\n|$))+")


def has_table_block(text: str) -> bool:
    """The text holds a Markdown table block (rows "| ... |")."""
    return _TABLE_BLOCK.search(text) is not None


def split_sentences(text: str, base: int = 0) -> list[Span]:
    """Sentence spans (offsets + base), whitespace trimmed. Ends at 。！？；, at . ! ? followed
    by whitespace (not after e.g./U.S./Rev. or before a lower-case word), and at newlines.
    A Markdown table block (caption, header, rows) is one span: a row means nothing without
    the header and caption above it."""
    spans: list[Span] = []
    pos = 0
    for m in _TABLE_BLOCK.finditer(text):
        spans.extend(_split_prose(text[pos:m.start()], base + pos))
        _add(spans, text, m.start(), m.end(), base)
        pos = m.end()
    spans.extend(_split_prose(text[pos:], base + pos))
    return spans


def _split_prose(text: str, base: int) -> list[Span]:
    spans: list[Span] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        if m.group()[0] == "." and not _ends_sentence_at(text, m.start(), m.end()):
            continue
        _add(spans, text, start, m.end() if m.group() != "\n" else m.start(), base)
        start = m.end()
    _add(spans, text, start, len(text), base)
    return spans


def _ends_sentence_at(text: str, dot: int, end: int) -> bool:
    word = re.search(r"([A-Za-z][A-Za-z.]*)$", text[:dot])
    after = text[end:].lstrip(" \t")
    if after and after[0].islower():
        return False
    if word:
        w = word.group(1).lower()
        if w in ABBREVIATIONS or (len(w) == 1 and text[dot - 1].isupper()):
            return after.startswith("\n") or not after or (w in _MAY_END and after[0].isupper())
    return True


def _add(spans: list[Span], text: str, a: int, b: int, base: int) -> None:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    if b > a:
        spans.append((base + a, base + b))


def split_long(full: str, span: Span, max_tokens: int) -> list[Span]:
    """Split a sentence longer than max_tokens at clause punctuation, then hard by length."""
    a, b = span
    if count_tokens(full[a:b]) <= max_tokens:
        return [span]
    pieces: list[Span] = []
    start = a
    for m in _CLAUSE.finditer(full, a, b):
        if m.end() < b:
            pieces.append((start, m.end()))
            start = m.end()
    pieces.append((start, b))
    out: list[Span] = []
    cur: Span | None = None
    for p in pieces:
        if cur and count_tokens(full[cur[0]:p[1]]) <= max_tokens:
            cur = (cur[0], p[1])
            continue
        if cur:
            out.append(cur)
        cur = p
    if cur:
        out.append(cur)
    result: list[Span] = []
    for p in out:
        result.extend(_hard_split(full, p, max_tokens) if count_tokens(full[p[0]:p[1]]) > max_tokens else [p])
    return [(x, y) for x, y in (_trim(full, p) for p in result) if y > x]


def _hard_split(full: str, span: Span, max_tokens: int) -> list[Span]:
    a, b = span
    out = []
    while a < b:
        n = b - a
        while n > 1 and count_tokens(full[a:a + n]) > max_tokens:
            n = max(1, int(n * 0.8))
        cut = a + n
        if cut < b:  # do not cut inside a Latin word
            ws = full.rfind(" ", a + 1, cut + 1)
            if ws > a and full[cut - 1].isalnum() and full[cut].isalnum() and full[cut - 1].isascii():
                cut = ws
        out.append((a, cut))
        a = cut
    return out


def _trim(full: str, span: Span) -> Span:
    a, b = span
    while a < b and full[a].isspace():
        a += 1
    while b > a and full[b - 1].isspace():
        b -= 1
    return a, b


def _units(sections: list[Section]) -> list[_Unit]:
    parent: dict[int, int | None] = {}
    stack: list[int] = []
    for k, s in enumerate(sections):
        while stack and sections[stack[-1]].level >= s.level:
            stack.pop()
        parent[k] = stack[-1] if stack and s.level > 0 else None
        if s.level > 0:
            stack.append(k)
    empty_subtree = [False] * len(sections)
    for k in range(len(sections) - 1, -1, -1):
        s = sections[k]
        kids_empty = all(empty_subtree[j] for j in range(k + 1, len(sections)) if parent[j] == k)
        empty_subtree[k] = not s.text and kids_empty

    def is_ancestor(a: int, k: int) -> bool:
        p = parent[k]
        while p is not None:
            if p == a:
                return True
            p = parent[p]
        return False

    units: list[_Unit] = []
    cur: int | None = None
    for k, s in enumerate(sections):
        t0 = title_offset(s)
        title = (t0, t0 + len(s.title)) if s.title else None
        if s.text and s.tables:  # prose runs and table blocks in order; a chunk never spans a table
            units.extend(_table_units(s, title))
            cur = k
        elif s.text:
            units.append(_Unit(s, title, split_sentences(s.text, s.offset)))
            cur = k
        elif empty_subtree[k] and title and cur is not None and is_ancestor(cur, k) and units and not units[-1].table:
            units[-1].segments.append(title)  # fold the heading-only subsection into its parent
        elif empty_subtree[k] and title:
            units.append(_Unit(s, title, []))
            cur = k
        # else: a heading with no body of its own but content below: its title is in the path
    return units


def _table_units(s: Section, title: Span | None) -> list[_Unit]:
    """A section holding table blocks: the prose before, between and after them as separate
    units (the first with the title), each table block a unit of its own."""
    tables = [(s.offset + a, s.offset + b) for a, b in s.tables]
    sentences = [sp for sp in split_sentences(s.text, s.offset)
                 if not any(a <= sp[0] and sp[1] <= b for a, b in tables)]
    units: list[_Unit] = []
    pending: list[Span] = []
    first = True

    def flush() -> None:
        nonlocal first
        if pending:
            units.append(_Unit(s, title if first else None, list(pending)))
            first = False
            pending.clear()

    events = sorted([(sp[0], "prose", sp) for sp in sentences] + [(t[0], "table", t) for t in tables])
    for _, kind, sp in events:
        if kind == "prose":
            pending.append(sp)
        else:
            flush()
            units.append(_Unit(s, None, [sp], table=True))
    flush()
    return units


def chunk_document(doc: Document, sections: list[Section], settings: ChunkSettings) -> list[Chunk]:
    full = document_text(sections)
    page_pos: list[int] = []
    page_no: list[int] = []
    for s in sections:
        marks = ([(title_offset(s), s.page_start)] if s.title else []) + [(s.offset + o, p) for o, p in s.page_breaks]
        for o, p in marks:
            if page_pos and o < page_pos[-1]:
                continue
            page_pos.append(o)
            page_no.append(p)

    def page_at(pos: int) -> int:
        i = bisect.bisect_right(page_pos, pos) - 1
        return page_no[max(i, 0)] if page_no else 1

    def page_breaks(start: int, end: int) -> list[tuple[int, int]]:
        """(offset in the chunk, page) wherever a new page begins inside [start, end)."""
        out, cur = [], page_at(start)
        for i in range(bisect.bisect_right(page_pos, start), bisect.bisect_left(page_pos, end)):
            if page_no[i] != cur:
                out.append((page_pos[i] - start, page_no[i]))
                cur = page_no[i]
        return out

    chunks: list[Chunk] = []
    for unit in _units(sections):
        for start, end in _pack(full, unit, settings):
            text = full[start:end]
            chunks.append(Chunk(
                id=f"{doc.sha256[:12]}-{len(chunks):04d}",
                doc=doc.name,
                doc_sha256=doc.sha256,
                ordinal=len(chunks),
                section_id=unit.section.id,
                section_path=list(unit.section.path),
                page=page_at(start),
                page_end=page_at(end - 1),
                page_breaks=page_breaks(start, end),
                lang=detect_lang(text),
                start=start,
                end=end,
                text=text,
                context=chunk_context(doc, unit.section),
            ))
    return chunks


def chunk_context(doc: Document, section: Section) -> str:
    """'title › heading path (Chapter N 第N章)': what the chunk is about beyond its own words."""
    parts = [doc.title] if doc.title else []
    if section.path:
        parts.append(" > ".join(section.path))
        alias = chapter_alias(section.path[0])
        if alias:
            parts.append(alias)
    return " › ".join(parts)


def _pack(full: str, unit: _Unit, st: ChunkSettings) -> list[Span]:
    """Greedy packing of sentences into chunks of at most max_tokens (one sentence always
    fits: longer ones were split), repeating `overlap_sentences` sentences; a trailing piece
    of fewer than min_tokens new tokens joins the chunk before it. The first chunk starts
    at the section's title line. A table block is one chunk as it is (its rows were sized)."""
    if unit.table:
        return list(unit.segments)
    segs: list[Span] = []
    tok: list[int] = []
    for sp in unit.segments:
        n = count_tokens(full[sp[0]:sp[1]])
        if n <= st.max_tokens:
            segs.append(sp)
            tok.append(n)
        else:
            for piece in split_long(full, sp, st.max_tokens):
                segs.append(piece)
                tok.append(count_tokens(full[piece[0]:piece[1]]))
    if not segs:
        return [unit.title] if unit.title else []
    title_tok = count_tokens(full[unit.title[0]:unit.title[1]]) if unit.title else 0
    out: list[list[int]] = []  # [first segment, end segment (exclusive)]
    pos = 0
    while pos < len(segs):
        first = not out
        ov = 0 if first else min(st.overlap_sentences, pos)
        while ov and sum(tok[pos - ov:pos]) + tok[pos] > st.max_tokens:
            ov -= 1
        start = pos - ov
        total = sum(tok[start:pos]) + (title_tok if first else 0)
        j = pos
        while j < len(segs) and (j == pos or total + tok[j] <= st.max_tokens):
            total += tok[j]
            j += 1
        if not first and j >= len(segs) and sum(tok[pos:j]) < st.min_tokens:
            out[-1][1] = j  # a small tail joins the previous chunk
        else:
            out.append([start, j])
        pos = j
    spans = []
    for n, (a, b) in enumerate(out):
        s = unit.title[0] if n == 0 and unit.title else segs[a][0]
        spans.append((s, segs[b - 1][1]))
    return spans
