"""Read one file into a Document: PDF page by page, or a text file as a single page.

The kind is decided from the file's bytes (magic number), not only from its suffix: a PDF
named .txt is read as a PDF, a text file named .pdf is read as text. Every failure is an
IngestError with a short one-line reason.
"""
from __future__ import annotations

import codecs
import hashlib
import io
import logging
import re
from pathlib import Path

from .model import Document, IngestError, Page
from .tables import find_tables
from .ocr import OCR_HINT, needs_ocr, ocr_available, ocr_pdf_pages
from .ocr_repair import repair_heading_numbers, splitter_for
from .text import has_words

PDF_MAGIC = b"%PDF-"
NO_TEXT_LAYER_NO_OCR = f"no text layer (scanned/image-only PDF; OCR not available: {OCR_HINT})"
NO_TEXT_FOUND = "no text layer (scanned/image-only PDF) and OCR found no text on its pages"
# What a scan without any readable text is skipped with on this installation.
NO_TEXT_LAYER = NO_TEXT_FOUND if ocr_available() else NO_TEXT_LAYER_NO_OCR
ENCRYPTED = "encrypted (password required)"

_PAGE_NO = re.compile(r"^\s*(?:[-–—]\s*)?\d{1,4}(?:\s*[-–—])?\s*$")
_CTRL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# C0/C1 control characters never belong to the text; ESC and CSI would let a document drive the
# terminal that prints an answer quoting it. Vertical tab and form feed become line breaks.
_STRIP = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")


def sniff_kind(data: bytes, suffix: str = "") -> str:
    """'pdf' when the bytes carry the PDF header (within the first 1 KiB, as the spec allows),
    else 'md' for a .md name and 'txt' for anything else."""
    if PDF_MAGIC in data[:1024]:
        return "pdf"
    return "md" if suffix.lower() in (".md", ".markdown") else "txt"


