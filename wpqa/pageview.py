"""A cited page as the reader sees it, with the quote highlighted (for `wpqa serve`'s page view).

    render_pdf_page(path, page, quote) -> PageImage   # PNG of a PDF page, quote in yellow
    pdf_page_has_quote(path, page, quote) -> bool     # the same test without rendering
    highlight_text_html(text, quote) -> str           # a .txt/.md document as HTML, quote in <mark>
    locate(text, quote) -> list[(start, end)]         # where the quote lies in a plain text

A quote comes from cleaned text, not from the PDF's text layer: line breaks, spaces between
Chinese characters, hyphens at line ends, bullets and full- vs half-width punctuation all differ.
Both sides are therefore compared in a normal form that keeps only letters, digits and marks
(NFKC, lower case), with a map from each normal character back to its place in the original.
The quote is looked up exactly first; failing that, 8-character pieces of it vote for where on
the page the quote would start, and the text around the winning place is aligned with the quote
(difflib). Pieces of 6+ characters that hang together around the longest one (at most 80
extra characters between two: a page number and running head) are accepted when the longest has
12+ characters and they cover 70% of the quote with a similarity of 0.7 to the text they span;
every piece is highlighted (pieces a few characters apart as one). This is stricter than "any 12
characters" on purpose: phrases such as "global digital governance" recur on every page, and a
wrong highlight is worse than none (all 1,215 sentence quotes of the indexed corpus are found on
their cited pages; quotes from other pages are not, apart from genuinely repeated text). A quote may run over a page break: a PDF page is matched together with its
neighbours' text and the part of the match on the page itself is highlighted, so the end of a
quote at the top of the next page is found too, while a quote wholly on another page is not.

pdfium is not thread-safe: every call into it here holds one module lock.
"""
from __future__ import annotations

import ctypes
import html
import io
import threading
import unicodedata
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path

MIN_RUN = 12  # normal characters: shortest run that can locate a quote that is not found whole
MIN_COVER = 0.7  # share of the quote an inexact match must cover
MIN_SIMILAR = 0.7  # and its similarity with the page text it spreads over (difflib's ratio)
MIN_PIECE = 6  # aligned pieces shorter than this are chance agreement and are not counted
SEED = 8  # length of the quote pieces that vote for the quote's place on the page
JOIN_GAP = 10  # matched pieces closer than this on the page are highlighted as one passage
INSERT = 80  # extra page text tolerated between two aligned pieces (page number and running head)
HIGHLIGHT = (255, 226, 64)  # multiplied onto the page: white turns yellow, black text stays black

_PUNCT = "".join(chr(c) for c in range(0x10000) if unicodedata.category(chr(c))[0] == "P")
_pdfium_lock = threading.Lock()


@dataclass
class PageImage:
    """One rendered PDF page: PNG bytes, size in pixels, whether the quote was located on it,
    the document's page count, and the highlight rectangles (x0, y0, x1, y1) in image pixels."""

    png: bytes
    width: int
    height: int
    found: bool
    pages: int
    boxes: list[tuple[int, int, int, int]] = field(default_factory=list)


# --- matching ---------------------------------------------------------------------------------

def normalise(text: str) -> tuple[str, list[int]]:
    """`text` in the normal form used for matching (NFKC, lower case, only letters, digits and
    marks) and, for each normal character, the index of the character of `text` it came from."""
    out: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        for c in unicodedata.normalize("NFKC", ch).lower():
            if unicodedata.category(c)[0] in "LNM":
                out.append(c)
                where.append(i)
    return "".join(out), where


def match_spans(page: str, quote: str, before: str = "", after: str = "") -> list[tuple[int, int]]:
    """Where the normalised `quote` lies in the normalised `page`: (start, end) spans of `page`,
    in order; empty when it is not there. `before` / `after` are the normalised texts of the
    previous / next page: a quote that runs over a page break is matched across it and its part
    on this page is returned (a quote lying wholly on a neighbour page gives nothing)."""
    own = _match(page, quote)
    if own or not (before or after):
        return own
    text, off = before + page + after, len(before)
    spans = []
    for a, b in _match(text, quote):
        a, b = max(a, off), min(b, off + len(page))
        if a < b:
            spans.append((a - off, b - off))
    return spans


