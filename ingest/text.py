"""Language detection and tokenisation shared by chunking and the lexical index."""
from __future__ import annotations

import logging
import re
import unicodedata

import jieba
import Stemmer

jieba.setLogLevel(logging.WARNING)

CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RE = re.compile(f"[{CJK}]")
_LATIN_RE = re.compile(r"[A-Za-z]")
_EN_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")
_HAS_WORD = re.compile(rf"[{CJK}A-Za-z0-9]")

# General English function words only: words of this corpus ("white paper", "according to")
# carry meaning elsewhere and are left to BM25's idf.
EN_STOP = frozenset(
    """a an and are as at be been but by for from has have how in into is it its of on or
    that the their this to was were what when where which who why will with does did do""".split()
)
ZH_STOP = frozenset("的 了 和 是 在 与 及 等 对 为 中 将 也 并 而 或 其 之 于 以 有 哪些 什么 如何 怎样 吗 呢 哪 些 个 多少 是否 这些 这 那".split())


LANGS = ("zh", "en")  # what detect_lang returns; the index keeps one partition per language


def detect_lang(text: str) -> str:
    """'zh' when CJK characters make up a real share of the letters, else 'en'."""
    cjk = len(_CJK_RE.findall(text))
    latin = len(_LATIN_RE.findall(text))
    # A CJK character carries about as much as a short English word.
    return "zh" if cjk and cjk * 3 >= latin * 0.5 else "en"


_EN_STEMMER = Stemmer.Stemmer("english")  # Snowball English (Porter 2), the stemmer bm25s takes


def stem(word: str) -> str:
    """The Snowball English stem of a lower-cased word: service/services, tax/taxes share one."""
    return _EN_STEMMER.stemWord(word)


def tokenize(text: str, stopwords: bool = False) -> list[str]:
    """Tokens for counting and lexical search: jieba words for CJK runs, lower-cased
    Snowball-stemmed words for Latin text, digits kept."""
    text = unicodedata.normalize("NFKC", text)
    out: list[str] = []
    for piece in re.split(rf"([{CJK}]+)", text):
        if not piece:
            continue
        if _CJK_RE.match(piece):
            for w in jieba.lcut(piece):
                if w.strip() and (not stopwords or w not in ZH_STOP):
                    out.append(w)
        else:
            for w in _EN_WORD.findall(piece.lower()):
                if stopwords and w in EN_STOP:
                    continue
                out.append(stem(w))
    return out


def count_tokens(text: str) -> int:
    return len(tokenize(text))


def has_words(text: str) -> bool:
    return bool(_HAS_WORD.search(text))
