"""Page-level cleaning: running headers/footers, page numbers, contents pages, whitespace, and
joining the lines that the page layout broke.

`clean_document(doc)` returns the body lines in reading order (each with its page number),
the contents outline (the heading strings of a 目录/Contents listing, in order) and the
document's typical line width; `join_lines` turns a run of body lines into text.
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

from .headings import CONTENTS_TITLE, classify, ends_sentence, skeleton, strip_page_ref
from .model import Document, Page
from .text import CJK

# CJK ideographs plus CJK / full-width punctuation: no space is kept next to these.
_CJKISH = f"{CJK}\u3000-\u303f\uff00-\uffef"
_CJKISH_RE = re.compile(f"[{_CJKISH}]")
_IDEOGRAPH = re.compile(f"[{CJK}]")
_SPACE_NEXT_TO_CJK = re.compile(f"(?<=[{_CJKISH}])[ \t]+(?=\\S)|(?<=\\S)[ \t]+(?=[{_CJKISH}])")
_BULLETS = "\uf0b7\uf0a7\uf076\uf0d8\uf0fc\u25cf\u25aa\u25a0\u2022\u00b7\u2219\u25e6"
_BULLET_START = re.compile(f"^[{_BULLETS}•▪■●◦\\-–*]\\s")
_FOOTNOTE_START = re.compile(r"^\[\d{1,3}\]\s")

_PAGE_NUMBER = [
    re.compile(r"^[-–—~]?\s*\d{1,4}\s*[-–—~]?$"),
    re.compile(r"^(?:page|p\.?)\s*\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?$", re.I),
    re.compile(r"^第\s*\d{1,4}\s*页(?:\s*[,，/]?\s*共\s*\d{1,4}\s*页)?$"),
    re.compile(r"^\d{1,4}\s*/\s*\d{1,4}$"),
    re.compile(r"^[-–—]?\s*[ivxlc]{1,6}\s*[-–—]?$"),  # front-matter page numbers i, ii, iv
]
ZONE = 2  # lines at the top and bottom of a page that can be running headers/footers

# Hyphen kept at a line break when the part before it is one of these prefixes (e-commerce,
# non-discriminatory, co-signing ...) or the part after it is a word that forms compounds.
HYPHEN_PREFIXES = frozenset(
    "e non co re de pre post anti multi cross self well high low inter intra sub semi bi tri mid "
    "over under counter socio geo cyber micro macro ex".split()
)
HYPHEN_TAILS = frozenset(
    "based related oriented led driven level term scale wide making like free friendly specific "
    "sectoral border owned run side end to up off in out by on term year long making building".split()
)


@dataclass
class Line:
    page: int
    text: str


@dataclass
class CleanedDocument:
    lines: list[Line]  # body lines in reading order, cleaned
    outline: list[str] = field(default_factory=list)  # contents-page entries, in order
    contents_pages: list[int] = field(default_factory=list)
    dropped: list[tuple[int, str, str]] = field(default_factory=list)  # (page, line, why)
    width: float = 0.0  # typical (90th percentile) display width of a body line
    vocab: "Vocab" = None  # type: ignore[assignment]
    hard_breaks: bool = False  # every newline is a paragraph break (plain text, one paragraph a line)


# ---------------------------------------------------------------------------- lines


def normalize_line(s: str) -> str:
    """Collapse whitespace, drop spaces next to CJK characters and full-width punctuation
    (`2020 年` -> `2020年`, `WTO 第十一届` -> `WTO第十一届`), keep spaces between Latin words,
    turn symbol-font bullets into •."""
    s = s.replace("\u3000", " ").replace("\xa0", " ").replace("\u200b", "")
    s = re.sub(f"[{_BULLETS[:5]}]", "•", s)
    s = " ".join(s.split())
    return _SPACE_NEXT_TO_CJK.sub("", s)


def display_width(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


def is_page_number(s: str) -> bool:
    s = s.strip()
    return bool(s) and any(p.match(s) for p in _PAGE_NUMBER)


def running_key(s: str) -> str:
    """Key under which running headers/footers repeat: quotes unified (’ vs '), digits masked,
    whitespace and case ignored."""
    s = unicodedata.normalize("NFKC", s)
    s = re.sub(r"[’‘`´′]", "'", s)
    s = re.sub(r"[“”″]", '"', s)
    s = re.sub(r"\d+", "#", s)
    return re.sub(r"\s+", "", s).casefold()


def has_cjk(s: str) -> bool:
    return bool(_CJKISH_RE.search(s))


# ---------------------------------------------------------------------------- document


def clean_document(doc: Document) -> CleanedDocument:
    return clean_pages(doc.pages, plain_text=doc.kind != "pdf")


def clean_pages(pages: list[Page], plain_text: bool = False) -> CleanedDocument:
    per_page = [[normalize_line(x) for x in p.text.split("\n")] for p in pages]
    dropped: list[tuple[int, str, str]] = []
    hard_breaks = False
    if plain_text:
        # Blank lines separate paragraphs when the file has them; otherwise one paragraph a line.
        raw = per_page[0] if per_page else []
        hard_breaks = not any(not x for x in raw[1:-1])
        lines = [Line(pages[0].number, x) for x in raw]
        while lines and not lines[-1].text:
            lines.pop()
        while lines and not lines[0].text:
            lines.pop(0)
        return CleanedDocument(
            lines=lines, width=_typical_width([x.text for x in lines]), vocab=Vocab([x.text for x in lines]),
            hard_breaks=hard_breaks,
        )

    per_page = [[x for x in lines if x] for lines in per_page]
    heads, foots = _running_keys(per_page)
    for (page, lines) in zip(pages, per_page):
        _strip_zone(lines, page.number, heads, dropped, top=True)
        _strip_zone(lines, page.number, foots, dropped, top=False)

    outline, contents_pages = _strip_contents(pages, per_page, dropped)
    lines = [Line(p.number, x) for p, page_lines in zip(pages, per_page) for x in page_lines]
    texts = [x.text for x in lines]
    return CleanedDocument(
        lines=lines, outline=outline, contents_pages=contents_pages, dropped=dropped,
        width=_typical_width(texts), vocab=Vocab(texts),
    )


def _running_keys(per_page: list[list[str]]) -> tuple[set[str], set[str]]:
    """Keys of lines that repeat at the same place in the top (bottom) zone of enough pages to
    be running headers (footers): at least 2 pages and at least half of the pages after the
    first (the cover often has none)."""
    n = len(per_page)
    if n < 2:
        return set(), set()
    need = max(2, (n - 1) / 2)
    top, bottom = Counter(), Counter()  # (position in the zone, key) -> pages
    for lines in per_page:
        top.update({(i, running_key(x)) for i, x in enumerate(lines[:ZONE]) if len(x) <= 120})
        bottom.update({(i, running_key(x)) for i, x in enumerate(reversed(lines[-ZONE:])) if len(x) <= 120})
    heads = {k for (_, k), c in top.items() if c >= need and k}
    foots = {k for (_, k), c in bottom.items() if c >= need and k}
    return heads, foots


def _strip_zone(lines: list[str], page: int, keys: set[str], dropped: list, top: bool) -> None:
    for _ in range(ZONE + 1):
        if not lines:
            return
        i = 0 if top else -1
        x = lines[i]
        if is_page_number(x):
            dropped.append((page, x, "page number"))
        elif running_key(x) in keys:
            dropped.append((page, x, "header" if top else "footer"))
        else:
            return
        lines.pop(i)


def _entry_like(line: str) -> bool:
    e = strip_page_ref(line)
    return bool(e) and not ends_sentence(e) and "。" not in e and display_width(e) <= 110


def _collect_entries(lines: list[str], outline: list[str]) -> tuple[int, str]:
    """How many leading lines are contents entries, and why the run stopped ('end', 'repeat'
    when an entry comes round again - the body starts - or 'body' at a body-like line)."""
    seen = {skeleton(strip_page_ref(e)) for e in outline}
    for i, x in enumerate(lines):
        if skeleton(strip_page_ref(x)) in seen:
            return i, "repeat"
        if not _entry_like(x):
            return i, "body"
        seen.add(skeleton(strip_page_ref(x)))
    return len(lines), "end"


def _strip_contents(pages: list[Page], per_page: list[list[str]], dropped: list) -> tuple[list[str], list[int]]:
    """Find a titled contents listing (目录 / Contents) in the first pages, drop it and the
    pages that continue it, and return its entries as the outline."""
    limit = min(len(pages), 10)
    for pi in range(limit):
        lines = per_page[pi]
        title_at = next((i for i, x in enumerate(lines[:5]) if CONTENTS_TITLE.match(x)), None)
        if title_at is None:
            continue
        outline: list[str] = []
        contents_pages = [pages[pi].number]
        n, why = _collect_entries(lines[title_at + 1:], outline)
        outline += [strip_page_ref(x) for x in lines[title_at + 1: title_at + 1 + n]]
        for x in lines[title_at: title_at + 1 + n]:
            dropped.append((pages[pi].number, x, "contents"))
        del lines[title_at: title_at + 1 + n]
        # Following pages that carry on with the listing, without a title of their own.
        pj = pi + 1
        while why == "end" and pj < len(pages):
            nxt = per_page[pj]
            n, why = _collect_entries(nxt, outline)
            entries = nxt[:n]
            headed = sum(1 for e in entries if classify(strip_page_ref(e)) or strip_page_ref(e) != e)
            if not entries or why == "body" or headed * 2 < len(entries):
                break
            outline += [strip_page_ref(x) for x in entries]
            for x in entries:
                dropped.append((pages[pj].number, x, "contents"))
            del nxt[:n]
            contents_pages.append(pages[pj].number)
            pj += 1
        return outline, contents_pages
    return [], []


def _typical_width(texts: list[str]) -> float:
    widths = sorted(display_width(t) for t in texts if t)
    if not widths:
        return 0.0
    return float(widths[min(len(widths) - 1, int(len(widths) * 0.9))])


# ---------------------------------------------------------------------------- joining


class Vocab:
    """English words of a document, to decide whether a hyphen at a line end is part of the
    word (alliance-based) or a soft break (gov-ernance)."""

    def __init__(self, texts: list[str]):
        joined = "\n".join(texts)
        self.hyphenated = {w.lower() for w in re.findall(r"[A-Za-z]+(?:-[A-Za-z]+)+", joined)}
        self.plain = {w.lower() for w in re.findall(r"[A-Za-z]+", joined)}


def join_hyphen(before: str, after: str, vocab: Vocab | None = None) -> bool:
    """Keep the hyphen when a line ends 'before-' and the next starts with 'after'?

    Rule: an upper-case continuation (Cross-Border, Asia-Pacific) keeps it; a form seen
    elsewhere in the document decides (alliance-based vs. governance); known prefixes
    (e-, non-, co-) and compound tails (-based, -related, -led) keep it; two parts of 4+
    letters each look like two words and keep it; otherwise (gov-ernance) it is removed."""
    if not after or not after[0].islower():
        return True
    b, a = before.lower(), after.lower()
    if vocab is not None:
        if f"{b}-{a}" in vocab.hyphenated:
            return True
        if b + a in vocab.plain:
            return False
    if b in HYPHEN_PREFIXES or a in HYPHEN_TAILS or len(a) <= 2:
        return True
    return len(b) >= 4 and len(a) >= 4


def _glue(prev: str, nxt: str, vocab: Vocab | None) -> tuple[str, str]:
    """(text to drop from the end of prev, separator) for joining two layout lines."""
    a, b = prev[-1], nxt[0]
    if a == "-" and len(prev) >= 2 and prev[-2].isalpha() and b.isalpha():
        before = re.search(r"([A-Za-z]+)-$", prev)
        after = re.match(r"[A-Za-z]+", nxt)
        if before and after and not join_hyphen(before.group(1), after.group(0), vocab):
            return "-", ""
        return "", ""
    if a in "–—" and len(prev) >= 2 and prev[-2] == " ":
        return "", " "  # "Goal 2 –" + "Inclusiveness": a spaced dash keeps its space
    if a in "-–—/" and not b.isspace():
        return "", ""
    if _CJKISH_RE.match(a) or _CJKISH_RE.match(b):
        return "", ""
    return "", " "


def join_two(prev: str, nxt: str, vocab: Vocab | None = None) -> str:
    """Join two layout lines that belong to one sentence or title (no paragraph break)."""
    if not prev or not nxt:
        return prev or nxt
    cut, sep = _glue(prev, nxt, vocab)
    return prev[: len(prev) - len(cut)] + sep + nxt


def is_paragraph_end(line: str, width: float) -> bool:
    """A layout line that ends a paragraph: it ends a sentence and stops short of the margin,
    or it stops far short of the margin (a title or cover line, a list item)."""
    if width > 0 and display_width(line) < 0.6 * width:
        return True
    t = line.rstrip().rstrip("”’」』）)》\"'")
    if not t or t[-1] not in "。！？!?.:：；;":
        return False
    return width <= 0 or display_width(line) < 0.85 * width


def starts_paragraph(line: str) -> bool:
    return bool(_BULLET_START.match(line) or _FOOTNOTE_START.match(line) or line.startswith("•"))


def join_lines(
    lines: list[str], width: float = 0.0, vocab: Vocab | None = None, hard_breaks: bool = False
) -> tuple[str, list[int]]:
    """Join layout lines into text with one paragraph a line. Returns the text and, for each
    input line, the offset where it starts in the text (blank input lines start paragraphs)."""
    out: list[str] = []
    starts: list[int] = []
    pos = 0
    prev = ""
    para_break = True
    for line in lines:
        line = line.strip()
        if not line:
            starts.append(pos)
            para_break = True
            continue
        if not prev:
            sep, cut = "", ""
        elif hard_breaks or para_break or starts_paragraph(line) or (
            is_paragraph_end(prev, width) and not (_IDEOGRAPH.match(prev[-1]) and _IDEOGRAPH.match(line[0]))
        ):
            # (a short line between two ideographs, no punctuation, is a wrapped run, not a paragraph)
            sep, cut = "\n", ""
        else:
            cut, sep = _glue(prev, line, vocab)
        if cut:
            out[-1] = out[-1][: -len(cut)]
            pos -= len(cut)
        out.append(sep)
        pos += len(sep)
        starts.append(pos)
        out.append(line)
        pos += len(line)
        prev = line
        para_break = False
    return "".join(out), starts


# ---------------------------------------------------------------------------- title


def cover_title(cleaned: CleanedDocument, max_lines: int = 12) -> str:
    """The document title from the first page: the first meaningful line, with the lines a
    big cover title wrapped onto (Title Case or ALL CAPS lines, a bracketed year line)."""
    lines = [x for x in cleaned.lines if x.page == (cleaned.lines[0].page if cleaned.lines else 0)]
    lines = [x.text for x in lines if re.search(rf"[{CJK}A-Za-z]", x.text) and not is_page_number(x.text)]
    if not lines:
        return ""
    title = [lines[0]]
    for nxt in lines[1:max_lines]:
        if not _continues_title(title[-1], nxt):
            break
        title.append(nxt)
    text = title[0]
    for t in title[1:]:
        text = join_two(text, t, cleaned.vocab)
    return text[:300]


def _continues_title(prev: str, nxt: str) -> bool:
    if ends_sentence(prev) or ends_sentence(nxt) or "," in nxt or "，" in nxt or classify(nxt):
        return False
    if nxt[0] in "(（" and len(nxt) <= 20:  # 全球数字治理白皮书 / （2020年）
        return True
    if has_cjk(prev) or has_cjk(nxt) or len(nxt) > 70:
        return False
    if prev.isupper() or nxt.isupper():
        return prev.isupper() and nxt.isupper()
    return _title_case(prev) and _title_case(nxt)


def _title_case(s: str) -> bool:
    words = re.findall(r"[A-Za-z]+", s)
    long = [w for w in words if len(w) >= 4]
    return bool(words) and all(w[0].isupper() for w in long) and (s[0].isupper() or s[0].isdigit() or s[0] == "(")
