"""Chunking: sentence-aligned, token-sized, never crossing a section, titles on first chunks."""
from __future__ import annotations

from dataclasses import asdict
import re

from ingest.chunking import chunk_document, split_sentences
from ingest.model import ChunkSettings, Document, Page
from ingest.sections import build_sections, document_text, title_offset, title_separator
from ingest.text import count_tokens

SHA = "ab" * 32


def _doc(pages: list[list[str]]) -> Document:
    return Document(name="dir/t.pdf", path="/t", sha256=SHA, kind="pdf",
                    pages=[Page(i + 1, "\n".join(p)) for i, p in enumerate(pages)])


def _sentence(i: int) -> str:
    return f"Sentence number {i} talks about digital governance and trade rules in some detail."


def _chunks(pages, **kw):
    doc = _doc(pages)
    secs = build_sections(doc)
    return doc, secs, chunk_document(doc, secs, ChunkSettings(**kw))


def _sub(text: str, sents: list[str]) -> list[tuple[str, str]]:
    return [(text[a:b], s) for (a, b), s in zip(split_sentences(text), sents)]


def test_split_sentences_zh_and_en():
    zh = "全球商品贸易出口额为18.9万亿美元。服务贸易基本持平；资本流动下降！对吗？“是的。”最后"
    assert [zh[a:b] for a, b in split_sentences(zh)] == [
        "全球商品贸易出口额为18.9万亿美元。", "服务贸易基本持平；", "资本流动下降！", "对吗？", "“是的。”", "最后"]
    en = ("Goals identified in Resolution 71 (Rev. Dubai, 2018) cover e.g. governance. The U.S. and EU agreed "
          "on 18.9 billion. Trade grew, etc. Then it fell!\nNew paragraph without a stop")
    assert [en[a:b] for a, b in split_sentences(en)] == [
        "Goals identified in Resolution 71 (Rev. Dubai, 2018) cover e.g. governance.",
        "The U.S. and EU agreed on 18.9 billion.", "Trade grew, etc.", "Then it fell!",
        "New paragraph without a stop"]
    assert split_sentences("a b.", base=10) == [(10, 14)]


def _check_invariants(doc, secs, chunks, st: ChunkSettings):
    full = document_text(secs)
    by_id = {s.id: s for s in secs}
    for n, c in enumerate(chunks):
        assert c.id == f"{SHA[:12]}-{n:04d}" and c.ordinal == n
        assert c.doc == "dir/t.pdf" and c.doc_sha256 == SHA
        assert c.text == full[c.start:c.end] and c.text.strip() == c.text and c.text
        s = by_id[c.section_id]
        assert c.section_path == s.path
        # never crosses a section: the span lies inside the section (or its heading-only subtree)
        lo = title_offset(s)
        inside = [t for t in secs if title_offset(t) < c.end and t.offset + len(t.text) > c.start]
        assert all(t is s or (not t.text and t.path[: len(s.path)] == s.path) for t in inside)
        assert c.start >= lo
        first = n == 0 or chunks[n - 1].section_id != c.section_id
        if s.title:
            assert c.text.startswith(s.title + title_separator(s)) == (first and bool(s.text)) or not s.text
        assert count_tokens(c.text) <= st.max_tokens + st.min_tokens


def test_short_section_stays_whole_with_title_first():
    doc, secs, chunks = _chunks([["Background", _sentence(1), _sentence(2), "Analysis", _sentence(3)]])
    assert [c.text for c in chunks] == [f"Background\n{_sentence(1)} {_sentence(2)}", f"Analysis\n{_sentence(3)}"]
    assert [c.section_path for c in chunks] == [["Background"], ["Analysis"]]
    assert all(c.lang == "en" for c in chunks)


def test_long_section_split_with_overlap_and_small_tail_merge():
    st = ChunkSettings(max_tokens=60, overlap_sentences=1, min_tokens=20)
    body = [_sentence(i) + " " + _sentence(i + 100) for i in range(12)]  # one line = one paragraph, ~28 tokens
    doc, secs, chunks = _chunks([["Background"] + body[:6], body[6:] + ["Notes", _sentence(999)]], **asdict(st))
    _check_invariants(doc, secs, chunks, st)
    bg = [c for c in chunks if c.section_path == ["Background"]]
    assert len(bg) > 3
    assert bg[0].text.startswith("Background\n") and not any(c.text.startswith("Background") for c in bg[1:])
    for a, b in zip(bg, bg[1:]):  # one sentence of overlap
        last = [a.text[x:y] for x, y in split_sentences(a.text)][-1]
        assert b.text.startswith(last)
    assert [c.page for c in bg][0] == 1 and bg[-1].page_end == 2
    assert chunks[-1].section_path == ["Notes"] and chunks[-1].page == 2
    # every body sentence is in some chunk
    for i in range(12):
        assert any(_sentence(i) in c.text for c in bg)


