"""Small PDF generator for tests (reportlab + pypdf). Reusable by anyone's tests.

    make_pdf(path, [["line 1", "line 2"], ["page 2 ..."]])             # one list of lines per page
    make_pdf(path, pages, font="STSong-Light")                        # Chinese (built-in CID font)
    make_pdf(path, pages, header="Running head", footer="{n}")        # running header/footer per page
    make_encrypted_pdf(path, pages, user_password="secret")           # "" = opens without a password
    make_image_only_pdf(path)                                         # drawing only, no text layer
"""
from __future__ import annotations

from pathlib import Path

from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

CJK_FONT = "STSong-Light"
_registered: set[str] = set()


def _font(name: str) -> str:
    if name == CJK_FONT and name not in _registered:
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
        _registered.add(name)
    return name


def make_pdf(
    path: Path | str,
    pages: list[list[str]],
    font: str = "Helvetica",
    size: float = 11,
    header: str | None = None,
    footer: str | None = None,
    leading: float | None = None,
) -> Path:
    """Write a PDF with one page per entry of `pages`, each a list of text lines drawn top-down.

    `header`/`footer` are drawn on every page above/below the body; `{n}` in them is replaced
    by the 1-based page number (e.g. footer="- {n} -")."""
    path = Path(path)
    fname = _font(font)
    lead = leading or size * 1.5
    c = canvas.Canvas(str(path), pagesize=A4, invariant=1)
    width, height = A4
    for n, lines in enumerate(pages, 1):
        c.setFont(fname, size)
        if header is not None:
            c.drawString(72, height - 40, header.replace("{n}", str(n)))
        y = height - 72
        for line in lines:
            c.drawString(72, y, line)
            y -= lead
            if y < 72:
                raise ValueError("too many lines for one page")
        if footer is not None:
            c.drawCentredString(width / 2, 36, footer.replace("{n}", str(n)))
        c.showPage()
    c.save()
    return path


def make_encrypted_pdf(
    path: Path | str, pages: list[list[str]], user_password: str = "secret", owner_password: str = "owner",
    algorithm: str = "RC4-128", **kw
) -> Path:
    """An encrypted PDF (RC4-128 by default; "AES-128" / "AES-256" need the cryptography package).
    With user_password="" it opens without a password (permissions-only encryption)."""
    from pypdf import PdfReader, PdfWriter

    path = Path(path)
    plain = path.with_suffix(".plain.tmp")
    make_pdf(plain, pages, **kw)
    writer = PdfWriter(clone_from=PdfReader(str(plain)))
    writer.encrypt(user_password=user_password, owner_password=owner_password, algorithm=algorithm)
    with open(path, "wb") as fh:
        writer.write(fh)
    plain.unlink()
    return path


def make_image_only_pdf(path: Path | str, n_pages: int = 1) -> Path:
    """Pages holding only drawings (a filled rectangle and an inline bitmap), no text layer:
    what a scan looks like to a text extractor."""
    from PIL import Image

    path = Path(path)
    c = canvas.Canvas(str(path), pagesize=A4, invariant=1)
    img = Image.new("L", (64, 64), color=200)
    for _ in range(n_pages):
        c.setFillGray(0.3)
        c.rect(72, 400, 300, 200, fill=1, stroke=0)
        c.drawInlineImage(img, 72, 100, width=200, height=200)
        c.showPage()
    c.save()
    return path


