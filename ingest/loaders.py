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
from .text import has_words

PDF_MAGIC = b"%PDF-"
NO_TEXT_LAYER = "no text layer (scanned/image-only PDF; OCR not available)"
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


def load_document(path: Path, name: str) -> Document:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise IngestError(name, f"cannot read file ({e.strerror or e.__class__.__name__})") from None
    if not data:
        raise IngestError(name, "empty file (0 bytes)")
    kind = sniff_kind(data, path.suffix)
    if kind == "pdf":
        pages = _read_pdf(data, name)
    else:
        try:
            pages = [Page(1, decode_text(data, name))]
        except IngestError:
            if path.suffix.lower() != ".pdf":
                raise
            raise IngestError(name, "not a PDF (no %PDF- header) and not readable as text") from None
    if not any(has_words(p.text) for p in pages):
        raise IngestError(name, NO_TEXT_LAYER if kind == "pdf" else "no text (blank file)")
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
