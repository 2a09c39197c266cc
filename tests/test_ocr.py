"""Scanned reports (issue 14): image-only PDFs made by rendering pages of the bundled corpus (so
the true text is the page's own text layer), read back by the real OCR engine (RapidOCR,
PP-OCRv4) and run through the normal cleaning, sections and chunking."""
from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from difflib import SequenceMatcher

import pytest

from ingest.loaders import load_document
from ingest.model import ChunkSettings, IngestError
from ingest.ocr import OCR_HINT, needs_ocr, ocr_available
from ingest.ocr_cache import OcrCache
from ingest.pipeline import ingest_file
from tests.helpers import CORPUS, OTHERS, ROOT, SMALL_CORPUS, wpqa, wpqa_json, write_config
from tests.pdfgen import make_noise_pdf, make_pdf, make_scanned_pdf

pytestmark = pytest.mark.skipif(not ocr_available(), reason="the ocr extra is not installed")
ZH = CORPUS / "全球数字治理白皮书(2020年).pdf"
EN = CORPUS / "ITU Contribution - Global Consensus on Digital Governance.pdf"


def accuracy(truth: str, ocr: str) -> float:
    a, b = re.sub(r"\s+", "", truth), re.sub(r"\s+", "", ocr)
    return SequenceMatcher(None, a, b, autojunk=False).ratio()


@pytest.fixture(scope="module")
def ocr_cache(tmp_path_factory):
    """One OCR cache for the module: a page is read once however many tests use it."""
    return OcrCache(tmp_path_factory.mktemp("ocr-cache"))


def test_garbage_text_layer_counts_as_missing():
    assert needs_ocr("") and needs_ocr("  \n ") and needs_ocr("\ufffd\ufffd\ufffd\ue000\ue001 \ufffd\ufffd a")
    assert not needs_ocr("全球数字治理白皮书") and not needs_ocr("Digital governance, 2020.")


@pytest.mark.slow
def test_scanned_chinese_pages_read_like_the_text_pdf(tmp_path, ocr_cache):
    text = make_scanned_pdf(ZH, tmp_path / "text.pdf", pages=[5, 6], text_pages=[5, 6])  # the truth
    scan = make_scanned_pdf(ZH, tmp_path / "scan.pdf", pages=[5, 6])
    seen = []
    want = ingest_file(text, tmp_path, ChunkSettings())
    got = ingest_file(scan, tmp_path, ChunkSettings(), ocr_cache=ocr_cache,
                      on_ocr_page=lambda n, cached: seen.append(n))
    assert seen == [1, 2] and got.document.ocr_pages == [1, 2] and want.document.ocr_pages == []
    for w, g in zip(want.document.pages, got.document.pages):
        assert accuracy(w.text, g.text) >= 0.98
    # headings recovered from the OCR lines, the running header removed, citations on the right page
    assert [s.title for s in got.sections] == [s.title for s in want.sections]
    assert "（一）数字化驱动新一轮全球化" in [s.title for s in got.sections]
    assert not any("白皮书（2020年）" in c.text or "白皮书(2020年)" in c.text for c in got.chunks)
    by_start = {c.text[:12]: c.page for c in want.chunks}
    matched = [c for c in got.chunks if c.text[:12] in by_start]
    assert len(matched) >= 0.8 * len(want.chunks)
    assert all(c.page == by_start[c.text[:12]] for c in matched)


@pytest.mark.slow
def test_mixed_pdf_ocrs_only_the_scanned_page_and_the_cache_reads_it_once(tmp_path, ocr_cache):
    pdf = make_scanned_pdf(EN, tmp_path / "mixed.pdf", pages=[1, 2], text_pages=[2])
    calls = []
    doc = load_document(pdf, "mixed.pdf", ocr_cache=ocr_cache, on_ocr_page=lambda n, c: calls.append((n, c)))
    assert doc.ocr_pages == [1] and [n for n, _ in calls] == [1]
    truth = load_document(make_scanned_pdf(EN, tmp_path / "t.pdf", pages=[1], text_pages=[1]), "t.pdf")
    assert accuracy(truth.pages[0].text, doc.pages[0].text) >= 0.98
    assert "Background" in doc.pages[0].text.split("\n")
    again = []
    load_document(pdf, "mixed.pdf", ocr_cache=ocr_cache, on_ocr_page=lambda n, c: again.append((n, c)))
    assert again == [(1, True)]  # from the cache, not read again


@pytest.mark.slow
def test_scanned_english_report_has_the_section_tree_of_its_text_version(tmp_path, ocr_cache):
    """The 2022 white paper, every page scanned: OCR misreads its heading numbers ("lIl." for II.,
    "(ili)" for (iii)) and glues words; repaired, the sections, their pages and the chunks are
    those of the text PDF, so citations name the same sections."""
    src = CORPUS / "White Paper on Global Digital Governance (2022).pdf"
    want = ingest_file(src, tmp_path, ChunkSettings())
    got = ingest_file(make_scanned_pdf(src, tmp_path / "scan.pdf"), tmp_path, ChunkSettings(), ocr_cache=ocr_cache)
    assert got.document.ocr_pages and want.document.ocr_pages == []
    assert [s.title for s in got.sections] == [s.title for s in want.sections]
    assert [(c.section_path, c.page) for c in got.chunks] == [(c.section_path, c.page) for c in want.chunks]


