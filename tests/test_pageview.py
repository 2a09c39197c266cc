"""wpqa.pageview: a cited PDF page rendered with its quote highlighted, and a text document as
HTML with the quote marked. Real corpus PDFs (sentences picked here with pdfplumber, another
reader than the pdfium text layer the highlighter uses) and small PDFs drawn with reportlab at
known positions. No model, no index."""
from __future__ import annotations

import io
import math
import re
from pathlib import Path

import numpy as np
import pdfplumber
import pytest
from PIL import Image
from pypdf import PdfReader, PdfWriter
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas

from tests.helpers import CORPUS
from tests.pdfgen import CJK_FONT, _font, make_image_only_pdf
from wpqa.pageview import PageImage, highlight_text_html, locate, pdf_page_has_quote, render_pdf_page

EN = CORPUS / "Leading the Development of International Rules for the Digital Economy.pdf"
ZH = CORPUS / "全球数字治理白皮书(2020年).pdf"
SCALE = 1.6


# --- helpers ------------------------------------------------------------------------------------

def yellow(png: bytes) -> np.ndarray:
    """Boolean mask of highlighter-yellow pixels (white paper under the highlight)."""
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    return (rgb[..., 0] > 200) & (rgb[..., 1] > 170) & (rgb[..., 2] < 140)


def page_sentences(path: Path, page_no: int, min_len: int = 60) -> list[tuple[str, list[dict]]]:
    """Sentences of a page (its running head left out) as a quote shows them, on one line, each
    with its pdfplumber characters; only sentences found once on this page and on no other."""
    with pdfplumber.open(path) as pdf:
        streams = []
        for p in pdf.pages:
            chars = [c for c in p.chars if c["text"].strip()]
            streams.append(("".join(c["text"] for c in chars), chars))
        text = "\n".join(pdf.pages[page_no - 1].extract_text().splitlines()[1:])
    stream, chars = streams[page_no - 1]
    out = []
    for s in re.split(r"(?<=[.。；!?！？])\s*", " ".join(text.split())):
        key = "".join(s.split())
        at = stream.find(key)
        if len(s) < min_len or at < 0 or stream.find(key, at + 1) >= 0:
            continue
        if any(key in other for i, (other, _) in enumerate(streams) if i != page_no - 1):
            continue
        out.append((s, chars[at:at + len(key)]))
    return out


def pick(path: Path, page_no: int) -> tuple[str, list[dict]]:
    """The longest sentence of `page_sentences` up to 400 characters."""
    cands = [x for x in page_sentences(path, page_no) if len(x[0]) <= 400]
    assert cands, f"no usable sentence on page {page_no} of {path.name}"
    return max(cands, key=lambda x: len(x[0]))


def px(v: float) -> int:
    return int(round(v * SCALE))


def size(points: float, scale: float = SCALE) -> int:
    """An image side in pixels: pdfium rounds a page's size times the scale up."""
    return math.ceil(points * scale)


def assert_highlights(img: PageImage, chars: list[dict]) -> None:
    """Every character of the sentence lies on yellow, and nothing outside the sentence's lines
    is yellow."""
    mask = yellow(img.png)
    assert mask.shape == (img.height, img.width)
    for c in chars:
        box = mask[px(c["top"]):px(c["bottom"]), px(c["x0"]):px(c["x1"])]
        assert box.size and box.mean() > 0.25, f"character {c['text']!r} at {c['x0']:.0f},{c['top']:.0f} not highlighted"
    top, bottom = min(c["top"] for c in chars), max(c["bottom"] for c in chars)
    outside = mask.copy()
    outside[px(top - 6):px(bottom + 6), :] = False  # the highlight spans the font's full line height
    assert outside.sum() == 0, "yellow outside the quoted lines"


# --- real reports ---------------------------------------------------------------------------------

def test_english_sentence_is_highlighted_where_it_stands():
    sentence, chars = pick(EN, 3)
    img = render_pdf_page(EN, 3, sentence)
    assert img.found and img.pages == 3
    assert img.png.startswith(b"\x89PNG")
    assert_highlights(img, chars)
    plain = render_pdf_page(EN, 3, "")
    assert not plain.found and yellow(plain.png).sum() == 0  # the yellow is the highlight's


def test_chinese_sentence_is_highlighted_where_it_stands():
    sentence, chars = pick(ZH, 7)
    img = render_pdf_page(ZH, 7, sentence)
    assert img.found and img.pages == 26
    assert_highlights(img, chars)


