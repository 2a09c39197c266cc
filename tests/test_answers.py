"""Answers that use what retrieval found (issue 13): whole-sentence quotes without headings, quoted
titles looked up in both languages, structure questions answered from the heading tree, the
typed LCEL chain and its stream, and (with the bundled model) one-language answer bodies."""
from __future__ import annotations

import re

import pytest

from ingest.model import Chunk
from qa.answer import restate_figures
from qa.chain import Answered, Sources
from qa.compose import asked_in, with_marker
from qa.evidence import Evidence, select_evidence
from qa.lead import alternative_picks, is_pure, lead_problems, pick_sentences, repair_mixed
from qa.retrieve import Hit
from qa.sentences import body_sentences
from qa.structure import parse, strip_numbering, wants_parts, wants_title
from qa.titles import norm

ZH_PAPER = "全球数字治理白皮书(2020年).pdf"


def _chunk(text: str, path: list[str], lang: str = "zh", cid: str = "c-1") -> Chunk:
    return Chunk(id=cid, doc="d.pdf", doc_sha256="x", ordinal=0, section_id="s1", section_path=path, page=1,
                 page_end=1, lang=lang, start=0, end=len(text), text=text)


def _evidence(texts: list[tuple[str, str]], question: str, translation: str | None = None) -> list[Evidence]:
    """Evidence over chunks made of `texts` ((text, lang) each, in rank order)."""
    hits = [Hit(i, _chunk(t, ["一、标题" if lang == "zh" else "1. Title"], lang, f"c-{i}"), 5.0 - i)
            for i, (t, lang) in enumerate(texts)]
    return select_evidence(hits, question, translation, 5, 200)


@pytest.fixture(scope="module")
def pipe(corpus_index):
    """The CLI's own wiring over the real index of corpus/, answering without a model."""
    from wpqa.wiring import Ctx

    return Ctx(corpus_index["cfg"], corpus_index["corpus"], corpus_index["index"]).pipeline("extractive")


@pytest.fixture(scope="module")
def llm_pipe(corpus_index):
    from wpqa.wiring import Ctx

    return Ctx(corpus_index["cfg"], corpus_index["corpus"], corpus_index["index"]).pipeline("llama-cpp")


def body(record: dict) -> str:
    return record["answer"].split("\n\n> ")[0]


# ---------------------------------------------------------------- sentences and quotes


def test_a_heading_glued_to_a_sentence_is_not_part_of_it():
    """What the Chinese paper's text layer does: the section title, a '｜', then a running head
    restating the title before the first real sentence."""
    title = "（二）世界贸易组织：以诸边谈判推进电子商务全球合作"
    text = (f"{title}｜全球性多边框架下的数字治理创新案例（二）世界贸易组织：以诸边谈判推进电子商务全球合作。"
            "世界贸易组织（WTO）较早即认识到电子商务对贸易形态和方式带来的改变。2019年1月，76个WTO成员签署联合声明。")
    sents = [s.text for s in body_sentences(_chunk(text, ["三、全球性多边框架下的数字治理创新与困境", title]))]
    assert sents == ["世界贸易组织（WTO）较早即认识到电子商务对贸易形态和方式带来的改变。", "2019年1月，76个WTO成员签署联合声明。"]


def test_corpus_quotes_are_whole_sentences_without_headings(corpus_index):
    """Every body sentence of every chunk of the real index: no heading text inside, no
    truncation mark that the PDF did not print."""
    from index.chunkstore import read_chunks

    gen = sorted((corpus_index["index"]).glob("gen-*"))[-1]
    chunks = read_chunks(gen / "chunks.sqlite")
    titles: dict[str, set[str]] = {}
    for c in chunks:
        titles.setdefault(c.doc, set()).update(c.section_path)
    checked = 0
    for c in chunks:
        for s in body_sentences(c, titles[c.doc]):
            checked += 1
            assert "…" not in s.text or "…" in c.text
            for t in titles[c.doc]:
                key = norm(strip_numbering(t))
                assert len(key) < 6 or key not in norm(s.text), (t, s.text)
    assert checked > 300


