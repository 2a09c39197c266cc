"""Loaders: encodings, content sniffing and one-line IngestErrors, on real generated files."""
from __future__ import annotations

import hashlib

import pytest

from ingest.loaders import NO_TEXT_FOUND, NO_TEXT_LAYER_NO_OCR, load_document, sniff_kind
from ingest.ocr import ocr_available
from ingest.model import IngestError
from tests.pdfgen import CJK_FONT, make_encrypted_pdf, make_image_only_pdf, make_pdf

ZH = "全球数字治理白皮书\n一、数字全球化与全球治理新挑战\n2020年，数字全球化及全球治理面临新挑战。\n"


def _error(path, name="x") -> IngestError:
    with pytest.raises(IngestError) as ei:
        load_document(path, name)
    e = ei.value
    assert e.path == name
    assert e.reason and "\n" not in e.reason and len(e.reason) < 140
    assert str(e) == f"{name}: {e.reason}"
    return e


@pytest.mark.parametrize(
    "encoding,prefix",
    [("gbk", b""), ("gb18030", b""), ("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"), ("utf-16", b"")],
)
def test_text_encodings(tmp_path, encoding, prefix):
    p = tmp_path / "doc.txt"
    p.write_bytes(prefix + ZH.encode(encoding))  # Python's utf-16 writes a BOM
    doc = load_document(p, "doc.txt")
    assert doc.kind == "txt"
    assert len(doc.pages) == 1 and doc.pages[0].number == 1
    assert doc.pages[0].text == ZH
    assert not doc.pages[0].text.startswith("\ufeff")
    assert doc.title == "全球数字治理白皮书"
    assert doc.sha256 == hashlib.sha256(p.read_bytes()).hexdigest()


def test_crlf_and_markdown(tmp_path):
    p = tmp_path / "notes.md"
    p.write_bytes("# Title here\r\n\r\nSome text.\r\n".encode())
    doc = load_document(p, "notes.md")
    assert doc.kind == "md"
    assert doc.pages[0].text == "# Title here\n\nSome text.\n"
    assert doc.title == "Title here"


def test_pdf_pages_and_cjk_font(tmp_path):
    p = make_pdf(tmp_path / "a.pdf", [["全球数字治理白皮书", "第一页 正文"], ["第二页 正文"]], font=CJK_FONT)
    doc = load_document(p, "a.pdf")
    assert doc.kind == "pdf"
    assert [pg.number for pg in doc.pages] == [1, 2]
    assert "全球数字治理白皮书" in doc.pages[0].text
    assert "第二页" in doc.pages[1].text
    assert doc.title == "全球数字治理白皮书"


def test_sniffing_beats_the_suffix(tmp_path):
    pdf = make_pdf(tmp_path / "real.pdf", [["Hello from a PDF"]])
    as_txt = tmp_path / "looks_like.txt"
    as_txt.write_bytes(pdf.read_bytes())
    doc = load_document(as_txt, "looks_like.txt")
    assert doc.kind == "pdf" and "Hello from a PDF" in doc.pages[0].text

    as_pdf = tmp_path / "looks_like.pdf"
    as_pdf.write_text("plain words, not a PDF\n", encoding="utf-8")
    doc = load_document(as_pdf, "looks_like.pdf")
    assert doc.kind == "txt" and doc.pages[0].text.startswith("plain words")
    assert sniff_kind(b"junk\n%PDF-1.7\n...") == "pdf"


def test_zero_byte(tmp_path):
    p = tmp_path / "empty.pdf"
    p.write_bytes(b"")
    assert "empty" in _error(p).reason


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_truncated_pdf(tmp_path, cut):
    src = make_pdf(tmp_path / "ok.pdf", [["some text"] * 5] * 3)
    data = src.read_bytes()
    p = tmp_path / "cut.pdf"
    p.write_bytes(data[: int(len(data) * cut)])
    assert _error(p).reason.startswith("damaged PDF")


def test_garbage_after_pdf_magic(tmp_path):
    p = tmp_path / "junk.pdf"
    p.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 4)
    assert _error(p).reason.startswith("damaged PDF")


def test_encrypted_needs_password(tmp_path):
    p = make_encrypted_pdf(tmp_path / "locked.pdf", [["secret text"]], user_password="s3cret")
    assert _error(p).reason == "encrypted (password required)"


def test_encrypted_with_empty_password_is_read(tmp_path):
    p = make_encrypted_pdf(tmp_path / "open.pdf", [["readable text"]], user_password="")
    doc = load_document(p, "open.pdf")
    assert "readable text" in doc.pages[0].text


@pytest.mark.slow  # OCR of the scanned pages
def test_image_only_pdf(tmp_path):
    p = make_image_only_pdf(tmp_path / "scan.pdf", n_pages=2)
    # drawings only: OCR (when installed) finds no text on them; without it the reason says how to get OCR
    assert _error(p).reason == (NO_TEXT_FOUND if ocr_available() else NO_TEXT_LAYER_NO_OCR)


def test_undecodable_text(tmp_path):
    p = tmp_path / "bad.txt"
    p.write_bytes(b"abc \x80\x80\xff\xfe\x80 def" * 10)
    assert _error(p).reason.startswith("undecodable text")


def test_binary_file_named_txt(tmp_path):
    p = tmp_path / "bin.txt"
    p.write_bytes(b"\x00\x01\x02\x03" * 100)
    assert _error(p).reason.startswith("undecodable text")