def _match(text: str, quote: str) -> list[tuple[int, int]]:
    """Spans of `text` (both normalised) that hold the quote, by the rule of the module docstring."""
    if not text or not quote:
        return []
    pos = text.find(quote)
    if pos >= 0:
        return [(pos, pos + len(quote))]
    if len(quote) < MIN_RUN:
        return []
    start = _likely_start(text, quote)
    if start is None:
        return []
    slack = max(60, len(quote) // 2)  # room for inserted text: a running head between two pages
    lo, hi = max(0, start - slack), min(len(text), start + len(quote) + slack)
    blocks = [(a, lo + b, k) for a, b, k in
              SequenceMatcher(None, quote, text[lo:hi], autojunk=False).get_matching_blocks() if k >= MIN_PIECE]
    if not blocks or max(k for _, _, k in blocks) < MIN_RUN:
        return []
    blocks = _chain(blocks)
    matched = sum(k for _, _, k in blocks)
    # the page text the quote would take: from the first to the last piece, widened by the parts
    # of the quote before the first piece and after the last one
    spread = blocks[-1][1] + blocks[-1][2] - blocks[0][1] + blocks[0][0] + len(quote) - blocks[-1][0] - blocks[-1][2]
    if matched < MIN_COVER * len(quote) or 2 * matched / (len(quote) + spread) < MIN_SIMILAR:
        return []
    blocks = _ends(text, quote, blocks)
    spans: list[tuple[int, int]] = []
    for _, b, k in blocks:
        if spans and b - spans[-1][1] <= JOIN_GAP:
            spans[-1] = (spans[-1][0], b + k)
        else:
            spans.append((b, b + k))
    return spans


def _chain(blocks: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """The aligned pieces (quote pos, text pos, length) that hang together around the longest:
    walking out from it, a piece is kept while the text between it and its neighbour is at most
    INSERT characters longer than the quote between them (a running head, a footnote mark)."""
    top = max(range(len(blocks)), key=lambda i: blocks[i][2])

    def close(x: tuple[int, int, int], y: tuple[int, int, int]) -> bool:
        return (y[1] - x[1] - x[2]) - (y[0] - x[0] - x[2]) <= INSERT

    lo = top
    while lo > 0 and close(blocks[lo - 1], blocks[lo]):
        lo -= 1
    hi = top
    while hi + 1 < len(blocks) and close(blocks[hi], blocks[hi + 1]):
        hi += 1
    return blocks[lo:hi + 1]


def _ends(text: str, quote: str, blocks: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """`blocks` with the quote's first (last) few characters added when no piece covers them but
    they stand in the text shortly before (after) the match: a quote whose first words are the
    last ones of the previous page, before its page number and the next page's running head."""
    a, b, _ = blocks[0]
    if 0 < a < 2 * MIN_PIECE:
        j = text.rfind(quote[:a], max(0, b - a - INSERT), b)
        if j >= 0:
            blocks = [(0, j, a), *blocks]
    a, b, k = blocks[-1]
    rest = len(quote) - a - k
    if 0 < rest < 2 * MIN_PIECE:
        j = text.find(quote[a + k:], b + k, b + k + rest + INSERT)
        if j >= 0:
            blocks = [*blocks, (a + k, j, rest)]
    return blocks


def _likely_start(page: str, quote: str) -> int | None:
    """The page position where most pieces of the quote say it starts (None: no piece found)."""
    votes: list[int] = []
    step = max(1, min(SEED // 2, (len(quote) - SEED) // 40 + 1))
    for p in range(0, max(1, len(quote) - SEED + 1), step):
        piece = quote[p:p + SEED]
        j, hits = page.find(piece), 0
        while j >= 0 and hits < 40:
            votes.append(j - p)
            hits += 1
            j = page.find(piece, j + 1)
    if not votes:
        return None
    votes.sort()
    width = max(20, len(quote) // 4)
    best, best_n, lo = votes[0], 0, 0
    for hi, v in enumerate(votes):  # the densest window of `width` start positions
        while v - votes[lo] > width:
            lo += 1
        if hi - lo + 1 > best_n:
            best_n, best = hi - lo + 1, votes[(lo + hi) // 2]
    return best


def locate(text: str, quote: str) -> list[tuple[int, int]]:
    """Where `quote` lies in `text`: (start, end) character spans of `text`; empty if not found."""
    norm, where = normalise(text)
    return _original_spans(text, where, match_spans(norm, normalise(quote)[0]), quote)


def _original_spans(text: str, where: list[int], spans: list[tuple[int, int]],
                    quote: str) -> list[tuple[int, int]]:
    """Normalised spans as (start, end) spans of the original `text`. Punctuation is not part of
    the normal form, so a quote that ends (starts) with punctuation marks gets as many marks
    that directly follow its last (precede its first) letter in the text."""
    out = [(where[a], where[b - 1] + 1) for a, b in spans]
    if not out:
        return out
    q = "".join(quote.split())
    tail = len(q) - len(q.rstrip(_PUNCT))  # punctuation marks the quote ends (starts) with
    head = len(q) - len(q.lstrip(_PUNCT))
    a, b = out[-1]
    while tail and b < len(text) and unicodedata.category(text[b])[0] == "P":
        b, tail = b + 1, tail - 1
    out[-1] = (a, b)
    a, b = out[0]
    while head and a > 0 and unicodedata.category(text[a - 1])[0] == "P":
        a, head = a - 1, head - 1
    out[0] = (a, b)
    return out
    q = quote.strip()
    if q and unicodedata.category(q[-1])[0] == "P":
        a, b = out[-1]
        while b < len(text) and b - out[-1][1] < 3 and unicodedata.category(text[b]) in ("Pe", "Pf", "Po"):
            b += 1
        out[-1] = (a, b)
    if q and unicodedata.category(q[0])[0] == "P":
        a, b = out[0]
        while a > 0 and out[0][0] - a < 3 and unicodedata.category(text[a - 1]) in ("Ps", "Pi"):
            a -= 1
        out[0] = (a, b)
    return out


# --- text documents ---------------------------------------------------------------------------

def highlight_text_html(text: str, quote: str) -> str:
    """`text` HTML-escaped, with the located quote wrapped in `<mark id="hl">…</mark>` (further
    separate pieces of it in `<mark class="hl">`). Without a match: just the escaped text."""
    out: list[str] = []
    at = 0
    for n, (a, b) in enumerate(locate(text, quote)):
        out.append(html.escape(text[at:a]))
        tag = '<mark id="hl">' if n == 0 else '<mark class="hl">'
        out.append(f"{tag}{html.escape(text[a:b])}</mark>")
        at = b
    out.append(html.escape(text[at:]))
    return "".join(out)


# --- PDF pages --------------------------------------------------------------------------------

def render_pdf_page(path: Path, page: int, quote: str, scale: float = 1.6) -> PageImage:
    """Page `page` (1-based) of the PDF at `path` as a PNG at `scale` pixels per point, with the
    characters of `quote` highlighted in yellow when it is located in the page's text layer.
    A page without a text layer (a scan) comes back without highlight and `found=False`.
    Raises ValueError when `page` is not a page of the document."""
    import pypdfium2 as pdfium

    with _pdfium_lock:
        doc = pdfium.PdfDocument(str(path))
        try:
            count = len(doc)
            pg, tp, spans = _open_page(doc, page, quote)
            try:
                image = pg.render(scale=scale).to_pil().convert("RGB")
                boxes = _boxes(pdfium.raw, pg, tp, spans, image.size)
            finally:
                tp.close()
                pg.close()
        finally:
            doc.close()
    if boxes:
        image = _paint(image, boxes)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return PageImage(png=buf.getvalue(), width=image.size[0], height=image.size[1], found=bool(boxes),
                     pages=count, boxes=boxes)


def pdf_page_has_quote(path: Path, page: int, quote: str) -> bool:
    """Whether `quote` is located on page `page` (1-based) of the PDF: the same test as
    `render_pdf_page`'s `found`, from the text layer alone (no rendering; a few milliseconds).
    Raises ValueError when `page` is not a page of the document."""
    import pypdfium2 as pdfium

    with _pdfium_lock:
        doc = pdfium.PdfDocument(str(path))
        try:
            pg, tp, spans = _open_page(doc, page, quote)
            tp.close()
            pg.close()
        finally:
            doc.close()
    return bool(spans)


def _open_page(doc, page: int, quote: str):
    """(page, text page, located spans) for page `page` of an open document; the spans map each
    (first, last) pdfium character index range of the quote to the characters in it."""
    count = len(doc)
    if not 1 <= page <= count:
        raise ValueError(f"page {page} is out of range: the document has {count} pages")
    before = normalise(_page_chars(doc, page - 2))[0] if page > 1 else ""
    after = normalise(_page_chars(doc, page))[0] if page < count else ""
    pg = doc[page - 1]
    tp = pg.get_textpage()
    chars = _text_chars(tp)
    norm, where = normalise(chars)
    spans = {}
    for a, b in _original_spans(chars, where, match_spans(norm, normalise(quote)[0], before, after), quote):
        spans[(a, b - 1)] = chars[a:b]
    return pg, tp, spans


def _page_chars(doc, index: int) -> str:
    """The text layer of page `index` (0-based) of an open document, one character per pdfium
    character index."""
    pg = doc[index]
    try:
        tp = pg.get_textpage()
        try:
            return _text_chars(tp)
        finally:
            tp.close()
    finally:
        pg.close()


def _text_chars(tp) -> str:
    """An open text page's characters, one per pdfium index (so string index = char index).
    Characters pdfium cannot give as one code point (a lone surrogate) become a space."""
    import pypdfium2.raw as raw

    out = []
    for i in range(tp.count_chars()):
        code = raw.FPDFText_GetUnicode(tp.raw, i)
        out.append(chr(code) if 0 < code < 0x110000 and not 0xD800 <= code <= 0xDFFF else " ")
    return "".join(out)


def _boxes(raw, pg, tp, spans: dict, size: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """Pixel rectangles over the located characters, merged into one rectangle per line piece."""
    boxes: list[tuple[int, int, int, int]] = []
    for (first, last), chars in spans.items():
        line: list | None = None  # x0, y0, x1, y1 and the line's direction ("h", "v" or None yet)
        for i, ch in zip(range(first, last + 1), chars):
            if ch.isspace() or unicodedata.category(ch)[0] == "C":
                continue
            box = _char_box(raw, tp, pg, i, size)
            if box is None:
                continue
            flow = _flow(line, box) if line is not None else None
            if flow is not None and (line[4] is None or line[4] == flow):
                line = [min(line[0], box[0]), min(line[1], box[1]), max(line[2], box[2]), max(line[3], box[3]), flow]
            else:
                if line is not None:
                    boxes.append((line[0], line[1], line[2], line[3]))
                line = [*box, None]
        if line is not None:
            boxes.append((line[0], line[1], line[2], line[3]))
    return boxes


def _char_box(raw, tp, pg, i: int, size: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """Character `i`'s box in image pixels (loose box: the font's full line height), or None."""
    try:
        left, bottom, right, top = tp.get_charbox(i, loose=True)
        if top - bottom <= 0.1:
            left, bottom, right, top = tp.get_charbox(i)
    except Exception:  # pdfium refuses a box for some generated characters
        return None
    if right - left <= 0.01 or top - bottom <= 0.01:
        return None
    xs, ys = [], []
    for px, py in ((left, top), (right, bottom)):
        dx, dy = ctypes.c_int(), ctypes.c_int()
        # the same page-to-pixel mapping the render used: the page's /Rotate and crop box included
        raw.FPDF_PageToDevice(pg.raw, 0, 0, size[0], size[1], 0, px, py, ctypes.byref(dx), ctypes.byref(dy))
        xs.append(dx.value)
        ys.append(dy.value)
    return min(xs), min(ys), max(xs), max(ys)


def _flow(line: list, box: tuple[int, int, int, int]) -> str | None:
    """How `box` continues the line piece `line`: "h" on the same row, not far back left
    (horizontal text), "v" in the same column (text of a page turned by /Rotate), None if not."""
    v = min(line[3], box[3]) - max(line[1], box[1])
    if v >= 0.5 * max(1, min(line[3] - line[1], box[3] - box[1])) and box[0] >= line[0] - 2:
        return "h"
    h = min(line[2], box[2]) - max(line[0], box[0])
    if h >= 0.5 * max(1, min(line[2] - line[0], box[2] - box[0])):
        return "v"
    return None


def _paint(image, boxes: list[tuple[int, int, int, int]]):
    """`image` with each box multiplied by the highlight colour (a highlighter pen)."""
    from PIL import Image, ImageChops, ImageDraw

    layer = Image.new("RGB", image.size, (255, 255, 255))
    draw = ImageDraw.Draw(layer)
    for x0, y0, x1, y1 in boxes:
        draw.rectangle((x0 - 1, y0 - 1, x1 + 1, y1 + 1), fill=HIGHLIGHT)
    return ImageChops.multiply(image, layer)
