"""Structure questions answered from a document's heading tree.

"What does chapter 2 cover", "which parts does section X have", "what does the summary of
chapter 5 say": the chapter is found by its number in the documents the retrieval ranked
first, its subsection titles come from the chunk store's section paths, and the answer cites
the chapter's own chunk. A question about a chapter's summary (小结 / summary) is pointed at
that subsection, whose sentences then answer it like any question.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.headings import ZH_NUM, chapter_number, classify, roman_to_int, zh_to_int
from ingest.model import Chunk
from ingest.text import detect_lang

_EN_ORD = {"first": 1, "opening": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6,
           "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10}
_EN_NUM = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
           "nine": 9, "ten": 10}
_ZH_CHAPTER = re.compile(rf"第([{ZH_NUM}\d]+)(?:章|部分)")
_EN_CHAPTER = re.compile(r"\b(?:chapter|part)\s+(\d+|[IVX]+|one|two|three|four|five|six|seven|eight|nine|ten)\b", re.I)
_EN_ORD_CHAPTER = re.compile(r"\b(first|opening|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth)\s+"
                             r"(?:chapter|part)\b", re.I)
_SUMMARY = re.compile(r"小结|总结|\bsummary\b|\bconclusion\b", re.I)
_YEAR = re.compile(r"(?<!\d)(19|20)\d{2}(?!\d)")
_EDITION = re.compile(r"\b(?:chinese|english)\b(?=.{0,30}\b(?:edition|version|white paper|paper|report)\b)|中文版|英文版",
                      re.I)


@dataclass
class StructureQuery:
    chapter: int
    summary: bool  # asks about the chapter's summary subsection


@dataclass
class Outline:
    """A chapter (or its summary subsection) of one document, with the chunk to cite."""

    doc: str
    title: str  # the heading as printed
    path: list[str]
    children: list[str]  # subsection titles, numbering removed
    chunk: Chunk  # the section's first chunk: what the answer cites
    lang: str


def parse(question: str) -> StructureQuery | None:
    n = None
    m = _ZH_CHAPTER.search(question)
    if m:
        v = m.group(1)
        n = int(v) if v.isdigit() else zh_to_int(v)
    if n is None and (m := _EN_CHAPTER.search(question)):
        v = m.group(1)
        n = int(v) if v.isdigit() else _EN_NUM.get(v.lower()) or roman_to_int(v)
    if n is None and (m := _EN_ORD_CHAPTER.search(question)):
        n = _EN_ORD[m.group(1).lower()]
    if not n:
        return None
    return StructureQuery(n, bool(_SUMMARY.search(question)))


def strip_numbering(title: str) -> str:
    """'(ii) Concept and system' -> 'Concept and system'; '（四）小结：…' -> '小结：…'."""
    m = classify(title)
    if not m or m.kind == "standalone":
        return title.strip()
    s = re.sub(rf"^(?:第[{ZH_NUM}\d]+[章节篇]|(?:chapter|part|section)\s+\w+\s*[:.：]?|[{ZH_NUM}]+、|"
               rf"[（(][{ZH_NUM}\d]+[）)]|\(?[ivxlcIVXLC]+[.)]|\d+(?:\.\d+)*[.、．]?)\s*", "", m.title, flags=re.I)
    return s.strip() or title.strip()


def _docs_in_rank_order(question: str, hits, chunks: list[Chunk]) -> list[str]:
    seen: list[str] = []
    for h in hits:
        if h.chunk.doc not in seen:
            seen.append(h.chunk.doc)
    for c in chunks:  # every other document after the ranked ones
        if c.doc not in seen:
            seen.append(c.doc)
    years = {m.group(0) for m in _YEAR.finditer(question)}
    qlang = detect_lang(question)
    lang = {}
    for c in chunks:
        lang.setdefault(c.doc, c.lang)
    # "the 2022 white paper": documents naming that year first; then the edition the question
    # names ("the Chinese 2020 white paper", "英文版"), else the one in its language; then
    # retrieval's order
    named = _EDITION.search(question)
    want = ("zh" if re.match(r"chinese|中文", named.group(0), re.I) else "en") if named else qlang
    seen.sort(key=lambda d: (bool(years) and not any(y in d for y in years), lang.get(d) != want))
    return seen


def find_outline(question: str, query: StructureQuery, hits, chunks: list[Chunk]) -> Outline | None:
    """The chapter the question names, in the best-ranked document that has it (with a summary
    subsection, when the question asks about the summary and a document has one)."""
    found: list[Outline] = []
    for doc in _docs_in_rank_order(question, hits, chunks):
        doc_chunks = [c for c in chunks if c.doc == doc]
        chapter = next((c.section_path[0] for c in doc_chunks
                        if c.section_path and chapter_number(c.section_path[0]) == query.chapter), None)
        if chapter is None:
            continue
        under = [c for c in doc_chunks if c.section_path and c.section_path[0] == chapter]
        target_path = [chapter]
        if query.summary:
            summ = next((c.section_path for c in under if len(c.section_path) > 1
                         and _SUMMARY.search(c.section_path[-1])), None)
            if summ:
                target_path = summ
        children: list[str] = []
        for c in under:  # subsection titles in document order, from the section paths ...
            p = c.section_path
            if len(p) > len(target_path) and p[: len(target_path)] == target_path:
                t = p[len(target_path)]
                if t not in children:
                    children.append(t)
        own = [c for c in under if c.section_path == target_path]
        if not children and own:  # ... or from the outline lines folded into the chapter's chunk
            titles = [ln.strip() for ln in own[0].text.split("\n")[1:] if classify(ln.strip())]
            children = titles
        cite = own[0] if own else under[0]
        found.append(Outline(doc, target_path[-1], target_path, [strip_numbering(t) for t in children], cite,
                             cite.lang))
        if not query.summary or len(target_path) > 1:
            return found[-1]
    return found[0] if found else None


def wants_title(question: str) -> bool:
    """Whether the question asks for a section's title or heading ("第三章的标题是什么",
    "according to its heading, what does the summary conclude")."""
    return bool(re.search(r"标题|题目|题为|叫什么|\btitled?\b|\bheading\b|\bcalled\b|\bnamed\b", question, re.I))


def wants_parts(question: str) -> bool:
    """Whether the question asks for a section's parts or themes (not a fact inside it)."""
    return bool(re.search(r"哪些|哪几|什么内容|涵盖|包括|包含|分为|\bcover|\bthemes?\b|\bparts\b|\btopics\b|"
                          r"\bsections\b|\bwhat does\b.*\b(?:deal with|discuss|address)|"
                          # "which multilateral bodies does Chapter 3 examine", "what trends … describe"
                          r"\b(?:which|what)\b(?:\s+[\w-]+){1,4}\s+(?:does|do)\b.*\b(?:examine|describe|review|survey|"
                          r"look at|discuss|address)", question, re.I))
