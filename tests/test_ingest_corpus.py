"""End to end on the real corpus PDFs: section trees, clean chunks, eval-set evidence coverage."""
from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest

from ingest.chunking import chunk_document
from ingest.clean import clean_document, is_page_number, running_key
from ingest.model import ChunkSettings, IngestedDocument
from ingest.pipeline import discover, ingest_file
from tests.helpers import load_eval

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
ZH = "全球数字治理白皮书(2020年).pdf"
ITU = "ITU Contribution - Global Consensus on Digital Governance.pdf"
NEWS = "Leading the Development of International Rules for the Digital Economy.pdf"
EN20 = "White Paper on Global Digital Governance (2020).pdf"
EN22 = "White Paper on Global Digital Governance (2022).pdf"

pytestmark = pytest.mark.skipif(not (CORPUS / ZH).exists(), reason="corpus PDFs not present")


@functools.lru_cache(maxsize=None)
def _read_corpus() -> dict[str, IngestedDocument]:
    """The corpus read once with the default settings (PDF reading is the slow part)."""
    files, _ = discover(CORPUS)
    docs = {}
    for p in files:
        d = ingest_file(p, CORPUS, ChunkSettings())
        docs[d.document.name] = d
    return docs


@functools.lru_cache(maxsize=None)
def corpus(max_tokens: int = ChunkSettings().max_tokens) -> dict[str, IngestedDocument]:
    """Ingested corpus; other sizes re-chunk the default run's sections."""
    if max_tokens == ChunkSettings().max_tokens:
        return _read_corpus()
    st = ChunkSettings(max_tokens=max_tokens)
    return {name: IngestedDocument(d.document, d.sections, chunk_document(d.document, d.sections, st))
            for name, d in _read_corpus().items()}


def _heads(name):
    return [(s.level, s.title, s.page_start) for s in corpus()[name].sections if s.title]


ZH_TREE = [
    (1, "前言", 4),
    (1, "一、数字全球化与全球治理新挑战", 4),
    (2, "（一）数字化驱动新一轮全球化", 5),
    (2, "（二）数字全球化引发新的全球性治理挑战", 6),
    (2, "（三）数字全球化时代治理赤字持续扩大", 8),
    (1, "二、数字时代的全球治理新图景", 8),
    (2, "（一）全球数字治理主要议题", 9),
    (2, "（二）三类机制共塑全球数字治理基本形态", 10),
    (2, "（三）全球数字治理的内在特点", 11),
    (1, "三、全球性多边框架下的数字治理创新与困境", 12),
    (2, "（一）二十国集团：以复合机制引领全球数字治理总方略", 12),
    (2, "（二）世界贸易组织：以诸边谈判推进电子商务全球合作", 13),
    (2, "（三）亚太经合组织：以“探路者计划”塑造隐私保护规则", 14),
    (2, "（四）经济合作组织：以塑造共同知识助推数字税收治理", 15),
    (2, "（五）小结：共识匮乏导致多边框架举步维艰", 16),
    (1, "四、双边和区域性机制塑造数字治理规则模板", 17),
    (2, "（一）双诸边自贸协定中电子商务条款数量激增", 17),
    (2, "（二）促进电子商务便利化已成多国共识", 17),
    (2, "（三）数据跨境流动成为全球治理焦点", 18),
    (2, "（四）数字治理向“边境后”规则延伸", 19),
    (2, "（五）小结：双诸边治理重塑全球数字治理体系", 20),
    (1, "五、私营部门日益成为全球数字治理的重要力量", 21),
    (2, "（一）数字平台参与塑造电子商务和内容治理规则", 22),
    (2, "（二）私营部门主导的标准化组织嵌入全球数字治理", 22),
    (2, "（三）政府与私营部门在国际规范建构上合作日益加深", 23),
    (2, "（四）小结：政治与经济的分离推动私营部门治理兴起", 24),
    (1, "六、全球数字治理展望", 25),
    (2, "（一）全球数字治理将迎来规则重构关键期", 25),
    (2, "（二）多边治理仍将在探索中缓慢前行", 25),
    (2, "（三）双诸边机制仍将是治理规则塑造最活跃平台", 25),
    (2, "（四）私营部门和政府间合作有望进一步深化", 26),
]