def test_whitespace_line_breaks_and_punctuation_width_do_not_matter():
    sentence, chars = pick(ZH, 7)
    # a space between every Chinese character, line breaks, half-width commas and brackets
    messy = "\n".join(" ".join(sentence[i:i + 9]) for i in range(0, len(sentence), 9))
    messy = messy.replace("，", ",").replace("“", '"').replace("”", '"')
    img = render_pdf_page(ZH, 7, messy)
    assert img.found
    assert_highlights(img, chars)

    en, en_chars = pick(EN, 3)
    words = en.split()
    broken = "\n".join(" ".join(words[i:i + 5]) for i in range(0, len(words), 5))
    img = render_pdf_page(EN, 3, "  " + broken.upper() + "\n")
    assert img.found
    assert_highlights(img, en_chars)


def test_hyphen_at_a_line_end():
    """pdfium marks a word broken over a line ("Trans-" / "Pacific") with its own character; the
    quote has the word whole, with or without the hyphen."""
    sentence, chars = next(x for x in page_sentences(EN, 3) if "Trans- Pacific" in x[0])
    for q in (sentence.replace("Trans- Pacific", "Trans-Pacific"), sentence.replace("Trans- Pacific", "TransPacific")):
        img = render_pdf_page(EN, 3, q)
        assert img.found
        assert_highlights(img, chars)


def test_quote_from_another_page_is_not_found():
    sentence, _ = pick(ZH, 7)
    for page in (12, 8, 6):  # far away, and both neighbours (the quote lies wholly on page 7)
        img = render_pdf_page(ZH, page, sentence)
        assert not img.found and not img.boxes
        assert yellow(img.png).sum() == 0
        assert not pdf_page_has_quote(ZH, page, sentence)
    assert pdf_page_has_quote(ZH, 7, sentence)
    en, _ = pick(EN, 3)
    assert not render_pdf_page(EN, 1, en).found


def test_a_quote_over_a_page_break_is_found_on_both_pages():
    """The end of page 9's body and the start of page 10's, as one sentence of cleaned text
    (running head and page number dropped)."""
    with pdfplumber.open(ZH) as pdf:
        end = pdf.pages[8].extract_text().splitlines()[-2]  # last body line (the page number follows)
        start = pdf.pages[9].extract_text().splitlines()[1]  # first body line (after the running head)
    quote = end[-14:] + start[:20]
    first = render_pdf_page(ZH, 9, quote)
    second = render_pdf_page(ZH, 10, quote)
    assert first.found and second.found
    rows = np.nonzero(yellow(first.png).any(axis=1))[0]
    assert rows.min() > 0.6 * first.height  # the bottom of page 9
    rows = np.nonzero(yellow(second.png).any(axis=1))[0]
    assert rows.max() < 0.4 * second.height  # the top of page 10


def test_page_out_of_range():
    for page in (0, -1, 27):
        with pytest.raises(ValueError, match="out of range"):
            render_pdf_page(ZH, page, "数字")
        with pytest.raises(ValueError):
            pdf_page_has_quote(ZH, page, "数字")
    assert render_pdf_page(ZH, 26, "").pages == 26


def test_scanned_page_renders_without_highlight(tmp_path):
    scan = make_image_only_pdf(tmp_path / "scan.pdf")
    img = render_pdf_page(scan, 1, "anything at all that could be quoted")
    assert not img.found and img.pages == 1
    assert (img.width, img.height) == (size(A4[0]), size(A4[1]))
    assert Image.open(io.BytesIO(img.png)).size == (img.width, img.height)


# --- a PDF with text at known places --------------------------------------------------------------

LINE = "The quick brown fox jumps over the lazy dog near the river bank."
ZH_LINE = "数字经济蓬勃发展，深刻改变全球治理格局。"


def known_pdf(path: Path, rotate: int = 0) -> Path:
    """A4, Helvetica 12 at (72, 700) and (72, 300); STSong 14 at (100, 500)."""
    c = canvas.Canvas(str(path), pagesize=A4, invariant=1)
    c.setFont("Helvetica", 12)
    c.drawString(72, 700, LINE)
    c.drawString(72, 300, "A different line lower on the page, not quoted here.")
    c.setFont(_font(CJK_FONT), 14)
    c.drawString(100, 500, ZH_LINE)
    c.showPage()
    c.save()
    if rotate:
        writer = PdfWriter(clone_from=PdfReader(str(path)))
        writer.pages[0].rotate(rotate)
        writer.write(str(path))
    return path


def expected_box(prefix: str, quote: str, x: float, baseline: float, font: str, size: float):
    """(x0, x1, y_top, y_bottom) of `quote` in PDF points, y up: the text's advance widths, its
    baseline, a cap height above and a descent below."""
    x0 = x + stringWidth(prefix, font, size)
    return x0, x0 + stringWidth(quote, font, size), baseline + 0.7 * size, baseline - 0.2 * size


