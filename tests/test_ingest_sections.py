"""Heading patterns and the section tree (zh and en), including false positives."""
from __future__ import annotations

import pytest

from ingest.headings import classify
from ingest.model import Document, Page
from ingest.sections import build_sections, document_text

W = "，数字化驱动的新一轮全球化席卷而来，正在成为促进全球互联互通、推动全球商贸合作"  # a full zh line
EN = "In today's world, digital globalization has become an important symbol of the new round"


def _doc(pages: list[list[str]], kind: str = "pdf") -> Document:
    return Document(name="t", path="/t", sha256="0" * 64, kind=kind,
                    pages=[Page(i + 1, "\n".join(p)) for i, p in enumerate(pages)])


def _tree(secs):
    return [(s.level, s.title) for s in secs if s.title]


@pytest.mark.parametrize(
    "line,kind",
    [
        ("一、数字全球化与全球治理新挑战", "zh_num"),
        ("（二）世界贸易组织：以诸边谈判推进电子商务全球合作", "zh_paren"),
        ("(三)数字全球化时代治理赤字持续扩大", "zh_paren"),
        ("1. 总体要求", "arabic"),
        ("2、基本原则", "arabic"),
        ("第三章 数字治理", "chapter"),
        ("第二节 国际规则", "jie"),
        ("前言", "standalone"),
        ("结束语", "standalone"),
        ("参考文献", "standalone"),
        ("Chapter 3: Digital Governance Innovation and", "chapter"),
        ("II. New Circumstances Facing Global Digital Governance", "roman"),
        ("(1) G20: Leading the General Strategy of Global Digital", "paren_num"),
        ("(iv) Consultations on cybersecurity governance are shuffling forward", "paren_roman"),
        ("1.1 Scope of the report", "decimal2"),
        ("Background", "standalone"),
        ("Notes", "standalone"),
        ("Executive Summary", "standalone"),
        ("REFERENCES", "standalone"),
    ],
)
def test_classify_heading_styles(line, kind):
    m = classify(line)
    assert m is not None and m.kind == kind


@pytest.mark.parametrize(
    "line",
    [
        "一是新一代信息基础设施建设布局加快。",
        "二是跨境数据流动大幅增长",
        "（APEC）和经济合作与发展组织（OECD）作为最重要的全球多边经济治理框架",
        "第二类是欧盟主导的欧盟-韩国FTA",
        "18.9万亿美元，相对2018年下降了2.8%",
        "2019年，全球商品贸易出口额为18.9万亿美元",
        "In today's world, digital globalization has become",
        "Background information is given below",
        "I think this is not a heading",
        "[1] See the details on the official ITU website",
    ],
)
def test_classify_rejects(line):
    assert classify(line) is None


def test_zh_tree_levels_and_paths():
    lines = ["全球数字治理白皮书", "（2020年）", "前言", "当今世界，科技革命和产业变革日新月异。",
             "一、数字全球化与全球治理新挑战", "2020年，数字全球化及全球治理面临新挑战。",
             "（一）数字化驱动新一轮全球化", "由数字化驱动的新一轮全球化席卷而来。",
             "1. 基础设施", "国际海缆、通信基站快速建设。",
             "（二）数字全球化引发新的全球性治理挑战", "数字全球化引发了新的全球性治理挑战。",
             "二、数字时代的全球治理新图景", "数字时代全球政治经济体系变革引发了新的治理需求。"]
    secs = build_sections(_doc([lines]))
    assert secs[0].id == "s0" and secs[0].level == 0 and secs[0].path == [] and secs[0].title == ""
    assert secs[0].text == "全球数字治理白皮书\n（2020年）"
    assert _tree(secs) == [(1, "前言"), (1, "一、数字全球化与全球治理新挑战"), (2, "（一）数字化驱动新一轮全球化"),
                           (3, "1.基础设施"), (2, "（二）数字全球化引发新的全球性治理挑战"),
                           (1, "二、数字时代的全球治理新图景")]
    by = {s.title: s for s in secs}
    assert by["1.基础设施"].path == ["一、数字全球化与全球治理新挑战", "（一）数字化驱动新一轮全球化", "1.基础设施"]
    assert by["（二）数字全球化引发新的全球性治理挑战"].path == ["一、数字全球化与全球治理新挑战",
                                                         "（二）数字全球化引发新的全球性治理挑战"]
    assert by["1.基础设施"].text == "国际海缆、通信基站快速建设。"
    assert [s.id for s in secs] == [f"s{i}" for i in range(len(secs))]


def test_zh_false_positives_stay_body():
    lines = [
        "一、总体情况",
        "我国数字经济发展迅速，主要体现在以下几个方面" + W,
        "（二）这一行接着上一行的句子而不是新的小节标题",  # the line before runs to the margin mid-sentence
        "一是新一代信息基础设施建设布局加快。",
        "1. 2019年，全球商品贸易出口额为18.9万亿美元，相对2018年下降了2.8%。",
        "二、这一行以句号结尾所以它不是标题。",
        "（三）" + "很长的一行" * 12 + "。",
        "（一）真正的小节",
        "正文。",
    ]
    secs = build_sections(_doc([lines]))
    assert _tree(secs) == [(1, "一、总体情况"), (2, "（一）真正的小节")]
    body = secs[0].text
    for frag in ["（二）这一行接着", "一是新一代", "1. 2019年", "二、这一行以句号结尾", "（三）很长的一行"]:
        assert frag in body


