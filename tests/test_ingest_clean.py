"""Cleaning: running headers/footers, page numbers, contents pages, CJK whitespace, line joining."""
from __future__ import annotations

import re

import pytest

from ingest.clean import Vocab, clean_document, is_page_number, join_lines, normalize_line
from ingest.loaders import load_document
from tests.pdfgen import CJK_FONT, make_pdf

ZH_HEADER = "全球数字治理白皮书（2020 年）"


def _clean(path):
    return clean_document(load_document(path, path.name))


def test_zh_running_header_and_page_numbers_removed(tmp_path):
    pages = [
        ["一、数字全球化与全球治理新挑战", "2020 年，数字全球化及全球治理面临新挑战：经济全球化遭遇逆流，保护",
         "主义、单边主义上升，世界经济低迷，国际贸易和投资大幅萎缩。"],
        ["（一）数字化驱动新一轮全球化", "由数字化驱动的新一轮全球化席卷而来。自 2018 年中美贸易摩擦以来，国际",
         "形势日趋复杂多变。"],
        ["截至 2019 年 9 月，APEC 共实行“探路者行动计划”15 项。"],
    ]
    p = make_pdf(tmp_path / "zh.pdf", pages, font=CJK_FONT, header=ZH_HEADER, footer="- {n} -")
    raw = load_document(p, p.name)
    assert ZH_HEADER in raw.pages[0].text and "- 2 -" in raw.pages[1].text  # pypdf sees them
    c = clean_document(raw)
    texts = [x.text for x in c.lines]
    assert not any("白皮书（2020" in t for t in texts)
    assert not any(is_page_number(t) for t in texts)
    assert texts[0] == "一、数字全球化与全球治理新挑战"
    assert "截至2019年9月，APEC共实行“探路者行动计划”15项。" in texts
    assert [x.page for x in c.lines] == [1, 1, 1, 2, 2, 2, 3]
    assert {why for _, _, why in c.dropped} == {"header", "page number"}


@pytest.mark.parametrize("footer", ["{n}", "Page {n}", "第 {n} 页", "Page {n} of 3"])
def test_en_header_with_apostrophe_variants(tmp_path, footer):
    heads = ["Contribution by the People’s Republic of China", "Contribution by the People's Republic of China",
             "Contribution by the People's Republic of China"]
    body = [["Background", "In today's world, digital globalization has become an important symbol."],
            ["Analysis", "The ITU Strategic Plan is a strategic document."],
            ["Notes", "[1] See the details on the official ITU website."]]
    pages = [[h] + b for h, b in zip(heads, body)]
    p = make_pdf(tmp_path / "en.pdf", pages, footer=footer)
    texts = [x.text for x in _clean(p).lines]
    assert not any("Contribution by" in t for t in texts)
    assert texts == [t for b in body for t in b]


def test_header_only_on_later_pages_and_cover_kept(tmp_path):
    pages = [["Leading the Development of", "International Rules", "First page text runs here."],
             ["DigitalTrade4.EU", "Second page text."], ["DigitalTrade4.EU", "Third page text."]]
    p = make_pdf(tmp_path / "news.pdf", pages)
    texts = [x.text for x in _clean(p).lines]
    assert "DigitalTrade4.EU" not in texts
    assert texts[:2] == ["Leading the Development of", "International Rules"]


@pytest.mark.parametrize("line", ["2", "- 3 -", "Page 4", "page 4 of 10", "第 5 页", "第5页 共20页", "iv", "7/20"])
def test_page_number_lines(line):
    assert is_page_number(line)


@pytest.mark.parametrize("line", ["2020年", "18.9", "Chapter 2", "一、总体情况", "Page four is blank", "2019年9月"])
def test_not_page_number_lines(line):
    assert not is_page_number(line)


@pytest.mark.parametrize(
    "raw,clean",
    [
        ("2020 年", "2020年"),
        ("2019年 1 月", "2019年1月"),
        ("截至 2020 年 6月，全球已建成逾70 万个", "截至2020年6月，全球已建成逾70万个"),
        ("WTO 第十一届 部长级会议", "WTO第十一届部长级会议"),
        ("全球 数字　治理", "全球数字治理"),
        ("据 Risk Based Security 统计", "据Risk Based Security统计"),
        ("Global   Digital  Governance", "Global Digital Governance"),
        ("（ 一 ）数字化", "（一）数字化"),
    ],
)
def test_normalize_line(raw, clean):
    assert normalize_line(raw) == clean