@pytest.mark.slow
def test_answer_quotes_are_whole_and_bodies_hold_no_heading(pipe):
    for q in ["世贸组织框架下关于电子商务的诸边谈判是何时正式启动的？",
              "APEC在组织架构上设立了哪些机构来推进电子商务和数字经济合作？",
              "What view on data-governance rules was put forward at ITU's Global Symposium for Regulators in 2020?"]:
        rec = pipe.ask(q)
        assert not rec["abstained"] and rec["citations"], q
        for c in rec["citations"]:
            assert "…" not in c["quote"] and re.search(r"[。.!?！？”\"]$", c["quote"]), c["quote"]
        b = body(rec)
        assert "…" not in b and "世界贸易组织：以诸边谈判" not in b and not re.search(r"（[一二三四五六七八九十]+）", b), b


# ---------------------------------------------------------------- abstention


@pytest.mark.slow
def test_a_quoted_title_held_only_in_the_other_language_does_not_abstain(pipe):
    """The English title of the 2020 paper, quoted in a question: the corpus holds the Chinese
    edition (and an English contents page); the question is answered, not abstained on."""
    rec = pipe.ask('What does the "Global Digital Governance White Paper (2020)" say about the WTO e-commerce '
                   'negotiations launched in 2019?')
    assert not any(f.startswith("not-in-corpus") for f in rec["flags"]), rec["flags"]
    assert not rec["abstained"]
    rec = pipe.ask("《White Paper on Global Digital Governance (2022)》第二章分析了哪些新形势？")
    assert not rec["abstained"] and not any(f.startswith("not-in-corpus") for f in rec["flags"])


@pytest.mark.slow
def test_a_quoted_title_the_corpus_lacks_still_abstains(pipe):
    rec = pipe.ask("欧盟《人工智能法》把人工智能系统划分为几个风险等级？")
    assert rec["abstained"] and rec["citations"] == [] and "没有" in rec["answer"]
    assert any(f.startswith("not-in-corpus") for f in rec["flags"])


# ---------------------------------------------------------------- structure questions


def test_structure_questions_are_recognised():
    assert parse("2022年版白皮书第二章分析了全球数字治理面临哪些新形势？").chapter == 2
    assert parse("What three themes does the opening chapter cover?").chapter == 1
    assert parse("Which parts does Chapter III have?").chapter == 3
    s = parse("2020年白皮书第五章的小结认为，深层逻辑是什么？")
    assert s.chapter == 5 and s.summary
    assert parse("世贸组织的诸边谈判是何时启动的？") is None
    # asked for a chapter's parts in other words (q075, q079 had gone to the model and abstained)
    assert wants_parts("Which multilateral bodies does Chapter 3 of the English 2020 White Paper examine?")
    assert wants_parts("What trends in governance mechanisms does Chapter IV of the 2022 White Paper describe?")
    assert not wants_parts("What does Chapter 3 say about when the WTO talks started?")
    assert wants_title("2020年白皮书第三章的标题是什么？") and wants_title("What is Chapter 2 called?")
    assert not wants_title("2020年白皮书第五章包括哪些部分？")
    assert strip_numbering("(ii) Concept and system framework") == "Concept and system framework"
    assert strip_numbering("（四）小结：政治与经济的分离") == "小结：政治与经济的分离"


@pytest.mark.slow
def test_a_structure_question_cites_its_chapter_and_lists_its_parts(pipe):
    rec = pipe.ask("According to the English table of contents of the 2020 White Paper, what three themes does "
                   "the opening chapter cover?")
    assert "structure-answer" in rec["flags"] and not rec["abstained"]
    c = rec["citations"][0]
    assert c["doc"] == "White Paper on Global Digital Governance (2020).pdf"
    assert c["section"].split(" > ")[-1].startswith("Chapter 1:")
    assert "Driven by Digitalization" in body(rec) and is_pure(body(rec), "en")
    rec = pipe.ask("2020年白皮书第五章包括哪些部分？")
    c = rec["citations"][0]
    assert c["doc"] == ZH_PAPER and c["section"].startswith("五、"), c
    assert "小结" in body(rec)


