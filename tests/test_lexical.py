"""English lexical matching: Snowball stems, general stop words, and BM25 over them (issue 11)."""
from __future__ import annotations

from ingest.text import EN_STOP, stem, tokenize
from index.lexical import LexicalIndex


def test_singular_and_plural_share_a_stem():
    for a, b in [("service", "services"), ("measure", "measures"), ("process", "processes"), ("tax", "taxes"),
                 ("policy", "policies"), ("country", "countries"), ("govern", "governance"),
                 ("regulate", "regulations")]:
        assert stem(a) == stem(b), (a, b, stem(a), stem(b))
    # different words keep different stems
    assert len({stem(w) for w in ("data", "date", "trade", "trace", "tax", "text")}) == 6


def test_tokenize_stems_english_keeps_chinese_words_and_numbers():
    toks = tokenize("Digital services taxes, 2023: 数字服务税", stopwords=True)
    assert toks[:4] == [stem("digital"), stem("service"), stem("tax"), "2023"]
    assert "数字" in toks and "税" in toks  # jieba's words for the Chinese run, unchanged


def test_stop_list_is_general_english_only():
    assert {"the", "of", "and", "what", "which"} <= EN_STOP
    for word in ("white", "paper", "according", "digital", "service"):
        assert word not in EN_STOP
    assert tokenize("the white paper", stopwords=True) == [stem("white"), stem("paper")]


def test_bm25_matches_singular_question_to_plural_passage():
    texts = ["Cross-border data services are opened to foreign providers.",
             "Customs procedures were simplified for small traders.",
             "The taxes on digital processes were cut by half.",
             "跨境数据流动的安全顾虑日益上升。"]
    langs = ["en", "en", "en", "zh"]
    lex = LexicalIndex.build(texts, langs)
    assert [r for r, _ in lex.search("Which service is opened?", "en", 3)][:1] == [0]
    assert [r for r, _ in lex.search("a tax on a digital process", "en", 3)][:1] == [2]
    assert [r for r, _ in lex.search("customs procedure", "en", 3)][:1] == [1]
    assert [r for r, _ in lex.search("跨境数据", "zh", 3)] == [3]