def test_box_lands_on_known_english_text(tmp_path):
    pdf = known_pdf(tmp_path / "known.pdf")
    img = render_pdf_page(pdf, 1, "quick  brown\nfox jumps")
    assert img.found and len(img.boxes) == 1
    x0, y0, x1, y1 = img.boxes[0]
    ex0, ex1, top, bottom = expected_box("The ", "quick brown fox jumps", 72, 700, "Helvetica", 12)
    height = A4[1]
    assert abs(x0 - ex0 * SCALE) <= 3 and abs(x1 - ex1 * SCALE) <= 3
    assert y0 <= (height - top) * SCALE and y1 >= (height - bottom) * SCALE  # covers the glyphs
    assert y1 - y0 < 20 * SCALE  # one line high
    mask = yellow(img.png)
    assert mask[y0:y1, x0:x1].mean() > 0.4
    outside = mask.copy()
    outside[y0 - 2:y1 + 2, x0 - 2:x1 + 2] = False
    assert outside.sum() == 0


def test_box_lands_on_known_chinese_text(tmp_path):
    pdf = known_pdf(tmp_path / "known.pdf")
    img = render_pdf_page(pdf, 1, "深刻 改变 全球 治理")
    assert img.found and len(img.boxes) == 1
    x0, y0, x1, y1 = img.boxes[0]
    ex0, ex1, top, bottom = expected_box("数字经济蓬勃发展，", "深刻改变全球治理", 100, 500, CJK_FONT, 14)
    assert abs(x0 - ex0 * SCALE) <= 3 and abs(x1 - ex1 * SCALE) <= 3
    assert y0 <= (A4[1] - top) * SCALE and y1 >= (A4[1] - bottom) * SCALE


def test_box_follows_page_rotation(tmp_path):
    """/Rotate 90: the page shows turned clockwise, a point (x, y) of the page lands at pixel
    (y, x) times the scale."""
    pdf = known_pdf(tmp_path / "rotated.pdf", rotate=90)
    img = render_pdf_page(pdf, 1, "quick brown fox jumps")
    assert (img.width, img.height) == (size(A4[1]), size(A4[0]))
    assert img.found and len(img.boxes) == 1
    x0, y0, x1, y1 = img.boxes[0]
    ex0, ex1, top, bottom = expected_box("The ", "quick brown fox jumps", 72, 700, "Helvetica", 12)
    assert abs(y0 - ex0 * SCALE) <= 3 and abs(y1 - ex1 * SCALE) <= 3
    assert x0 <= bottom * SCALE + 2 and x1 >= top * SCALE - 2  # covers the glyphs (pixel rounding aside)
    assert yellow(img.png)[y0:y1, x0:x1].mean() > 0.4


def test_scale_and_missing_quote(tmp_path):
    pdf = known_pdf(tmp_path / "known.pdf")
    img = render_pdf_page(pdf, 1, "words that are on no page of this document at all", scale=1.0)
    assert not img.found and not img.boxes and (img.width, img.height) == (size(A4[0], 1.0), size(A4[1], 1.0))
    assert yellow(img.png).sum() == 0
    # a short quote must be there whole; a near miss is not shown
    assert not render_pdf_page(pdf, 1, "quick red fox").found
    assert render_pdf_page(pdf, 1, "lazy dog").found


# --- text documents ----------------------------------------------------------------------------

def test_text_document_marks_the_quote():
    text = ("# Report <draft>\n\nThe inter-\nnational community calls for a new\n"
            "global digital governance system & more.\n\n数字 经济 蓬勃 发展，深刻\n改变 全球 格局。\n")
    html = highlight_text_html(text, "The international community calls for a new global digital governance system")
    assert html.count("<mark") == 1
    assert '<mark id="hl">The inter-\nnational community calls for a new\nglobal digital governance system</mark>' in html
    assert "&lt;draft&gt;" in html and "&amp; more" in html and "<draft>" not in html

    html = highlight_text_html(text, "数字经济蓬勃发展, 深刻改变全球格局.")
    assert '<mark id="hl">数字 经济 蓬勃 发展，深刻\n改变 全球 格局。</mark>' in html

    html = highlight_text_html(text, "a sentence the document does not hold anywhere")
    assert "<mark" not in html and html.startswith("# Report &lt;draft&gt;")


def test_text_document_with_a_quote_that_differs_a_little():
    """A quote of cleaned text can differ from the file (a dropped footnote mark, a changed
    word): the pieces that agree are marked when they make up most of it."""
    text = ("Intro paragraph about something else entirely.\n"
            "Cross-border data flows[12] have become the focus of global governance, and the rules "
            "on them are being written in bilateral agreements.\nClosing words.")
    quote = ("Cross-border data flows have become the focus of global governance, and the rules "
             "on them are being shaped in bilateral agreements.")
    spans = locate(text, quote)
    assert spans
    marked = "".join(text[a:b] for a, b in spans)
    assert marked.startswith("Cross-border data flows") and marked.endswith("bilateral agreements.")
    html = highlight_text_html(text, quote)
    assert html.count('<mark id="hl">') == 1
    assert "Intro paragraph" not in html.split("<mark")[1]