@pytest.mark.slow
def test_a_question_for_a_chapters_title_is_answered_with_its_heading(pipe):
    # q080 and q082 of the eval set had gone to the model, which found no answer in the chapter
    rec = pipe.ask("2020年白皮书第三章的标题是什么？")
    assert "structure-title" in rec["flags"] and not rec["abstained"]
    assert body(rec) == "第三章题为“全球性多边框架下的数字治理创新与困境”[1]。"
    c = rec["citations"][0]
    assert c["doc"] == ZH_PAPER and c["section"] == "三、全球性多边框架下的数字治理创新与困境", c
    # a summary's heading, asked in English of the Chinese paper with no model: the title is
    # quoted as printed, a name in quotes
    rec = pipe.ask("According to its heading, what does the summary section of Chapter 4 of the Chinese 2020 "
                   "white paper conclude?")
    assert "structure-title" in rec["flags"]
    assert body(rec).startswith("The summary of Chapter 4 is titled \"双诸边治理重塑") and is_pure(body(rec), "en")
    assert rec["citations"][0]["section"].split(" > ")[-1].startswith("（五）小结"), rec["citations"]


@pytest.mark.slow
def test_a_question_on_a_chapters_summary_cites_that_summary(pipe):
    rec = pipe.ask("2020年白皮书第五章的小结认为，企业等非政府力量在数字治理中崛起的深层逻辑是什么？")
    assert not rec["abstained"]
    assert rec["citations"][0]["section"].split(" > ")[-1].startswith("（四）小结")


# ---------------------------------------------------------------- the chain


@pytest.mark.slow
def test_the_chain_streams_sources_then_the_checked_answer(pipe):
    events = list(pipe.stream("APEC在组织架构上设立了哪些机构来推进电子商务和数字经济合作？", qid="s1"))
    assert isinstance(events[0], Sources) and isinstance(events[-1], Answered)
    rec = events[-1].record
    assert [q["quote"] for q in events[0].quotes] == [c["quote"] for c in rec["citations"]]
    assert {"id", "question", "answer", "abstained", "citations", "contexts", "timings_ms"} <= set(rec)
    assert rec["id"] == "s1" and "ECSG" in rec["answer"]


@pytest.mark.slow
def test_a_failed_question_translation_is_flagged(corpus_index):
    """The translator's model is a real OpenAI client pointed at a port where nothing listens:
    retrieval goes on in the question's language and the record says the translation failed."""
    from llm.factory import make_chat_model
    from qa.pipeline import LLMTranslator, QAPipeline
    from qa.retrieve import HybridSearcher
    from wpqa.wiring import Ctx

    ctx = Ctx(corpus_index["cfg"], corpus_index["corpus"], corpus_index["index"])
    dead, _ = make_chat_model("openai", {"base_url": "http://127.0.0.1:9/v1", "model": "x", "max_retries": 0,
                                         "timeout": 5}, corpus_index["tmp"])
    searcher = HybridSearcher(ctx.generation(), ctx.embeddings(), LLMTranslator(dead))
    rec = QAPipeline(searcher, ctx.embeddings(), None).ask("APEC设立了哪些机构来推进电子商务合作？")
    assert "translation-failed" in rec["flags"] and not rec["abstained"]


# ---------------------------------------------------------------- answer text rules