def test_zh_section_tree():
    assert _heads(ZH) == ZH_TREE
    secs = corpus()[ZH].sections
    assert secs[0].id == "s0" and secs[0].path == [] and "中国信息通信研究院" in secs[0].text
    by = {s.title: s for s in secs}
    assert by["（二）世界贸易组织：以诸边谈判推进电子商务全球合作"].path == [
        "三、全球性多边框架下的数字治理创新与困境", "（二）世界贸易组织：以诸边谈判推进电子商务全球合作"]
    assert corpus()[ZH].document.title == "全球数字治理白皮书（2020年）"


def test_zh_contents_pages_are_the_outline():
    c = clean_document(corpus()[ZH].document)
    assert c.contents_pages == [2, 3]
    assert c.outline == [t for _, t, _ in ZH_TREE]


def test_itu_sections():
    d = corpus()[ITU]
    assert _heads(ITU) == [(1, "Background", 1), (1, "Analysis", 2), (1, "Proposal", 2), (1, "Notes", 3)]
    notes = d.sections[-1]
    assert [m for m in re.findall(r"^\[(\d)\]", notes.text, re.M)] == list("1234567")
    assert "RECOMMENDATIONS TO" in d.sections[0].text and d.sections[0].level == 0
    assert "[3]" in d.sections[1].text  # inline footnote markers stay


def test_news_is_one_preamble():
    d = corpus()[NEWS]
    assert [s.id for s in d.sections] == ["s0"]
    assert all(c.section_path == [] for c in d.chunks)
    assert d.document.title == "Leading the Development of International Rules for the Digital Economy"


def _outline_of(name):
    out = []
    for s in corpus()[name].sections:
        if s.level == 1:
            out.append((s.title, []))
        elif s.level == 2:
            assert s.path[0] == out[-1][0]
            out[-1][1].append(s.title)
    return out


def test_english_2020_contents_tree():
    tree = _outline_of(EN20)
    assert [t for t, _ in tree] == [
        "Chapter 1: Digital Globalization and New Challenges of Global Governance",
        "Chapter 2: A New Picture of Global Governance in the Digital Era",
        "Chapter 3: Digital Governance Innovation and Dilemma under the Global Multilateral Framework",
        "Chapter 4: Bilateral and Regional Mechanisms Shaping a Template for Digital Governance Rules",
        "Chapter 5: The Private Sector Increasingly Becoming an Important Force in Global Digital Governance",
        "Chapter 6: Global Digital Governance Outlook",
    ]
    assert [len(k) for _, k in tree] == [3, 3, 5, 5, 4, 4]
    assert tree[2][1][0] == "(1) G20: Leading the General Strategy of Global Digital Governance with a Composite Mechanism"
    assert tree[3][1][0] == ("(1) The Number of E-commerce Clauses in the Bilateral Plurilateral Free Trade "
                             "Agreement Having Increased Sharply")
    assert tree[5][1][2] == ("(3) The Dual & Plurilateral Mechanism Remaining to Be the Most Active Platform for "
                             "Shaping Governance Rules")
    assert all(not s.text for s in corpus()[EN20].sections[1:])


def test_english_2022_contents_tree():
    tree = _outline_of(EN22)
    assert [t for t, _ in tree] == [
        "I. Background and Conceptual System of Global Digital Governance",
        "II. New Circumstances Facing Global Digital Governance",
        "III. Continuous Development of Key Digital Rules",
        "IV. Increasingly Coordinated and Complex Mechanisms for Global Digital Governance",
        "V. Accelerated Establishment of a Just and Equitable New Global Digital Governance Order",
    ]
    assert [len(k) for _, k in tree] == [2, 3, 5, 4, 4]
    assert tree[1][1][2] == ("(iii) With growing importance of digital security, competition among governance "
                             "models has intensified")
    assert tree[3][1][1] == "(ii) Global digital governance tends to be more alliance-based"


def test_heading_only_chapters_become_outline_chunks():
    chunks = corpus()[EN20].chunks
    ch1 = [c for c in chunks if c.section_path == [
        "Chapter 1: Digital Globalization and New Challenges of Global Governance"]]
    assert len(ch1) == 1
    assert "\n(1) A New Round of Globalization Driven by Digitalization\n" in ch1[0].text
    assert ch1[0].text.startswith("Chapter 1: ")
    assert len(chunks) == 7 and len(corpus()[EN22].chunks) == 6
    assert all(len(c.section_path) <= 1 for c in chunks)


