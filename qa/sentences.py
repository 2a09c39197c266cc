"""Whole sentences of a retrieved chunk, as a reader sees them.

A chunk's text starts with its section's title line and may hold outline lines (the titles of
heading-only subsections). Quotes, prompts and answers use only the body sentences, whole: a
heading is shown as the citation label, never inside a passage, and nothing is cut with `…`.
The sentence splitter is the one chunking uses (`ingest.chunking.split_sentences`), so a
sentence here is exactly a sentence of the index.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from ingest.chunking import has_table_block, split_sentences
from ingest.headings import classify, ends_sentence
from ingest.model import Chunk
from ingest.text import tokenize

from .structure import strip_numbering


@dataclass(frozen=True)
class Sentence:
    text: str
    start: int  # offset in the chunk's text (its page is chunk.page_at(start))
    index: int  # position among the chunk's body sentences


def _norm_map(text: str) -> tuple[str, list[int]]:
    """The text's letters and digits (NFKC, case-folded), with each one's offset in `text`."""
    chars, where = [], []
    for i, ch in enumerate(text):
        for c in unicodedata.normalize("NFKC", ch).casefold():
            if c.isalnum():
                chars.append(c)
                where.append(i)
    return "".join(chars), where


def heading_keys(titles) -> list[str]:
    """Comparison keys of section titles, with and without their numbering and a 小结:/Summary:
    label, longest first."""
    keys = set()
    for t in titles:
        if not t:
            continue
        for v in (t, strip_numbering(t), re.sub(r"^(?:小结|总结|summary|conclusion)\s*[:：]", "", strip_numbering(t), flags=re.I)):
            k = _norm_map(v)[0]
            if len(k) >= 4:
                keys.add(k)
    return sorted(keys, key=len, reverse=True)


def is_heading_line(text: str, keys: list[str]) -> bool:
    """A section title restated, or a line numbered like a heading and not ending a sentence."""
    s = " ".join(text.split())
    k = _norm_map(s)[0]
    if k and any(k in key for key in keys):
        return True
    m = classify(s)
    return bool(m) and not ends_sentence(s)


def strip_heading(text: str, keys: list[str]) -> str:
    """A sentence glued to a heading (or a running head and a heading) before it: everything up
    to the end of the last heading it holds goes."""
    norm, where = _norm_map(text)
    cut = -1
    for key in keys:
        at = norm.rfind(key)
        if at >= 0:
            cut = max(cut, where[at + len(key) - 1])
    if cut < 0:
        return text
    return text[cut + 1:].lstrip(" ：:，,、。.；;｜|")


def body_sentences(chunk: Chunk, titles=None) -> list[Sentence]:
    """The chunk's sentences without headings, each whole, with its offset in the chunk.
    `titles`: more section titles of the document (any heading may be restated in a body)."""
    keys = heading_keys(list(chunk.section_path) + list(titles or []))
    out: list[Sentence] = []
    for a, b in split_sentences(chunk.text.replace("｜", "\n")):
        s = chunk.text[a:b].strip()
        if not s or is_heading_line(s, keys):
            continue
        s2 = strip_heading(s, keys)
        if s2 != s:
            a += len(s) - len(s2)
            s = s2
        if len(_norm_map(s)[0]) < 4:
            continue
        out.append(Sentence(tidy(s), a, len(out)))
    return out


def _cjk(s: str) -> bool:
    return bool(re.search(r"[\u3400-\u9fff]", s))


_CJK_PUNCT = "\u3400-\u9fff，。、；：？！“”‘’（）《》"


def tidy(s: str) -> str:
    """Runs of whitespace become one space; a space between two Chinese characters (a PDF line
    break) goes; footnote marks go. A Markdown table keeps one line a row (caption first), so a
    model reads its rows and columns; `flat` makes it one line for a quote."""
    s = re.sub(r"(?<=[^\s\d])\[\d{1,3}\]", "", s)  # a footnote mark the PDF printed ("…”[2]"): not a citation
    if has_table_block(s):
        lines = [" ".join(x.split()) for x in s.splitlines() if x.strip()]
        return "\n".join(lines)
    s = " ".join(s.split())
    return re.sub(rf"(?<=[{_CJK_PUNCT}]) (?=[{_CJK_PUNCT}])", "", s)


def flat(s: str) -> str:
    """A passage on one line (a table's rows one after another), as quotes show it."""
    return " ".join(s.split())


def quote_line(n: int, quote: str) -> str:
    """A cited source as shown under an answer, `> [n] quote`. A bracketed number inside the
    quote (a document's own "[9]", or text written to pass for a citation) is shown in full-width
    brackets, so the only [n] markers an answer holds are wpqa's own."""
    return f"> [{n}] " + re.sub(r"\[(\d{1,3})\]", r"［\1］", flat(quote))


def overlap(q_tokens: set[str], sentence: str) -> float:
    """Share of the question's tokens the sentence holds, longer tokens weighing more."""
    toks = set(tokenize(sentence, stopwords=True))
    if not toks or not q_tokens:
        return 0.0
    shared = q_tokens & toks
    return sum(min(len(t), 4) for t in shared) / (sum(min(len(t), 4) for t in q_tokens) + 1e-6)


def join_sentences(sents: list[str]) -> str:
    out = ""
    for s in sents:
        if out and not (_cjk(out[-1]) or _cjk(s[0]) or out[-1] in "。！？；”）"):
            out += " "
        out += s
    return out
