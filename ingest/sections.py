"""The section tree: which cleaned lines are headings, their levels, and the body under each.

A line is a heading when it carries a heading style (`headings.classify`) and the context
agrees: it is short, does not end like a sentence, does not continue a sentence broken at the
line before, and - when the document has a contents page - matches the contents outline
(which also repairs titles the text layer garbled, and joins titles wrapped over two lines).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .clean import (
    CleanedDocument,
    Line,
    clean_document,
    display_width,
    has_cjk,
    join_lines,
    join_two,
    starts_paragraph,
)
from .headings import RANK, classify, ends_clause, ends_sentence, skeleton
from .model import Document, Section
from .text import CJK

MAX_WRAP = 3  # a heading may wrap over at most this many extra lines
_MD_HEADING = re.compile(rf"^(#{{1,6}})(?:\s+|(?=[{CJK}]))(.+?)\s*#*$")  # normalize_line ate "# 标题"'s space
_EN_NUMBERED = re.compile(r"^(?:\(\w{1,5}\)|[IVXLC]+\.|\d{1,2}(?:\.\d{1,2})*\.?)\s*(\S)")


@dataclass
class Heading:
    index: int  # first line of the heading in CleanedDocument.lines
    used: int  # number of lines it takes (wrapped titles take more than one)
    title: str
    kind: str
    level: int = 0


def build_sections(doc: Document, cleaned: CleanedDocument | None = None) -> list[Section]:
    """Sections in document order: s0 is the untitled preamble (cover lines before the first
    heading) when there is one, then one section per heading."""
    cleaned = cleaned or clean_document(doc)
    lines = cleaned.lines
    heads = detect_headings(cleaned, markdown=doc.kind == "md")
    sections: list[Section] = []
    bounds = [h.index for h in heads] + [len(lines)]
    if bounds[0] > 0:
        sections.append(_make_section(cleaned, "s0", 0, "", [], lines[: bounds[0]], lines[0].page))
    stack: list[tuple[int, str]] = []
    for k, h in enumerate(heads):
        while stack and stack[-1][0] >= h.level:
            stack.pop()
        path = [t for _, t in stack] + [h.title]
        stack.append((h.level, h.title))
        body = lines[h.index + h.used: bounds[k + 1]]
        sections.append(
            _make_section(cleaned, f"s{k + 1}", h.level, h.title, path, body, lines[h.index].page,
                          lines[h.index + h.used - 1].page)
        )
    _assign_offsets(sections)
    return sections


def _make_section(cleaned: CleanedDocument, sid: str, level: int, title: str, path: list[str],
                  body: list[Line], page: int, head_end_page: int | None = None) -> Section:
    text, starts = join_lines([x.text for x in body], cleaned.width, cleaned.vocab, cleaned.hard_breaks)
    breaks: list[tuple[int, int]] = []
    for x, st in zip(body, starts):
        if not breaks or breaks[-1][1] != x.page:
            breaks.append((st, x.page))
    page_end = body[-1].page if body else (head_end_page or page)
    return Section(id=sid, level=level, title=title, path=path, page_start=page, page_end=page_end,
                   text=text, page_breaks=breaks)


def _assign_offsets(sections: list[Section]) -> None:
    pos = 0
    for s in sections:
        if s.title:
            s.offset = pos + len(s.title) + 1
        else:
            s.offset = pos
        pos += len(_block(s)) + 1


_CJK_CHAR = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
TITLE_MARK = "｜"  # between a CJK title and a CJK body: no whitespace ever sits between two CJK characters


def title_separator(s: Section) -> str:
    """One character between a section's title and its body: a newline, except between two CJK
    characters, where the full-width bar keeps title and body apart without whitespace."""
    if s.title and s.text and _CJK_CHAR.match(s.title[-1]) and _CJK_CHAR.match(s.text[0]):
        return TITLE_MARK
    return "\n"


def _block(s: Section) -> str:
    if not s.title:
        return s.text
    return f"{s.title}{title_separator(s)}{s.text}" if s.text else s.title


def document_text(sections: list[Section]) -> str:
    """The document's cleaned text: each section's title line, then its body; sections
    separated by a newline. Section.offset and Chunk.start/end index into this string."""
    return "\n".join(_block(s) for s in sections)


def title_offset(s: Section) -> int:
    """Where the section's title line starts in document_text()."""
    return s.offset - len(s.title) - 1 if s.title else s.offset


# ---------------------------------------------------------------------------- headings


def detect_headings(cleaned: CleanedDocument, markdown: bool = False) -> list[Heading]:
    texts = [x.text for x in cleaned.lines]
    if markdown:
        md = [Heading(i, 1, m.group(2).strip(), "md", len(m.group(1)))
              for i, t in enumerate(texts) if (m := _MD_HEADING.match(t))]
        if md:
            return md
    outline = {skeleton(e): e for e in cleaned.outline}
    outline_kinds = {m.kind for e in cleaned.outline if (m := classify(e))}
    heads: list[Heading] = []
    i = 0
    prev_heading = True  # the start of the document is a fine place for a heading
    while i < len(texts):
        t = texts[i]
        m = classify(t)
        h = _confirm_by_outline(texts, i, outline, cleaned) if (m or display_width(t) <= 80) else None
        if h is not None:
            del outline[skeleton(h.title)]  # each contents entry heads one section
            h.kind = m.kind if m else (classify(h.title).kind if classify(h.title) else "standalone")
        elif m and not (cleaned.outline and m.kind in outline_kinds):  # else: outline lists this style, not this line
            h = Heading(i, 1, m.title, "") if m.kind == "standalone" else _extend_wrapped(texts, i, m.title, cleaned)
            h.kind = m.kind
            if not _plausible(h.title, m.kind, texts[i - 1] if i else "", prev_heading, cleaned.width):
                h = None
        if h is not None:
            heads.append(h)
            i += h.used
            prev_heading = True
        else:
            i += 1
            prev_heading = False
    _assign_levels(heads)
    return heads


