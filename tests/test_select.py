"""The sentence selector (qa/select.py): which sentences of the retrieved chunks an answer rests
on. Every test uses sentences written for it, each with variants."""
from __future__ import annotations

import re

import pytest

from ingest.model import Chunk
from ingest.text import tokenize
from qa.retrieve import Hit
from qa.select import IdfOverlap, SelectorConfig, SentenceSelector, core_of, cost
from qa.sentences import body_sentences


def _chunk(text: str, path: list[str], lang: str = "zh", cid: str = "c-1") -> Chunk:
    return Chunk(id=cid, doc="d.pdf", doc_sha256="x", ordinal=0, section_id="s1", section_path=path, page=1,
                 page_end=1, lang=lang, start=0, end=len(text), text=text)


def _hits(texts: list[tuple[str, str]]) -> list[Hit]:
    """Hits over chunks made of `texts` ((text, lang) each, in rank order)."""
    return [Hit(i, _chunk(t, ["一、标题" if lang == "zh" else "1. Title"], lang, f"c-{i}"), 5.0 - i)
            for i, (t, lang) in enumerate(texts)]


@pytest.fixture(scope="module")
def emb():
    from index.embeddings import E5SmallEmbeddings

    return E5SmallEmbeddings()


def _selector(emb, idf: dict | None = None, **cfg) -> SentenceSelector:
    return SentenceSelector(emb, IdfOverlap(idf or {"en": {}, "zh": {}}), SelectorConfig(**cfg))

FORUM_EN = ("The Harbour Forum was held in Valmora in May 2023 and gathered ministers from twelve countries. "
            "Valmora was chosen as host because its new cable landing station links three continents. "
            "The forum's closing statement called for common rules on submarine cable repair.")
FORUM_ZH = ("2023年5月，港湾论坛在瓦尔莫拉举行，来自十二个国家的部长出席。"
            "瓦尔莫拉之所以被选为主办地，是因为当地新建的海缆登陆站连接三大洲。"
            "论坛闭幕声明呼吁制定海缆维修的共同规则。")


@pytest.mark.parametrize("question,expected", [
    ("How many countries sent ministers to the Harbour Forum?", "twelve countries"),
    ("What did the forum's final statement ask for?", "closing statement"),
    ("Where does Valmora's new cable landing station connect to?", "links three continents"),
])
def test_the_anchor_is_the_sentence_that_answers(emb, question, expected):
    """Each sentence of the passage shares the question's names (Valmora, forum); the anchor is
    the one that answers, by meaning (e5) and the question's words."""
    [w, *_] = _selector(emb).select(question, "en", None, _hits([(FORUM_EN, "en")]))
    assert expected in w.anchor, w.anchor


@pytest.mark.parametrize("question,qlang,translation,expected", [
    ("论坛闭幕声明呼吁什么？", "zh", None, "闭幕声明"),
    ("有多少个国家的部长出席了港湾论坛？", "zh", None, "十二个国家"),
    # across languages: the translation meets the sentence in its own language
    ("What did the closing statement of the forum call for?", "en", "论坛闭幕声明呼吁什么？", "闭幕声明"),
    ("论坛闭幕声明呼吁什么？", "zh", "What did the forum's closing statement call for?", "closing statement"),
])
def test_the_anchor_is_found_in_either_language(emb, question, qlang, translation, expected):
    src, lang = (FORUM_EN, "en") if re.search(r"[a-z]", expected) else (FORUM_ZH, "zh")
    [w, *_] = _selector(emb).select(question, qlang, translation, _hits([(src, lang)]))
    assert expected in w.anchor, w.anchor


@pytest.mark.parametrize("question,qlang,src,lang,reason", [
    ("Why was Valmora chosen to host the Harbour Forum?", "en", FORUM_EN, "en", "because its new cable"),
    ("What reason made Valmora the host city of the forum?", "en", FORUM_EN, "en", "because its new cable"),
    ("为什么选择瓦尔莫拉举办港湾论坛？", "zh", FORUM_ZH, "zh", "是因为当地新建的海缆登陆站"),
])
def test_a_why_questions_reason_is_in_the_first_window(emb, question, qlang, src, lang, reason):
    """The sentence naming the forum and its host outscores the one giving the reason (it repeats
    more of the question); the window around the anchor holds the reason, and the model reads
    the window."""
    [w, *_] = _selector(emb).select(question, qlang, None, _hits([(src, lang)]))
    assert reason in w.text, w.text