def test_trailing_piece_below_min_tokens_joins_previous_chunk():
    lines = ["Background", _sentence(1) + " " + _sentence(2), _sentence(3) + " Short end."]  # 1+13+13+13+2 tokens
    chunks = _chunks([lines], max_tokens=40, overlap_sentences=0, min_tokens=0)[2]
    assert [c.text for c in chunks][-1] == "Short end."
    chunks = _chunks([lines], max_tokens=40, overlap_sentences=0, min_tokens=10)[2]
    assert len(chunks) == 1 and chunks[0].text.endswith(_sentence(3) + " Short end.")


def test_overlong_sentence_is_split_at_clauses():
    st = ChunkSettings(max_tokens=30, overlap_sentences=1, min_tokens=5)
    clause = "数字全球化引发了新的全球性治理挑战"
    long = "，".join([clause] * 12) + "。"
    doc, secs, chunks = _chunks([["一、标题", long]], **asdict(st))
    _check_invariants(doc, secs, chunks, st)
    assert len(chunks) > 2
    assert all(count_tokens(c.text) <= 30 + 5 for c in chunks)
    assert all(c.lang == "zh" for c in chunks)
    assert not any(re.search(r"[\u4e00-\u9fff]\s+[\u4e00-\u9fff]", c.text.split("\n", 1)[-1]) for c in chunks)


def test_chunks_never_cross_sections_zh():
    st = ChunkSettings(max_tokens=50, overlap_sentences=1, min_tokens=10)
    pages = [["前言", "当今世界，科技革命和产业变革日新月异。" * 6,
              "一、数字全球化与全球治理新挑战", "2020年，数字全球化及全球治理面临新挑战。" * 3],
             ["（一）数字化驱动新一轮全球化", "由数字化驱动的新一轮全球化席卷而来。" * 8,
              "（二）数字全球化引发新的全球性治理挑战", "数字全球化引发了新的全球性治理挑战。"]]
    doc, secs, chunks = _chunks(pages, **asdict(st))
    _check_invariants(doc, secs, chunks, st)
    paths = [c.section_path[-1] for c in chunks]
    assert paths == sorted(paths, key=[s.title for s in secs].index)  # document order
    assert {c.section_id for c in chunks} == {s.id for s in secs if s.text}


def test_heading_only_subtrees_fold_into_their_parent():
    lines = ["White Paper on Global Digital", "Governance (2020)",
             "Chapter 1: Digital Globalization and New Challenges", "of Global Governance",
             "(1) A New Round of Globalization Driven by Digitalization",
             "(2) Digital Globalization Triggering New Challenges in", "Global Governance",
             "Chapter 2: A New Picture of Global Governance in the", "Digital Era",
             "(1) Main Topics of Global Digital Governance"]
    doc, secs, chunks = _chunks([lines[:2], lines[2:]])
    _check_invariants(doc, secs, chunks, ChunkSettings())
    assert [c.section_path for c in chunks] == [
        [], ["Chapter 1: Digital Globalization and New Challenges of Global Governance"],
        ["Chapter 2: A New Picture of Global Governance in the Digital Era"]]
    assert chunks[1].text == ("Chapter 1: Digital Globalization and New Challenges of Global Governance\n"
                              "(1) A New Round of Globalization Driven by Digitalization\n"
                              "(2) Digital Globalization Triggering New Challenges in Global Governance")
    assert chunks[2].text.endswith("\n(1) Main Topics of Global Digital Governance")
    assert chunks[1].page == 2 and chunks[0].page == 1
    assert all(c.text.strip() for c in chunks)


def test_parent_with_body_and_heading_only_children():
    lines = ["一、总体情况", "这是总体情况的正文。", "（一）只有标题的小节", "（二）也只有标题"]
    doc, secs, chunks = _chunks([lines])
    assert [c.text for c in chunks] == ["一、总体情况｜这是总体情况的正文。\n（一）只有标题的小节\n（二）也只有标题"]
    assert chunks[0].section_path == ["一、总体情况"]


def test_chunk_ids_are_stable():
    pages = [["Background", _sentence(1), "Analysis", _sentence(2)]]
    a = _chunks(pages)[2]
    b = _chunks(pages)[2]
    assert [c.to_dict() for c in a] == [c.to_dict() for c in b]


def test_chunk_records_where_pages_break_inside_it():
    p1 = ["Background", _sentence(1), _sentence(2)]
    p2 = [_sentence(3), "The lighthouse keeper counted 47 ships on the second page."]
    doc, secs, chunks = _chunks([p1, p2])
    assert len(chunks) == 1
    c = chunks[0]
    assert (c.page, c.page_end) == (1, 2)
    assert len(c.page_breaks) == 1
    off, page = c.page_breaks[0]
    assert page == 2 and c.text[off:].startswith("Sentence number 3")
    assert c.page_at(0) == 1 and c.page_at(off - 1) == 1 and c.page_at(off) == 2
    assert c.page_at(c.text.index("lighthouse")) == 2
    one_page = _chunks([p1])[2][0]
    assert one_page.page_breaks == [] and one_page.page_at(len(one_page.text) - 1) == 1