def test_no_headers_page_numbers_or_contents_lines_in_chunks():
    for name, d in corpus().items():
        cleaned = clean_document(d.document)
        running = {running_key(x) for _, x, why in cleaned.dropped if why in ("header", "footer")}
        outline = set(cleaned.outline)
        for c in d.chunks:
            lines = c.text.split("\n")
            body = lines[1:] if c.section_path and lines[0] == c.section_path[-1] else lines
            for line in lines:
                assert not is_page_number(line), (c.id, line)
                assert running_key(line) not in running, (c.id, line)
            assert not (outline & set(body)), (c.id, outline & set(body))
            assert "目录" not in c.text.replace(" ", "")
    zh = clean_document(corpus()[ZH].document)
    assert {x for _, x, why in zh.dropped if why == "header"} == {"全球数字治理白皮书（2020年）"}


CJK_WS = re.compile(r"[\u4e00-\u9fff]\s+[\u4e00-\u9fff]")


def test_no_whitespace_between_cjk_characters():
    for d in corpus().values():
        for c in d.chunks:
            # the whole chunk, title line included: a CJK title meets a CJK body at "｜", not a line break
            assert not CJK_WS.search(c.text), (c.id, CJK_WS.search(c.text).group())


def _ws(s: str) -> str:
    return re.sub(r"\s+", "", s)


@pytest.mark.parametrize("max_tokens", [120, 200, 300])
def test_every_eval_evidence_lies_inside_one_chunk(max_tokens):
    """Each evidence string of the eval set (eval/questions.jsonl) lies whole inside a chunk of
    the stated section at every chunk size, so a retrieval hit is possible for every question."""
    docs = corpus(max_tokens)
    missing, wrong_section = [], []
    items = load_eval()
    assert sum(bool(q["evidence"]) for q in items) >= 20
    for q in items:
        for ev in q["evidence"]:
            hits = [c for c in docs[q["doc"]].chunks if _ws(ev) in _ws(c.text)]
            if not hits:
                missing.append((q["id"], ev))
            elif not any((c.section_path[-1] if c.section_path else None) == q["section"] for c in hits):
                wrong_section.append((q["id"], q["section"], [c.section_path for c in hits]))
    assert missing == []
    assert wrong_section == []


def test_chunks_are_slices_and_sized():
    st = ChunkSettings()
    for d in corpus().values():
        from ingest.sections import document_text

        full = document_text(d.sections)
        for c in d.chunks:
            assert full[c.start:c.end] == c.text
            assert 1 <= c.page <= c.page_end <= len(d.document.pages)
        assert [c.ordinal for c in d.chunks] == list(range(len(d.chunks)))
    zh = corpus()[ZH].chunks
    assert all(c.lang == "zh" for c in zh)
    assert all(c.lang == "en" for c in corpus()[ITU].chunks)
    from ingest.text import count_tokens

    assert max(count_tokens(c.text) for d in corpus().values() for c in d.chunks) <= st.max_tokens + st.min_tokens


def test_page_breaks_inside_chunks_match_the_pdf_pages():
    """Where a chunk runs over a page break, the text after the recorded offset is on that page
    of the PDF and the text before it on the page before."""
    squash = lambda s: re.sub(r"[\W_]+", "", s)  # letters, digits, CJK: cleaning rewrites bullets and spaces  # noqa: E731
    seen = 0
    for d in corpus().values():
        raw = {p.number: squash(p.text) for p in d.document.pages}
        for c in d.chunks:
            assert [p for _, p in c.page_breaks] == sorted({p for _, p in c.page_breaks})
            assert all(c.page < p <= c.page_end and 0 < o < len(c.text) for o, p in c.page_breaks)
            assert (c.page_end > c.page) == bool(c.page_breaks)
            for o, p in c.page_breaks:
                after, before = squash(c.text[o:])[:12], squash(c.text[:o])[-12:]
                assert after in raw[p], (d.document.name, c.id, p, after)
                assert before in raw[p - 1], (d.document.name, c.id, p - 1, before)
                seen += 1
    assert seen >= 10  # the corpus has chunks that run over a page break (25 at the default size)