def test_a_window_is_whole_sentences_around_its_anchor_within_the_budget(emb):
    q = "Where does Valmora's new cable landing station connect to?"
    [w, *_] = _selector(emb, before=1, after=1, budget=1000).select(q, "en", None, _hits([(FORUM_EN, "en")]))
    assert w.sentences == [s.text for s in body_sentences(_hits([(FORUM_EN, "en")])[0].chunk)]
    assert w.text == FORUM_EN
    # a tighter budget: the anchor and the neighbour after it (the nearest first, after before before)
    [w, *_] = _selector(emb, before=1, after=1, budget=190).select(q, "en", None, _hits([(FORUM_EN, "en")]))
    assert w.sentences[0].startswith("Valmora was chosen") and len(w.sentences) == 2
    assert sum(cost(s) for s in w.sentences) <= 190
    # no neighbours asked for, or none that fit: the anchor alone, whole even over the budget
    for cfg in ({"before": 0, "after": 0}, {"budget": 20}):
        [w, *_] = _selector(emb, **cfg).select(q, "en", None, _hits([(FORUM_EN, "en")]))
        assert w.sentences == [w.anchor] and w.anchor.startswith("Valmora was chosen")


def test_a_chinese_character_costs_two():
    assert cost("论坛") == 4 and cost("forum") == 5 and cost("G20峰会") == 7


def test_rare_words_weigh_more_than_common_ones():
    idf = {"en": {t: w for word, w in (("forum", 0.1), ("valmora", 0.2), ("cable", 3.0), ("repair", 3.0))
                  for t in tokenize(word)}}
    ov = IdfOverlap(idf)
    q = tokenize("Which forum in Valmora discussed cable repair?", stopwords=True)
    common = ov(q, "The forum met in Valmora.", "en")
    rare = ov(q, "Rules on cable repair were discussed.", "en")
    assert rare > 0.8 > 0.1 > common > 0
    assert ov(q, "Nothing shared here.", "en") == 0.0
    # a word the index never saw counts as the rarest it knows
    assert ov.weight("zebrafish", "en") == 3.0


def test_a_window_goes_on_into_the_next_chunk_of_its_section(emb):
    path = ["二、新图景", "（二）三类机制"]
    a = _chunk("港湾论坛于2023年举行。论坛讨论了海缆维修规则。", path, cid="c-1")
    b = _chunk("论坛讨论了海缆维修规则。各方同意建立海缆维修船队共享机制。", path, cid="c-2")
    other = _chunk("另一节的句子写在这里。", ["二、新图景", "（三）内在特点"], cid="c-3")
    q = "论坛讨论了哪些海缆规则？"
    sel = _selector(emb, before=1, after=2, budget=400)
    [w, *_] = sel.select(q, "zh", None, [Hit(0, a, 5.0)], chunks=[a, b, other])
    assert w.anchor == "论坛讨论了海缆维修规则。"
    assert w.sentences[-1] == "各方同意建立海缆维修船队共享机制。", w.sentences
    # the next chunk of another section, or no chunk store: the window ends with its chunk
    [w, *_] = sel.select(q, "zh", None, [Hit(1, b, 5.0)], chunks=[a, b, other])
    assert "另一节" not in w.text
    [w, *_] = sel.select(q, "zh", None, [Hit(0, a, 5.0)])
    assert w.sentences[-1] == "论坛讨论了海缆维修规则。"


def test_a_sentence_two_overlapping_chunks_share_anchors_one_window(emb):
    shared = "Valmora was chosen as host because its new cable landing station links three continents."
    hits = _hits([("The Harbour Forum met in May. " + shared, "en"),
                  (shared + " Ministers from twelve countries came.", "en")])
    ws = _selector(emb, before=0, after=0).select("Why was Valmora chosen as host?", "en", None, hits)
    assert [w.anchor for w in ws].count(shared) == 1
    assert len({w.text for w in ws}) == len(ws)


def test_a_better_ranked_chunk_wins_a_near_tie(emb):
    text = "Valmora was chosen as host because its new cable landing station links three continents."
    hits = [Hit(0, _chunk(text, ["1. A"], "en", "c-0"), 6.0), Hit(1, _chunk(text + " ", ["1. B"], "en", "c-1"), 2.0)]
    [w, *_] = _selector(emb).select("Why was Valmora chosen?", "en", None, hits)
    assert w.hit.chunk.id == "c-0" and w.rank == 0




@pytest.mark.parametrize("budget,expected", [
    (1000, ["Valmora was chosen", "The forum's closing"]),
    (120, ["Valmora was chosen"]),
    (10, ["Valmora was chosen"]),
])
def test_the_core_is_the_anchor_and_what_follows_it_within_its_budget(emb, budget, expected):
    """The model is asked about the anchor and the sentences after it (the window may also hold
    the sentence before); the anchor always, whole."""
    q = "Where does Valmora's new cable landing station connect to?"
    [w, *_] = _selector(emb, before=1, after=1, budget=1000).select(q, "en", None, _hits([(FORUM_EN, "en")]))
    core = core_of(w, budget)
    assert core.startswith(w.anchor) and w.anchor in core
    assert [s[:18] for s in re.split(r"(?<=\.) ", core)] == [e[:18] for e in expected], core
    assert "Harbour Forum was held" not in core