def test_join_cjk_lines():
    lines = ["2020 年，数字全球化及全球治理面临新挑战：经济全球化遭遇逆流，保护",
             "主义、单边主义上升，世界经济低迷，国际贸易和投资大幅萎缩，根据数据显示，2019",
             "年上半年，累计监测发现设备数量共计 6814 个。"]
    text, starts = join_lines([normalize_line(x) for x in lines], width=80)
    assert text == ("2020年，数字全球化及全球治理面临新挑战：经济全球化遭遇逆流，保护主义、单边主义上升，"
                    "世界经济低迷，国际贸易和投资大幅萎缩，根据数据显示，2019年上半年，累计监测发现设备数量共计6814个。")
    assert not re.search(r"[\u4e00-\u9fff]\s+[\u4e00-\u9fff]", text)
    assert text[starts[1]:].startswith("主义")


def test_join_latin_lines_and_paragraphs():
    lines = ["In today's world, digital globalization has become an important symbol of the new round of",
             "globalization, however it also brings significant challenges. Digital divide, emerging technologies",
             "application and other issues need to be addressed urgently.",
             "Currently, multilateral governance mechanisms, bilateral governance mechanisms and specialized"]
    text, _ = join_lines(lines, width=100)
    first, second = text.split("\n")
    assert "symbol of the new round of globalization, however" in first
    assert first.endswith("addressed urgently.")
    assert second.startswith("Currently,")


@pytest.mark.parametrize(
    "a,b,joined",
    [
        ("tends to be more alliance-", "based", "alliance-based"),
        ("launched the Global Data Cross-", "Border Flow Cooperation", "Cross-Border Flow"),
        ("negotiation process for trade-", "related aspects", "trade-related aspects"),
        ("the trend of de-", "globalization", "de-globalization"),
        ("facilitating global e-", "commerce", "e-commerce"),
        ("the rules of global gov-", "ernance are", "governance are"),
        ("in the Asia-", "Pacific region", "Asia-Pacific region"),
    ],
)
def test_line_end_hyphen(a, b, joined):
    text, _ = join_lines([a, b], width=len(a))
    assert joined in text


def test_line_end_hyphen_uses_the_document_vocabulary():
    vocab = Vocab(["the information society", "a well-known rule"])
    assert "information age" in join_lines(["for the infor-", "mation age"], width=14, vocab=vocab)[0]
    assert "well-known" in join_lines(["a very well-", "known fact"], width=12, vocab=vocab)[0]


@pytest.mark.parametrize("leader", [" ........................ ", "……………", " "])
def test_zh_contents_pages_removed_and_outline_kept(tmp_path, leader):
    entries1 = [f"前言{leader}3", f"一、总体情况{leader}3", f"    （一）发展现状{leader}3", f"    （二）主要问题{leader}4"]
    entries2 = [f"二、对策建议{leader}5", f"    （一）加强合作{leader}5", f"结语{leader}6"]
    pages = [
        ["全球数字治理白皮书", "（2020 年）"],
        ["目 录"] + entries1,
        entries2,  # the listing continues without a title
        ["前言", "当今世界，科技革命和产业变革日新月异。", "一、总体情况", "（一）发展现状", "正文第一段。"],
    ]
    p = make_pdf(tmp_path / "toc.pdf", pages, font=CJK_FONT, header=ZH_HEADER, footer="{n}")
    c = _clean(p)
    assert c.outline == ["前言", "一、总体情况", "（一）发展现状", "（二）主要问题", "二、对策建议", "（一）加强合作", "结语"]
    assert c.contents_pages == [2, 3]
    texts = [x.text for x in c.lines]
    assert texts == ["全球数字治理白皮书", "（2020年）", "前言", "当今世界，科技革命和产业变革日新月异。",
                     "一、总体情况", "（一）发展现状", "正文第一段。"]
    assert not any("目录" in t.replace(" ", "") or "...." in t for t in texts)


def test_en_table_of_contents(tmp_path):
    pages = [["Report title"], ["Table of Contents", "1 Introduction ..... 3", "2 Methods ..... 4"],
             ["1 Introduction", "Text of the introduction."], ["2 Methods", "Text of the methods."]]
    c = _clean(make_pdf(tmp_path / "toc_en.pdf", pages))
    assert c.outline == ["1 Introduction", "2 Methods"]
    assert [x.text for x in c.lines][1:] == ["1 Introduction", "Text of the introduction.", "2 Methods",
                                             "Text of the methods."]


def test_heading_list_without_contents_title_is_not_a_contents_page(tmp_path):
    pages = [["White Paper on Global Digital", "Governance (2020)"],
             ["White Paper (2020)", "Chapter 1: Digital Globalization", "(1) A New Round of Globalization"],
             ["White Paper (2020)", "Chapter 2: A New Picture", "(1) Main Topics"]]
    c = _clean(make_pdf(tmp_path / "list.pdf", pages, footer="{n}"))
    assert c.outline == [] and c.contents_pages == []
    assert [x.text for x in c.lines][2:] == ["Chapter 1: Digital Globalization", "(1) A New Round of Globalization",
                                             "Chapter 2: A New Picture", "(1) Main Topics"]