@pytest.mark.slow
def test_scanned_english_page_keeps_its_words_apart(tmp_path, ocr_cache):
    """PP-OCRv4 drops the space between tightly set English words now and then ("thePeople's",
    "onITUStrategicPlanfor": 0.974 of the page's words came back as words); the loader puts the
    spaces back, so the lexical index and the reader see the words of the text layer."""
    truth = load_document(make_scanned_pdf(EN, tmp_path / "t.pdf", pages=[2], text_pages=[2]), "t.pdf")
    scan = load_document(make_scanned_pdf(EN, tmp_path / "s.pdf", pages=[2]), "s.pdf", ocr_cache=ocr_cache)
    assert scan.ocr_pages == [1]

    def words(text):
        return Counter(w.lower() for w in re.findall(r"[A-Za-z]+", text))

    want, got = words(truth.pages[0].text), words(scan.pages[0].text)
    assert 1 - sum((want - got).values()) / sum(want.values()) >= 0.99
    assert "the People's Republic of China" in scan.pages[0].text
    assert "thepeople" not in got and "onitustrategicplanfor" not in got


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_skewed_scan_keeps_its_lines_in_order(tmp_path, lang):
    """A scan turned by 2.5 degrees: every line read, in order (the test font has no Chinese glyphs
    for the renderer, so the Chinese scan is the top of a corpus page)."""
    if lang == "en":
        src = make_pdf(tmp_path / "src.pdf", [["Harbour Report", "1. Tides",
                                               "Spring tides at Harlow reach four metres in March.",
                                               "The harbour levy funds lighthouse repairs in Portmere."]])
        scan = make_scanned_pdf(src, tmp_path / "skew.pdf", skew=2.5)
    else:
        src = make_scanned_pdf(ZH, tmp_path / "src.pdf", pages=[5], text_pages=[5])
        scan = make_scanned_pdf(ZH, tmp_path / "skew.pdf", pages=[5], skew=2.5, band=(0.0, 0.3))
    truth = [x for x in load_document(src, "src.pdf").pages[0].text.split("\n") if x.strip()]
    got = load_document(scan, "skew.pdf")
    lines = got.pages[0].text.split("\n")
    assert got.ocr_pages == [1] and len(lines) >= 4
    where = [max(range(len(truth)), key=lambda k: accuracy(truth[k], x)) for x in lines]
    assert where == sorted(where) and len(set(where)) == len(where)  # reading order kept, no line merged
    for k, x in zip(where, lines):
        assert accuracy(truth[k], x) >= (0.9 if len(x) > 12 or lang == "en" else 0.0), (truth[k], x)
    assert sum(accuracy(truth[k], x) for k, x in zip(where, lines)) / len(lines) >= 0.95


@pytest.mark.slow
def test_noise_image_is_skipped_with_a_clear_reason(tmp_path):
    with pytest.raises(IngestError) as ei:
        load_document(make_noise_pdf(tmp_path / "noise.pdf"), "noise.pdf")
    reason = ei.value.reason
    assert reason.startswith("no text layer (scanned/image-only PDF) and OCR ")
    assert "page 1" in reason or "found no text" in reason


def test_without_the_ocr_extra_a_scan_is_skipped_with_how_to_enable_ocr(tmp_path):
    """The extra hidden from the import system, as on an installation without it."""
    scan = make_noise_pdf(tmp_path / "scan.pdf")
    code = ("import sys; sys.modules['rapidocr_onnxruntime'] = None\n"
            "from ingest.loaders import load_document\nfrom ingest.model import IngestError\n"
            f"try:\n    load_document({str(scan)!r}, 'scan.pdf')\nexcept IngestError as e:\n    print(e)\n")
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert p.stdout.strip() == f"scan.pdf: no text layer (scanned/image-only PDF; OCR not available: {OCR_HINT})"
    assert "pip install .[ocr]" in p.stdout


@pytest.mark.slow
def test_index_status_inspect_and_ask_on_a_scanned_report(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    src = make_pdf(tmp_path / "src.pdf", [
        ["Lighthouse Survey", "1. Funding", "The harbour levy of Portmere pays for lighthouse repairs.",
         "In 2021 the levy raised 412,000 euros for the northern lights."],
        ["2. Staff", "Seven keepers still live on the Tarrow rocks.", "Their boat calls every second Tuesday."]])
    make_scanned_pdf(src, corpus / "survey-scan.pdf")
    for name, text in OTHERS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    cfg = write_config(tmp_path / "config.toml", SMALL_CORPUS)
    args = ["--config", str(cfg), "--corpus", str(corpus), "--index-dir", str(tmp_path / "index")]
    first = wpqa(*args, "index")
    assert "scanned pages: 2 read by OCR, 0 from the OCR cache" in first.stdout
    again = wpqa(*args, "index", "--rebuild")  # never OCRs a page twice
    assert "scanned pages: 0 read by OCR, 2 from the OCR cache" in again.stdout
    status = wpqa_json(*args, "status", "--json")
    assert status["documents"]["survey-scan.pdf"]["ocr_pages"] == [1, 2]
    assert status["documents"]["tides.md"]["ocr_pages"] == []
    assert re.search(r"survey-scan\.pdf\s+│\s+2\s+│\s+\d+\s+│\s+1-2", wpqa(*args, "status").stdout)
    shown = wpqa(*args, "inspect", str(corpus / "survey-scan.pdf"))
    assert "OCR'd pages (no text layer): 1-2" in shown.stdout and "2. Staff" in shown.stdout
    rec = wpqa_json(*args, "ask", "How many keepers live on the Tarrow rocks?", "--llm", "extractive", "--json")
    assert not rec["abstained"] and "Seven keepers" in rec["answer"]
    assert [(c["doc"], c["section"], c["page"]) for c in rec["citations"]][0] == ("survey-scan.pdf", "2. Staff", 2)
