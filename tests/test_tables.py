"""Tables in text PDFs (issue 14): ruled and whitespace-aligned tables made with reportlab, in
English and Chinese, come out as Markdown table chunks in their section, not flattened into the
prose; a figure asked about is answered from the table and cited to its page."""
from __future__ import annotations

import pytest

from ingest.model import ChunkSettings
from ingest.pipeline import ingest_file
from ingest.sections import document_text
from qa.lead import is_pure
from tests.helpers import OTHERS, SMALL_CORPUS, wpqa_json, write_config
from tests.pdfgen import CJK_FONT, make_table_pdf

EN_HEADER = ["Region", "2019", "2020", "2021"]
EN_ROWS = [["Asia", "12.5", "13.1", "14.8"], ["Europe", "9.2", "9.0", "9.7"],
           ["Americas", "10.4", "10.9", "11.6"], ["Africa", "2.1", "2.4", "2.9"]]
ZH_HEADER = ["地区", "2019年", "2020年", "2021年"]
ZH_ROWS = [["亚洲", "52.6", "57.3", "63.8"], ["欧洲", "41.2", "40.7", "44.9"], ["非洲", "6.4", "7.1", "8.8"]]
EN_PROSE = [
    ["Digital Trade Outlook", "1. Overview",
     "Cross-border data flows grew quickly over the last three years in every region of the world.",
     "Governments negotiate rules on electronic commerce, data localisation and digital taxes.",
     "This outlook reviews the value of digital trade and the rules that shape it."]]
# The Chinese report counts another thing (digital-services exports) than the English one, so a
# question about one table has one right answer in the corpus.
ZH_PROSE = [["数字服务出口展望", "一、总体情况", "近三年来，全球数字服务出口快速增长，各地区出口规模持续扩大。",
             "各国围绕电子商务、数据本地化和数字税等议题开展规则谈判。", "本报告回顾数字服务出口规模及其规则环境。"]]


def _en_pdf(path, ruled=True):
    return make_table_pdf(path, ["2. Regional figures",
                                 "The table below gives the value of digital trade by region."],
                          "Table 1 Digital trade by region (USD billion)", EN_HEADER, EN_ROWS,
                          after=["Asia grew fastest in every year shown."], ruled=ruled, pages_before=EN_PROSE)


def _zh_pdf(path, ruled=True):
    return make_table_pdf(path, ["二、分地区情况", "下表列出各地区数字服务出口规模。"],
                          "表1 各地区数字服务出口规模（亿美元）", ZH_HEADER, ZH_ROWS,
                          after=["亚洲在各年均增长最快。"], ruled=ruled, font=CJK_FONT, pages_before=ZH_PROSE)


def _md_row(cells):
    return "| " + " | ".join(cells) + " |"


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("ruled", [True, False], ids=["ruled", "borderless"])
def test_table_becomes_a_markdown_chunk_in_its_section(tmp_path, lang, ruled):
    make = _en_pdf if lang == "en" else _zh_pdf
    header, rows = (EN_HEADER, EN_ROWS) if lang == "en" else (ZH_HEADER, ZH_ROWS)
    caption = "Table 1 Digital trade by region (USD billion)" if lang == "en" else "表1各地区数字服务出口规模（亿美元）"
    section = "2. Regional figures" if lang == "en" else "二、分地区情况"
    doc = ingest_file(make(tmp_path / "t.pdf", ruled), tmp_path, ChunkSettings())
    full = document_text(doc.sections)
    tables = [c for c in doc.chunks if c.text.lstrip().startswith(caption)]
    assert len(tables) == 1, [c.text for c in doc.chunks]
    t = tables[0]
    assert t.text == "\n".join([caption, _md_row(header), _md_row(["---"] * 4)] + [_md_row(r) for r in rows])
    assert (t.page, t.page_end) == (2, 2)
    assert t.section_path[-1] == section
    assert full[t.start:t.end] == t.text
    # the figures are not also left flattened in the prose
    prose = "\n".join(c.text for c in doc.chunks if c is not t)
    for r in rows:
        for cell in r[1:]:
            assert cell not in prose, (cell, prose)
    # the prose around the table is still there, in the same section
    after = "Asia grew fastest in every year shown." if lang == "en" else "亚洲在各年均增长最快。"
    assert any(after in c.text and c.section_path[-1] == section for c in doc.chunks)