def test_lead_rules():
    assert lead_problems("The talks started in January 2019.", "en", "2019年1月，76个WTO成员签署联合声明。") == []
    assert "figure-not-in-source" in lead_problems("71 members signed in 2017.", "en", "2019年1月，76个成员签署。")
    assert "mixed-language" in lead_problems("They advocate 贸易 liberalization.", "en", "x")
    # a bare figure or date is no answer (seen: "2019年1月" for "when did the talks start?")
    assert lead_problems("2019年1月", "zh", "2019年1月，76个WTO成员签署联合声明。") == ["bare-figure"]
    assert lead_problems("6,814.", "en", "6814台设备") == ["bare-figure"]
    assert lead_problems("2019年1月，76个WTO成员启动了电子商务诸边谈判。", "zh", "2019年1月，76个WTO成员签署联合声明。") == []
    assert is_pure("中国坚定支持联合国和世界贸易组织（WTO）等多边体制。", "zh")
    # a lead that only restates the question (seen on d023) says nothing
    q = "这篇新闻综述认为，安全的跨境数据流动能给跨国企业带来哪些好处？"
    assert "restates-question" in lead_problems("安全的跨境数据流动能给跨国企业带来好处。", "zh", "x", q)
    # ... but one that restates it around the figure asked for answers it (seen on d019)
    q = "According to a footnote in China's ITU contribution, from what year was RCEP expected to take effect?"
    assert lead_problems("According to a footnote in China's ITU contribution, RCEP is expected to take effect in 2022.",
                         "en", "RCEP was signed and will enter into force in 2022.", q) == []
    assert "restates-question" in lead_problems("According to a footnote in China's ITU contribution, RCEP is "
                                                "expected to take effect.", "en", "x", q)
    # a lead that answers one part of a two-part question and restates the other (d007's recheck)
    q = "进入21世纪后，白皮书认为哪类安排最能推动贸易新规则的形成？这些安排的内容出现了什么新变化？"
    assert "restates-question" in lead_problems("进入21世纪后，白皮书认为双边和区域机制最能推动贸易新规则的形成。"
                                                "这些安排的内容出现了新变化。", "zh", "x", q)
    assert lead_problems("白皮书认为双边或诸边自由贸易协定最能推动贸易新规则的形成。更多协定写入了电子商务专章。",
                         "zh", "x", q) == []
    # an abbreviation's full stop ends no sentence
    q = "Which agency set the export rule?"
    assert lead_problems("The U.S. Department of Commerce set it in 2019. It applies to chips.", "en", "x 2019", q) == []
    q = "这篇新闻综述认为，安全的跨境数据流动能给跨国企业带来哪些好处？"
    assert lead_problems("安全的跨境数据流动能提高资源配置效率，降低生产和交易成本。", "zh",
                         "安全的跨境数据流动能提高资源配置效率，降低生产和交易成本。", q) == []
    # a figure written the other language's way is the source's figure (seen on q047, q056)
    src = "截至2020年6月，全球已建成逾70万个5G基站；每年的出口收益将达到2570亿美元，价值总额达8.98万亿美元。"
    assert lead_problems("By June 2020, over 700,000 5G base stations had been built.", "en", src) == []
    assert lead_problems("Exports would gain 257 billion dollars a year, of 8.98 trillion in all.", "en", src) == []
    assert "figure-not-in-source" in lead_problems("Exports would gain 2570 billion dollars a year.", "en", src)
    assert "figure-not-in-source" in lead_problems("截至2020年6月，全球已建成逾7万个5G基站。", "zh", src)
    assert lead_problems("全球外国直接投资降至1.39万亿美元。", "zh", "FDI fell to US$1.39 trillion in 2019.") == []
    # a table's figure whose unit is in its caption keeps its digits (the table tests' 40.7)
    table = "表1各地区数字服务出口规模（亿美元）\n| 地区 | 2020年 |\n| --- | --- |\n| 欧洲 | 40.7 |"
    assert lead_problems("2020年欧洲的数字服务出口规模为40.7亿美元。", "zh", table) == []
    # ... and the model is given figures written the target's way, to copy (it wrote 70万 as
    # "70 million" and 2570亿美元 as "$2570 billion")
    assert restate_figures(src, "en") == ("截至2020年6月，全球已建成逾700,000个5G基站；每年的出口收益将达到257 billion美元，"
                                          "价值总额达8.98 trillion美元。")
    # a count of thousands is grouped, a year is not (it wrote 6814个 as "68,140"; d028)
    assert restate_figures("2019年上半年共计6814个，2020年至2030年，1500家，2000家，G2000，3.1416", "en") == \
        "2019年上半年共计6,814个，2020年至2030年，1,500家，2000家，G2000，3.1416"
    assert restate_figures("FDI fell to US$1.39 trillion; 700 million people; 36 million users; 6,814 devices.", "zh") == \
        "FDI fell to US$1.39万亿; 7亿 people; 3600万 users; 6,814 devices."
    assert with_marker("The talks started in 2019.", 2) == "The talks started in 2019 [2]."
    assert with_marker("谈判于2019年启动。", 1) == "谈判于2019年启动[1]。"