def _confirm_by_outline(texts: list[str], i: int, outline: dict[str, str], cleaned) -> Heading | None:
    """The line (or it and the next lines, for a wrapped title) equals a contents entry."""
    if not outline:
        return None
    acc = texts[i]
    for used in range(1, MAX_WRAP + 2):
        sk = skeleton(acc)
        if sk in outline:
            return Heading(i, used, outline[sk], "")
        near = _misread_entry(sk, outline) if classify(texts[i]) else None
        if near is not None:
            return Heading(i, used, near, "")
        if i + used >= len(texts) or not any(e.startswith(sk) for e in outline):
            return None
        acc = join_two(acc, texts[i + used], cleaned.vocab)
    return None


def _misread_entry(sk: str, outline: dict[str, str]) -> str | None:
    """The contents entry a numbered line is with a character or two misread (OCR read 匮 as 遗
    in "（五）小结：共识匮乏导致…"): same length, same first characters, at most one character
    in twelve different. The entry's own spelling is the title."""
    if len(sk) < 8:
        return None
    for key, title in outline.items():
        if len(key) == len(sk) and key[:3] == sk[:3]:
            if sum(a != b for a, b in zip(key, sk)) <= max(1, len(sk) // 12):
                return title
    return None


def _plausible(title: str, kind: str, prev: str, prev_heading: bool, width: float, whole: bool = True) -> bool:
    """Context checks for a line that has a heading style but no contents entry backing it.
    whole=False: the line may be the first of a wrapped title, so its end does not count."""
    cjk = has_cjk(title)
    if (cjk and display_width(title) > 80) or (not cjk and len(title) > 150):
        return False
    if (whole and ends_clause(title)) or "。" in title or "；" in title:
        return False
    if not cjk and kind not in ("standalone", "chapter", "part", "jie"):
        m = _EN_NUMBERED.match(title)
        if m and m.group(1).islower():  # "(1) the first item, ..." continues a sentence
            return False
    if prev and not prev_heading and width and not ends_sentence(prev) and display_width(prev) >= 0.8 * width:
        return False  # the line before runs on to the margin without ending: we are mid-sentence
    return True


def _extend_wrapped(texts: list[str], i: int, title: str, cleaned: CleanedDocument) -> Heading:
    """Join the lines a long title wrapped onto. Candidates carry no heading style, end no
    sentence or clause and start no paragraph. When such a run of at most MAX_WRAP lines
    leads straight to the next heading (or the end), it is all title - as in a document that
    is only a list of headings. Otherwise a line only continues the title when the line
    before it reached the margin (or it starts lower-case, or follows a hyphen) and it is
    itself shorter than a full line (a body paragraph's first line is not)."""
    width = cleaned.width
    run: list[str] = []
    k = i + 1
    while k < len(texts) and len(run) < MAX_WRAP:
        nxt = texts[k]
        if classify(nxt) or ends_clause(nxt) or starts_paragraph(nxt) or has_cjk(nxt) != has_cjk(title):
            break
        run.append(nxt)
        k += 1
    if run and (k == len(texts) or _heading_like(texts[k])):
        joined = title
        for nxt in run:
            joined = join_two(joined, nxt, cleaned.vocab)
        if _short_title(joined):
            return Heading(i, 1 + len(run), " ".join(joined.split()), "")
    used = 1
    for nxt in run:
        last = texts[i + used - 1]
        if width and display_width(nxt) >= 0.9 * width:
            break
        wrapped = (width and display_width(last) >= 0.7 * width) or nxt[0].islower() or last.endswith("-")
        joined = join_two(title, nxt, cleaned.vocab)
        if not wrapped or not _short_title(joined):
            break
        title = joined
        used += 1
    return Heading(i, used, " ".join(title.split()), "")


def _heading_like(line: str) -> bool:
    m = classify(line)
    return bool(m) and _plausible(line, m.kind, "", True, 0, whole=False)


def _short_title(t: str) -> bool:
    return display_width(t) <= 80 if has_cjk(t) else len(t) <= 200


def _assign_levels(heads: list[Heading]) -> None:
    """Level = dense rank of the numbering styles the document uses (outermost first);
    standalone titles (前言, Background, Notes ...) are top level; markdown keeps its #s."""
    ranks = sorted({RANK[h.kind] for h in heads if h.kind not in ("standalone", "md")})
    level_of = {r: n + 1 for n, r in enumerate(ranks)}
    for h in heads:
        if h.kind == "md":
            continue
        h.level = 1 if h.kind == "standalone" else level_of[RANK[h.kind]]