def test_long_table_is_split_by_rows_with_the_header_repeated(tmp_path):
    rows = [[f"Port {i}", f"{i * 3}.{i % 10}", f"{i * 4}.5", f"{100 + i}"] for i in range(1, 41)]
    header = ["Port", "Tonnage", "Share", "Berths"]
    p = make_table_pdf(tmp_path / "long.pdf", ["Harbour Statistics", "1. Ports"], "Table 2 Ports in 2021",
                       header, rows[:30], ruled=True, size=8)
    doc = ingest_file(p, tmp_path, ChunkSettings(max_tokens=60))
    parts = [c for c in doc.chunks if "| Port | Tonnage | Share | Berths |" in c.text]
    assert len(parts) >= 3
    seen = []
    for n, c in enumerate(parts):
        lines = c.text.split("\n")
        assert lines[0] == ("Table 2 Ports in 2021" if n == 0 else "Table 2 Ports in 2021 (continued)")
        assert lines[1:3] == ["| Port | Tonnage | Share | Berths |", "| --- | --- | --- | --- |"]
        seen += lines[3:]
    assert seen == [_md_row(r) for r in rows[:30]]  # every row once, in order


def test_prose_pdf_has_no_table_chunks(tmp_path):
    from tests.pdfgen import make_pdf

    p = make_pdf(tmp_path / "prose.pdf", [["Contents", "1. Scope ........ 2", "2. Rules ........ 3",
                                           "3. Outlook ........ 4"], EN_PROSE[0]])
    doc = ingest_file(p, tmp_path, ChunkSettings())
    assert not any(t for pg in doc.document.pages for t in pg.tables)
    assert not any(c.text.startswith("|") or "\n|" in c.text for c in doc.chunks)


@pytest.fixture(scope="module")
def table_corpus(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tables")
    corpus = tmp / "corpus"
    corpus.mkdir()
    _en_pdf(corpus / "trade-outlook.pdf", ruled=True)
    _zh_pdf(corpus / "数字服务出口展望.pdf", ruled=False)
    for name, text in OTHERS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    cfg = write_config(tmp / "config.toml", SMALL_CORPUS)
    args = ["--config", str(cfg), "--corpus", str(corpus), "--index-dir", str(tmp / "index")]
    wpqa_json(*args, "index", "--json")
    return args


CASES = [
    ("What was the value of digital trade in Europe in 2020?", "trade-outlook.pdf", "9.0"),
    ("2020年欧洲的数字服务出口规模是多少亿美元？", "数字服务出口展望.pdf", "40.7"),
]


@pytest.mark.slow
@pytest.mark.parametrize("question,doc,figure", CASES, ids=["en", "zh"])
def test_figure_in_a_table_is_answered_and_cited_to_its_page(table_corpus, question, doc, figure):
    rec = wpqa_json(*table_corpus, "ask", question, "--llm", "extractive", "--json")
    assert not rec["abstained"], rec
    # retrieval brings the table itself (the other language's table of the same shape may rank first)
    assert any(c["doc"] == doc and figure in c["text"] and "| --- |" in c["text"] for c in rec["contexts"][:2])
    assert rec["citations"][0]["doc"] == doc, rec["citations"]
    assert figure in rec["answer"]
    cites = [c for c in rec["citations"] if figure in c["quote"]]
    assert cites and all(c["doc"] == doc and c["page"] == 2 for c in cites), rec["citations"]


@pytest.mark.llm
@pytest.mark.parametrize("question,doc,figure", CASES, ids=["en", "zh"])
def test_the_bundled_model_answers_a_table_figure_with_its_number_and_page(table_corpus, question, doc, figure):
    """With the default answer model: the lead states the table's figure (the model reads the table
    row by row, not flattened), in the question's language, cited to the table's page."""
    rec = wpqa_json(*table_corpus, "ask", question, "--llm", "llama-cpp", "--json")
    assert not rec["abstained"], rec["flags"]
    body = rec["answer"].split("\n\n> ")[0]
    assert figure in body, rec["answer"]
    assert not any(f in body for f in ("9.2", "9.7", "41.2", "44.9")), body  # not a neighbouring cell
    assert is_pure(body, "zh" if "年" in question else "en"), body
    assert rec["citations"][0]["doc"] == doc and rec["citations"][0]["page"] == 2, rec["citations"]