def make_scanned_pdf(src: Path | str, path: Path | str, pages: list[int] | None = None, scale: float = 2.0,
                     skew: float = 0.0, text_pages: list[int] | None = None,
                     band: tuple[float, float] = (0.0, 1.0)) -> Path:
    """An image-only copy of a real PDF: each chosen page (1-based; all by default) rendered to
    a bitmap (pypdfium2) and placed on a page of the same size, no text layer - a scan whose
    true text is the source page's text. `skew` turns the bitmap by that many degrees (a crooked
    scan). Pages listed in `text_pages` are copied with their text layer instead (a mixed PDF).
    `band` keeps only that part of each scanned page (fractions of its height from the top)."""
    import io

    import pypdfium2 as pdfium
    from pypdf import PdfReader, PdfWriter
    from reportlab.lib.utils import ImageReader

    src, path = Path(src), Path(path)
    doc = pdfium.PdfDocument(str(src))
    numbers = pages or list(range(1, len(doc) + 1))
    text_pages = set(text_pages or [])
    buf = io.BytesIO()
    c = canvas.Canvas(buf, invariant=1)
    for n in numbers:
        page = doc[n - 1]
        w, h = page.get_size()
        img = page.render(scale=scale).to_pil().convert("L")
        if band != (0.0, 1.0):
            img = img.crop((0, int(band[0] * img.size[1]), img.size[0], int(band[1] * img.size[1])))
            h = h * (band[1] - band[0])
        if skew:
            img = img.rotate(skew, expand=True, fillcolor=255)
        c.setPageSize((w, h))
        c.drawImage(ImageReader(img), 0, 0, width=w, height=h)
        c.showPage()
    c.save()
    doc.close()
    scans = PdfReader(io.BytesIO(buf.getvalue()))
    source = PdfReader(str(src))
    writer = PdfWriter()
    for i, n in enumerate(numbers):
        writer.add_page(source.pages[n - 1] if n in text_pages else scans.pages[i])
    with open(path, "wb") as fh:
        writer.write(fh)
    return path


def make_table_pdf(path: Path | str, before: list[str], caption: str, header: list[str], rows: list[list[str]],
                   after: list[str] = (), ruled: bool = True, font: str = "Helvetica", size: float = 10,
                   col_width: float = 110, pages_before: list[list[str]] = ()) -> Path:
    """A text PDF with a table: optional full pages of prose first (`pages_before`), then a page
    with the lines `before`, the `caption`, the table (`header` + `rows`, drawn cell by cell at
    fixed column positions; `ruled` draws the grid lines, else the columns are aligned by
    whitespace only), then the lines `after`."""
    path = Path(path)
    fname = _font(font)
    c = canvas.Canvas(str(path), pagesize=A4, invariant=1)
    width, height = A4
    lead, row_h = size * 1.6, size * 2.0
    for lines in pages_before:
        c.setFont(fname, size)
        y = height - 72
        for line in lines:
            c.drawString(72, y, line)
            y -= lead
        c.showPage()
    c.setFont(fname, size)
    y = height - 72
    for line in before:
        c.drawString(72, y, line)
        y -= lead
    y -= size * 0.5
    c.drawString(72, y, caption)
    y -= lead
    top = y + size * 1.2
    table = [header] + rows
    for r, cells in enumerate(table):
        for k, cell in enumerate(cells):
            c.drawString(72 + 4 + k * col_width, y, cell)
        y -= row_h
    bottom = y + row_h - size * 0.7
    if ruled:
        ncol = len(header)
        for r in range(len(table) + 1):
            yy = top - r * row_h
            c.line(72, yy, 72 + ncol * col_width, yy)
        for k in range(ncol + 1):
            c.line(72 + k * col_width, top, 72 + k * col_width, top - len(table) * row_h)
        y = top - len(table) * row_h - lead
    else:
        y = bottom - lead
    for line in after:
        c.drawString(72, y, line)
        y -= lead
    c.showPage()
    c.save()
    return path


def make_noise_pdf(path: Path | str, seed: int = 7) -> Path:
    """One page holding a full-page image of random grey noise: a 'scan' nothing can be read from."""
    import random

    from PIL import Image
    from reportlab.lib.utils import ImageReader

    rnd = random.Random(seed)
    img = Image.frombytes("L", (200, 280), bytes(rnd.randrange(256) for _ in range(200 * 280)))
    path = Path(path)
    size = (A4[0] / 2, A4[1] / 2)  # A6: a small page keeps the OCR of the noise short
    c = canvas.Canvas(str(path), pagesize=size, invariant=1)
    c.drawImage(ImageReader(img), 0, 0, width=size[0], height=size[1])
    c.showPage()
    c.save()
    return path