ZH_REASON = ("当前，主要国家之间贸易保护主义现象突出，全球治理机制低效率与缺乏代表性问题日益显现。"
             "在全球性合作受阻背景下，主要国家和地区纷纷开始转向区域治理合作，全球治理体系面临碎片化风险。"
             "另一方面，新的数字治理规则尚未建立。")


def test_a_pick_takes_the_sentence_before_the_best_one_and_whole_sentences_after_a_short_one():
    """The best-matching sentence often states the conclusion and the one before it the reason
    (the dev set's "why" questions): the pick holds both, whole, and what follows while it is short."""
    ev = _evidence([(ZH_REASON, "zh")], "主要国家为什么转向区域治理合作？")
    [p] = pick_sentences("主要国家为什么转向区域治理合作？", None, ev)
    assert p.text.startswith("当前，主要国家之间") and "转向区域治理合作" in p.text, p.text
    assert p.text.endswith("新的数字治理规则尚未建立。")
    # the model is asked about the core: the matching sentences, within the pick
    assert "转向区域治理合作" in p.core and p.core in p.text and p.asked == p.core
    # a long pick stops at whole sentences within the limit
    [p] = pick_sentences("主要国家为什么转向区域治理合作？", None, ev, max_chars=120)
    assert p.text == ZH_REASON.split("。")[1] + "。", p.text


ZH_THEMES = ("二战结束以来，为维护和平和促进经济增长，全球主要国家在经历全球秩序重建、冷战下分割式全球治理的历程后，"
             "迎来了全球合作的高峰。全球主要国家和地区均积极参与到合作之中，意图通过构建一个更加一体化的世界，"
             "通过破除贸易投资壁垒扩大市场规模，获取更大的“得自贸易的收益”。与此同时，全球范围内的不均等发展也随着"
             "自由主义全球化的推进而日益凸显，各国在经济全球化中的分配差距成为重要难题。"
             "贸易便利化与发展均衡化成为全球经济治理的核心主题。2000年前后，随着数字技术的兴起，跨国贸易的形态也开始发生转变。")
ZH_LIST = ("机制二、双边和区域治理机制日益活跃。机制三、私营部门成为参与全球数字治理的重要力量，在市场规则、技术标准、"
           "国际规范上发挥重要作用。数字平台作为数字活动的核心载体，构筑了跨国界的传播空间和市场空间。")


def test_a_pick_ends_on_a_matching_sentence_in_reach_and_takes_no_list_item_before_it():
    # d017: the themes sit in the sentence after a full pick; it matches nearly as well and fits
    q, tr = "Which two themes became the core concerns of global economic governance after the war?", "二战后全球经济治理的核心议题是什么？"
    [p] = pick_sentences(q, tr, _evidence([(ZH_THEMES, "zh")], q, tr))
    assert p.text.startswith("二战结束以来") and p.text.endswith("核心主题。"), p.text
    # d013: an item of a list before the best sentence is its heading, not its reason
    q = "数字平台作为什么构筑了跨国界的市场空间？"
    [p] = pick_sentences(q, None, _evidence([(ZH_LIST, "zh")], q))
    assert p.text.startswith("数字平台作为数字活动的核心载体"), p.text


def test_a_pick_goes_on_into_the_next_chunk_of_its_section():
    """d013: the answer was the first sentence of the next chunk, which retrieval did not rank."""
    a = _chunk(ZH_LIST + "信息服务和电子商务领域的超大型平台，正借助其广泛的覆盖力和影响力，成为全球内容治理和市场运行规则的重要提供者。",
               ["二、新图景", "（二）三类机制"], cid="c-1")
    b = _chunk("信息服务和电子商务领域的超大型平台，正借助其广泛的覆盖力和影响力，成为全球内容治理和市场运行规则的重要提供者。"
               "数字平台在信息匹配、定价、信用评价、知识产权保护、消费者保护等问题上的具体实践，将直接决定跨国市场的运行方式。",
               ["二、新图景", "（二）三类机制"], cid="c-2")
    other = _chunk("另一节的句子。", ["二、新图景", "（三）内在特点"], cid="c-3")
    q = "数字平台如何成为跨国市场运行规则的提供者？"
    [e] = select_evidence([Hit(0, a, 5.0)], q, None, 5, 200, chunks=[a, b, other])
    assert e.following == ["数字平台在信息匹配、定价、信用评价、知识产权保护、消费者保护等问题上的具体实践，将直接决定跨国市场的运行方式。"]
    [p] = pick_sentences(q, None, [e])
    assert p.text.endswith("将直接决定跨国市场的运行方式。") and p.n == 1, p.text
    # the next chunk of another section, or no chunk store: the passage ends with its chunk
    assert select_evidence([Hit(1, b, 5.0)], q, None, 5, 200, chunks=[a, b, other])[0].following == []
    assert select_evidence([Hit(0, a, 5.0)], q, None, 5, 200)[0].following == []