def load_document(path: Path, name: str, ocr_cache=None, on_ocr_page=None) -> Document:
    """Read a file. PDF pages without a usable text layer are OCR'd when the `ocr` extra is
    installed (results kept in `ocr_cache`, an ingest.ocr_cache.OcrCache, when given;
    `on_ocr_page(page_number, cached)` reports each page read)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise IngestError(name, f"cannot read file ({e.strerror or e.__class__.__name__})") from None
    if not data:
        raise IngestError(name, "empty file (0 bytes)")
    kind = sniff_kind(data, path.suffix)
    ocr_problem = ""
    if kind == "pdf":
        pages = _read_pdf(data, name)
        ocr_problem = _ocr_scanned_pages(data, pages, ocr_cache, on_ocr_page)
        find_tables(data, pages)
    else:
        try:
            pages = [Page(1, decode_text(data, name))]
        except IngestError:
            if path.suffix.lower() != ".pdf":
                raise
            raise IngestError(name, "not a PDF (no %PDF- header) and not readable as text") from None
    if not any(has_words(p.text) for p in pages):
        raise IngestError(name, (ocr_problem or NO_TEXT_LAYER) if kind == "pdf" else "no text (blank file)")
    return Document(
        name=name,
        path=str(path.resolve()),
        sha256=hashlib.sha256(data).hexdigest(),
        kind=kind,
        pages=pages,
        title=first_meaningful_line(pages),
    )


# ---------------------------------------------------------------------------- PDF


def _read_pdf(data: bytes, name: str) -> list[Page]:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

    log = logging.getLogger("pypdf")
    old = log.level
    log.setLevel(logging.ERROR)  # pypdf logs warnings such as "EOF marker not found"
    try:
        try:
            reader = PdfReader(io.BytesIO(data))
        except DependencyError as e:
            raise IngestError(name, f"cannot open PDF ({_one_line(e)})") from None
        except Exception as e:  # pypdf raises many types on damaged input
            raise IngestError(name, f"damaged PDF ({_one_line(e)})") from None
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except DependencyError:
                raise IngestError(name, "encrypted (AES; reading it needs the 'cryptography' package)") from None
            except Exception as e:
                raise IngestError(name, f"encrypted ({_one_line(e)})") from None
            if not ok:
                raise IngestError(name, ENCRYPTED)
        try:
            n = len(reader.pages)
        except Exception as e:
            raise IngestError(name, f"damaged PDF ({_one_line(e)})") from None
        if n == 0:
            raise IngestError(name, "damaged PDF (no pages)")
        pages = []
        for i in range(n):
            try:
                text = reader.pages[i].extract_text() or ""
            except FileNotDecryptedError:
                raise IngestError(name, ENCRYPTED) from None
            except PdfReadError as e:
                raise IngestError(name, f"damaged PDF (page {i + 1}: {_one_line(e)})") from None
            except Exception as e:
                raise IngestError(name, f"damaged PDF (page {i + 1}: {_one_line(e)})") from None
            pages.append(Page(i + 1, _strip_controls(_normalise_newlines(text))))
        return pages
    finally:
        log.setLevel(old)


def _ocr_scanned_pages(data: bytes, pages: list[Page], cache, progress) -> str:
    """Replace the text of pages without a usable text layer by what OCR reads on them. Returns
    the reason to give when OCR was needed but no page came out readable ("" otherwise)."""
    todo = [p for p in pages if needs_ocr(p.text)]
    if not todo:
        return ""
    if not ocr_available():
        return NO_TEXT_LAYER_NO_OCR
    numbers = [p.number for p in todo]  # in page order
    read = ocr_pdf_pages(data, numbers, cache, progress)
    # heading numbers are repaired through the document in page order: "lIl." after "I." is "II."
    repaired = dict(zip(numbers, repair_heading_numbers([read[n].text for n in numbers])))
    # the document's words (its text pages too) tell glued English words from words the list lacks
    splitter = splitter_for(list(repaired.values()) + [p.text for p in pages if p.number not in repaired])
    problems = []
    for p in todo:
        result = read[p.number]
        if result.text:
            text = _strip_controls(repaired[p.number])
            p.text, p.ocr = (splitter.fix(text) if splitter else text), True
        elif has_words(p.text):
            continue  # a few real characters on an otherwise empty page: kept as they are
        else:
            p.text = ""
            problems.append(f"page {p.number}: {result.problem}")
    noise = [x for x in problems if "no text on the page image" not in x]
    if noise:
        more = f" (+{len(noise) - 1} more)" if len(noise) > 1 else ""
        return f"no text layer (scanned/image-only PDF) and OCR could not read it: {noise[0]}{more}"
    return NO_TEXT_FOUND


def _one_line(e: Exception) -> str:
    msg = " ".join(str(e).split()) or e.__class__.__name__
    return msg[:120]


# ---------------------------------------------------------------------------- text

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def decode_text(data: bytes, name: str = "") -> str:
    """UTF-8 (with or without BOM), UTF-16/32 with BOM, else GB18030 (a superset of GBK/GB2312)."""
    text = None
    for bom, enc in _BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom):].decode(enc)
            except UnicodeDecodeError:
                raise IngestError(name, f"undecodable text (bad {enc.upper()} after BOM)") from None
            break
    if text is None:
        if b"\x00" in data:
            raise IngestError(name, "undecodable text (binary data, not a text file)")
        for enc in ("utf-8", "gb18030"):
            try:
                text = data.decode(enc)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise IngestError(name, "undecodable text (not UTF-8, UTF-16 or GBK/GB18030)")
    text = _normalise_newlines(text)
    if len(_CTRL.findall(text)) > max(8, len(text) // 100):
        raise IngestError(name, "undecodable text (control characters; binary file?)")
    return _strip_controls(text)


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")


def _strip_controls(text: str) -> str:
    return _STRIP.sub("", text.replace("\x0b", "\n").replace("\x0c", "\n"))


def first_meaningful_line(pages: list[Page]) -> str:
    """The first line with letters or CJK characters that is not a bare page number."""
    for p in pages:
        for line in p.text.split("\n"):
            s = " ".join(line.split()).lstrip("#").strip()
            if s and has_words(s) and not _PAGE_NO.match(s):
                return s[:200]
    return ""
