"""OCR for PDF pages without a usable text layer: render the page (pypdfium2), read it
(RapidOCR: PP-OCRv4 Chinese/English detection and recognition models shipped inside the
`rapidocr-onnxruntime` wheel, run on onnxruntime; nothing is downloaded), put the text lines
back into reading order.

Optional: without the `ocr` extra (`pip install .[ocr]`) `ocr_available()` is False and the
loader skips scans with a message saying how to enable OCR. Results are cached by a hash of the
rendered page (see `ingest.ocr_cache`), so a rebuild never reads the same page twice.
"""
from __future__ import annotations

import hashlib
import importlib.util
import re
from dataclasses import dataclass

from .text import CJK

OCR_HINT = "install the OCR extra to read scans: pip install .[ocr]"
SCALE = 2.0  # render scale (2 = 144 dpi): see bench/ocr.py for 1.5 / 2 / 3
ENGINE = "rapidocr-onnxruntime-1.4.4/PP-OCRv4/no-cls/2"  # part of the cache key: change it when the output changes
MIN_SCORE = 0.5  # recognition confidence below which a line is dropped
MIN_READABLE = 0.7  # mean confidence a page needs for its text to count as read

_GOOD = re.compile(rf"[{CJK}A-Za-z0-9\u3000-\u303f\uff00-\uffef.,;:!?()'\"%/\-]")


@dataclass
class OcrLine:
    text: str
    x: float  # left edge, rendered pixels
    y: float  # vertical centre
    height: float  # height of the (possibly tilted) box, not of its upright bounding box
    score: float


@dataclass
class OcrPage:
    text: str  # the page's lines in reading order, one per line
    lines: int = 0
    score: float = 0.0  # mean recognition confidence of the kept lines
    problem: str = ""  # why nothing readable came out ("" when the page was read)

    def to_dict(self) -> dict:
        return {"text": self.text, "lines": self.lines, "score": self.score, "problem": self.problem}

    @classmethod
    def from_dict(cls, d: dict) -> "OcrPage":
        return cls(text=d["text"], lines=d["lines"], score=d["score"], problem=d.get("problem", ""))


def ocr_available() -> bool:
    """The `ocr` extra is installed (checked without importing onnxruntime)."""
    return all(importlib.util.find_spec(m) is not None for m in ("pypdfium2", "rapidocr_onnxruntime"))


def needs_ocr(text: str) -> bool:
    """True when a page's text layer is empty or garbage: fewer than half of its non-space
    characters are letters, digits, CJK or ordinary punctuation (fonts without a usable ToUnicode
    map give replacement characters, private-use code points or control characters)."""
    chars = [c for c in text if not c.isspace()]
    if len(chars) < 3:
        return True
    good = sum(1 for c in chars if _GOOD.match(c))
    return good < 0.5 * len(chars)


_engine = None


def engine():
    """The RapidOCR engine, loaded once (about a second)."""
    global _engine
    if _engine is None:
        from rapidocr_onnxruntime import RapidOCR

        _engine = RapidOCR(text_score=MIN_SCORE, print_verbose=False)
    return _engine


def render_page(pdf, index: int, scale: float = SCALE):
    """One page of an open pypdfium2.PdfDocument as an RGB PIL image (its /Rotate applied)."""
    page = pdf[index]
    try:
        return page.render(scale=scale).to_pil().convert("RGB")
    finally:
        page.close()


def image_key(image, scale: float = SCALE) -> str:
    """Cache key of a rendered page: hash of its pixels, the render scale and the engine."""
    h = hashlib.sha256(f"{ENGINE}|{scale}|{image.size}|".encode())
    h.update(image.tobytes())
    return h.hexdigest()


def read_image(image) -> OcrPage:
    """OCR one page image. A page on which nothing readable is found (a photo, noise, a blank
    page) comes back with empty text and `problem` saying why."""
    import numpy as np

    # The 180-degree line classifier is off: on upright pages it flips some good lines (a line of
    # the ITU contribution vanished with it on); scans come from the PDF upright or /Rotate'd.
    result, _ = engine()(np.array(image), use_cls=False)
    lines = []
    for box, text, score in result or []:
        text = " ".join(str(text).split())
        if not text or float(score) < MIN_SCORE:
            continue
        (x0, y0), (x1, y1), (x2, y2), (x3, y3) = box
        height = (abs(y3 - y0) + abs(y2 - y1)) / 2
        lines.append(OcrLine(text, min(x0, x3), (y0 + y1 + y2 + y3) / 4, height, float(score)))
    if not lines:
        return OcrPage("", problem="OCR found no text on the page image")
    score = sum(x.score for x in lines) / len(lines)
    chars = sum(len(x.text) for x in lines)
    if score < MIN_READABLE or chars < 4:
        return OcrPage("", lines=len(lines), score=round(score, 4),
                       problem=f"unreadable page image (OCR confidence {score:.2f}, {chars} characters)")
    return OcrPage("\n".join(reading_order(lines)), lines=len(lines), score=round(score, 4))


def reading_order(lines: list[OcrLine]) -> list[str]:
    """Text lines top to bottom; boxes whose centres lie within half a line height of each other
    form one line, left to right, joined by a space (the cleaner drops spaces next to CJK
    characters). Heights come from the tilted boxes, so a skewed scan keeps its lines apart."""
    rows: list[list[OcrLine]] = []
    for ln in sorted(lines, key=lambda x: (x.y, x.x)):
        if rows:
            last = rows[-1]
            if abs(ln.y - last[-1].y) < 0.5 * min(ln.height, last[-1].height):
                last.append(ln)
                continue
        rows.append([ln])
    return [space_heading_number(" ".join(x.text for x in sorted(row, key=lambda x: x.x))) for row in rows]


_NUMBER_GLUED = re.compile(r"^(\d{1,2}(?:\.\d{1,2})*\.?)(?=[A-Z][a-z])")


def space_heading_number(line: str) -> str:
    """'1.Funding' -> '1. Funding': the recogniser often drops the narrow space after a heading
    number, and the heading patterns need it."""
    return _NUMBER_GLUED.sub(r"\1 ", line)


def ocr_pdf_pages(data: bytes, numbers: list[int], cache=None, progress=None) -> dict[int, OcrPage]:
    """OCR the given 1-based pages of a PDF. `cache` (an OcrCache or None) is asked first;
    `progress(page_number, cached)` is called after each page."""
    import pypdfium2 as pdfium

    out: dict[int, OcrPage] = {}
    pdf = pdfium.PdfDocument(data)
    try:
        for n in numbers:
            image = render_page(pdf, n - 1)
            key = image_key(image)
            page = cache.get(key) if cache is not None else None
            cached = page is not None
            if page is None:
                page = read_image(image)
                if cache is not None:
                    cache.put(key, page)
            out[n] = page
            if progress:
                progress(n, cached)
    finally:
        pdf.close()
    return out