def test_en_tree_with_wrapped_headings():
    lines = [
        "White Paper on Global Digital", "Governance (2020)",
        "Chapter 1: Digital Globalization and New Challenges", "of Global Governance",
        "(1) A New Round of Globalization Driven by Digitalization",
        "(2) Digital Globalization Triggering New Challenges in", "Global Governance",
        "Chapter 3: Digital Governance Innovation and", "Dilemma under the Global Multilateral Framework",
        "(1) G20: Leading the General Strategy of Global Digital", "Governance with a Composite Mechanism",
    ]
    secs = build_sections(_doc([lines]))
    assert _tree(secs) == [
        (1, "Chapter 1: Digital Globalization and New Challenges of Global Governance"),
        (2, "(1) A New Round of Globalization Driven by Digitalization"),
        (2, "(2) Digital Globalization Triggering New Challenges in Global Governance"),
        (1, "Chapter 3: Digital Governance Innovation and Dilemma under the Global Multilateral Framework"),
        (2, "(1) G20: Leading the General Strategy of Global Digital Governance with a Composite Mechanism"),
    ]
    assert secs[0].text == "White Paper on Global Digital\nGovernance (2020)"
    assert all(not s.text for s in secs[1:])


def test_en_lower_roman_nests_under_upper_roman():
    lines = ["I. Background and Conceptual System of Global", "Digital Governance",
             "(i) Characteristics of the digital globalization era and its", "governance challenges",
             "(ii) Global digital governance tends to be more alliance-", "based",
             "II. New Circumstances Facing Global Digital", "Governance",
             "(iii) With growing importance of digital security,", "competition among governance models has intensified"]
    secs = build_sections(_doc([lines]))
    assert _tree(secs) == [
        (1, "I. Background and Conceptual System of Global Digital Governance"),
        (2, "(i) Characteristics of the digital globalization era and its governance challenges"),
        (2, "(ii) Global digital governance tends to be more alliance-based"),
        (1, "II. New Circumstances Facing Global Digital Governance"),
        (2, "(iii) With growing importance of digital security, competition among governance models has intensified"),
    ]
    assert secs[-1].path[0] == "II. New Circumstances Facing Global Digital Governance"


def test_en_standalone_titles_and_false_positives():
    lines = [
        "RECOMMENDATIONS TO INCLUDE", "ITU STRATEGIC PLAN",
        "Background",
        EN, "(1) the first item of a list that continues the sentence, and",
        "Background", "is a word that can start a wrapped line, but here it is body text.",
        "Analysis",
        "The ITU Strategic Plan is a strategic document.",
        "Notes",
        "[1] See the details on the official ITU website.",
    ]
    secs = build_sections(_doc([lines]))
    assert _tree(secs) == [(1, "Background"), (1, "Analysis"), (1, "Notes")]
    assert secs[0].title == "" and "ITU STRATEGIC PLAN" in secs[0].text
    assert "(1) the first item" in secs[1].text and "and Background" in secs[1].text
    assert secs[-1].text == "[1] See the details on the official ITU website."


def test_contents_outline_confirms_and_repairs_titles():
    toc = ["目 录", "一、多边框架", "（一）亚太经合组织：以“探路者计划”塑造隐私保护规则", "（二）小结"]
    body = ["一、多边框架", "正文。",
            "“ ”（一）亚太经合组织：以 探路者计划 塑造隐私保护规则",  # quotes displaced by the text layer
            "正文一。",
            "（二）小结", "正文二。",
            "（三）不在目录里的编号行", "正文三。"]
    secs = build_sections(_doc([toc, body]))
    assert _tree(secs) == [(1, "一、多边框架"), (2, "（一）亚太经合组织：以“探路者计划”塑造隐私保护规则"), (2, "（二）小结")]
    assert "（三）不在目录里的编号行" in secs[-1].text
    assert all(s.page_start == 2 for s in secs)


def test_markdown_headings():
    text = ["# 白皮书", "引言。", "## 第一部分", "内容一。", "### 细节", "内容二。", "## 第二部分", "内容三。"]
    secs = build_sections(_doc([text], kind="md"))
    assert _tree(secs) == [(1, "白皮书"), (2, "第一部分"), (3, "细节"), (2, "第二部分")]


def test_pages_offsets_and_page_breaks():
    p1 = ["前言", "第一页的正文第一句。", "一、标题", "跨页的段落从第一页开始" + W]
    p2 = ["并在第二页继续。", "第二页的另一段。"]
    p3 = ["（一）子标题", "第三页正文。"]
    secs = build_sections(_doc([p1, p2, p3]))
    by = {s.title: s for s in secs}
    s = by["一、标题"]
    assert (s.page_start, s.page_end) == (1, 2)
    assert s.page_breaks[0] == (0, 1)
    off, page = s.page_breaks[1]
    assert page == 2 and s.text[off:].startswith("并在第二页继续。")
    assert by["（一）子标题"].page_start == 3
    full = document_text(secs)
    for s in secs:
        assert full[s.offset:s.offset + len(s.text)] == s.text
        if s.title:
            assert full[s.offset - len(s.title) - 1:s.offset - 1] == s.title