def test_a_passage_two_chunks_share_is_evidence_once():
    """Overlapping chunks repeat a sentence; the same passage twice would take the slot of the
    next chunk (seen on d019: the Chinese RCEP sentence twice, the English footnote left out)."""
    ev = _evidence([(ZH_REASON, "zh"), (ZH_REASON, "zh"), ("RCEP was signed and will enter into force in 2022.", "en")],
                   "When was RCEP expected to take effect?", "RCEP预计何时生效？")
    assert [e.lang for e in ev] == ["zh", "en"] and [e.n for e in ev] == [1, 2]


def test_a_recheck_looks_at_the_other_language_first_then_by_rank():
    ev = _evidence([(ZH_REASON, "zh"), ("区域贸易协定写入电子商务专章。", "zh"),
                    ("RCEP was signed and will enter into force in 2022.", "en")],
                   "When was RCEP expected to take effect?", "RCEP预计何时生效？")
    first = pick_sentences("When was RCEP expected to take effect?", "RCEP预计何时生效？", ev[:1])[0]
    alts = alternative_picks("When was RCEP expected to take effect?", "RCEP预计何时生效？", ev, first)
    assert [(a.n, a.lang) for a in alts] == [(3, "en"), (2, "zh")]


def test_a_source_in_the_other_language_is_asked_about_in_english():
    zh_q = "这篇新闻综述认为，安全的跨境数据流动能给跨国企业带来哪些好处？"
    good = "What benefits can secure cross-border data flows bring to multinational enterprises?"
    stated = "This news summary suggests that secure cross-border data flows can bring benefits to enterprises."
    assert asked_in(zh_q, "zh", good, "zh") == (zh_q, "zh")
    assert asked_in(zh_q, "zh", good, "en") == (good, "en")
    # a translation that came back as a statement is no question to check a source against
    assert asked_in(zh_q, "zh", stated, "en") == (zh_q, "en")
    assert asked_in(zh_q, "zh", None, "en") == (zh_q, "en")
    # an English question on a Chinese source is asked in English
    assert asked_in(good, "en", zh_q, "zh") == (good, "en")


def test_chinese_words_left_in_an_english_text_are_translated_one_by_one():
    terms = {"电子商务": "e-commerce", "视听": "audiovisual"}
    assert repair_mixed("In 2017 the G20 supported the WTO framework for电子商务 negotiations.", terms.get) == \
        "In 2017 the G20 supported the WTO framework for e-commerce negotiations."
    assert repair_mixed("Rules may spread from online视听 services, then 视听.", terms.get) == \
        "Rules may spread from online audiovisual services, then audiovisual."
    assert repair_mixed("A term it cannot translate: 雁行.", terms.get) is None
    assert repair_mixed("Nothing to repair.", terms.get) is None


@pytest.mark.llm
def test_the_bundled_model_repairs_an_english_translation_with_a_chinese_word_left_in_it(llm_pipe):
    """One answer language: the model's "…the WTO framework for电子商务 negotiations." (seen on
    d012) becomes English, each Chinese word translated alone."""
    source = "2017年，G20在领导人宣言中明确支持WTO框架下的电子商务谈判。"
    text, problems = llm_pipe.composer._checked("In 2017, the G20 explicitly supported the WTO framework for电子商务 "
                                                "negotiations in its leaders' declaration.", "en", source)
    assert problems == [] and is_pure(text, "en"), (text, problems)
    assert "commerce" in text.lower() and text.startswith("In 2017, the G20 explicitly supported"), text


NEWS = ("Data is the core production element of the digital economy, and secure cross-border data flow benefits "
        "multinational corporations by enhancing resource allocation efficiency and reducing production and "
        "transaction costs.")


@pytest.mark.llm
def test_a_chinese_question_an_english_sentence_answers_is_answered_in_chinese(llm_pipe):
    """Answer in the evidence's language, then translate: the English sentence is confirmed (asked
    in English, with the question's translation: `asked_in`), then translated and streamed; the
    body is Chinese and cited, the English sentence is its source (quoted under it)."""
    q = "安全的跨境数据流动能给跨国企业带来哪些好处？"
    tr = "What benefits can secure cross-border data flows bring to multinational enterprises?"
    ev = _evidence([(NEWS, "en")], q, tr)
    picks = pick_sentences(q, tr, ev)
    *drafts, outcome = llm_pipe.composer.lead(q, "zh", picks, ev, strong=False, translation=tr)
    assert not outcome.abstain, outcome.flags
    assert "answer-is-the-source-translated" in outcome.flags, outcome.flags
    assert is_pure(outcome.body, "zh") and "成本" in outcome.body and outcome.body.endswith("[1]。"), outcome.body
    assert drafts, "the translation is streamed"


@pytest.mark.llm
def test_an_english_question_on_chinese_evidence_gets_an_english_body_and_the_chinese_quote_under_it(llm_pipe):
    rec = llm_pipe.ask("When did the WTO's plurilateral e-commerce negotiations formally start, according to the "
                       "Chinese white paper?")
    assert not rec["abstained"], rec["flags"]
    b = body(rec)
    assert is_pure(b, "en") and "…" not in b, b
    assert re.search(r"\[\d\]", b)
    quotes = rec["answer"].split("\n\n", 1)[1]
    assert quotes.startswith("> [") and re.search(r"[\u4e00-\u9fff]", quotes)
    assert rec["citations"][0]["doc"] == ZH_PAPER


@pytest.mark.llm
def test_chinese_figures_reach_an_english_answer_by_value(llm_pipe):
    """q047: given 70万 the bundled model wrote "70 million" and the answer fell back to a label;
    given 700,000 (`restate_figures`) it copies it, and the check compares by value."""
    rec = llm_pipe.ask("By June 2020, how many 5G base stations had been built worldwide, and how many commercial "
                       "5G networks were there?")
    assert not rec["abstained"] and "quoted-other-language" not in rec["flags"], rec["flags"]
    text = body(rec)
    assert "700,000" in text and "92" in text and is_pure(text, "en"), text
    assert "70万个5G基站" in rec["citations"][0]["quote"]


@pytest.mark.llm
def test_an_unanswerable_figure_is_abstained_on(llm_pipe):
    rec = llm_pipe.ask("What was the total value of China's digital trade exports in 2024?")
    assert rec["abstained"] and rec["citations"] == []


@pytest.mark.llm
def test_a_chinese_structure_question_on_an_english_contents_page_is_answered_in_chinese(llm_pipe):
    rec = llm_pipe.ask("2022年版白皮书第二章分析了全球数字治理面临哪些新形势？")
    c = rec["citations"][0]
    assert c["doc"] == "White Paper on Global Digital Governance (2022).pdf"
    assert c["section"].split(" > ")[-1].startswith("II.")
    assert is_pure(body(rec), "zh"), body(rec)


@pytest.mark.llm
def test_a_question_in_the_sources_language_is_answered_with_the_sentences_that_answer_it(llm_pipe):
    """Selection before generation: the body is the picked source sentences, whole and cited
    (they scored better than a model-written lead on the dev set); the model only confirmed them."""
    rec = llm_pipe.ask("G20是从哪一年开始在领导人宣言中支持WTO电子商务谈判的？")
    assert not rec["abstained"] and "answer-is-the-source" in rec["flags"], rec["flags"]
    b = body(rec)
    assert "2017年" in b and "G20在领导人宣言中明确支持WTO框架下的电子商务谈判" in b, b
    assert b.endswith("。") and re.search(r"\[\d\]", b) and "…" not in b
    quoted = [c["quote"] for c in rec["citations"]]
    assert any(q in b.replace("[1]", "").replace("[2]", "").replace("[3]", "") for q in quoted), (b, quoted)
