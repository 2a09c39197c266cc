"""Checks of a written answer body, each a function returning typed problems.

A body must be in the question's language, hold only figures of its passage or the question
(compared by value: 70万 is 700,000), add something to the question, not be cut with `…`, not be
a bare figure, and not copy its passage (the passage is quoted under the answer).
"""
from __future__ import annotations

import re
from difflib import SequenceMatcher
from enum import Enum

from ingest.text import detect_lang, tokenize

from .answer import figures_not_in, numbers

CJK = re.compile(r"[\u3400-\u9fff]")
LATIN = re.compile(r"[A-Za-z]")
_BRACKETED = re.compile(r"“[^”]*”|\"[^\"]*\"|《[^》]*》|（[^）]*）|\([^)]*\)|「[^」]*」")


class Problem(str, Enum):
    EMPTY = "empty"
    BARE_FIGURE = "bare-figure"
    MIXED_LANGUAGE = "mixed-language"
    FIGURE_NOT_IN_SOURCE = "figure-not-in-source"
    TRUNCATED = "truncated"
    RESTATES_QUESTION = "restates-question"
    COPIES_PASSAGE = "copies-passage"

    def __str__(self) -> str:
        return self.value


def is_pure(text: str, lang: str) -> bool:
    """An English body holds no CJK character; a Chinese body is at least 60% CJK among its
    letters (names in quotes or brackets keep their own language)."""
    rest = _BRACKETED.sub(" ", text)
    cjk, lat = len(CJK.findall(rest)), len(LATIN.findall(rest))
    return cjk == 0 if lang == "en" else cjk >= 0.6 * max(1, cjk + lat)


# where a body's sentences end: after 。！？!?, or after a full stop that follows a small letter,
# a digit or a closing mark and comes before a capital ("U.S. Department" goes on)
SENTENCE_END = re.compile(r"(?<=[。！？!?])|(?<=[a-z\d)\]\"'”’]\.)\s+(?=[A-Z])")
# nothing but a figure or a date ("2019年1月", "58个", "6814"): an answer needs its subject
_BARE = re.compile(r"[\s\d.,，。、%％个年月日亿万千百美元-]*")


def restates(body: str, question: str) -> bool:
    """A sentence of the body adds fewer than two words and no figure to the question."""
    asked = set(tokenize(question, stopwords=True))
    return any(len(set(tokenize(part, stopwords=True)) - asked) < 2 and not numbers(part) - numbers(question)
               for part in SENTENCE_END.split(body) if re.search(r"\w", part))


def _squash(s: str) -> str:
    return re.sub(r"[\W_]+", "", s.casefold())


def copies(body: str, passage: str, ratio: float = 0.8) -> bool:
    """The body repeats its passage: word for word inside it (a sentence of it copied), or
    nearly the same text."""
    b, p = _squash(body), _squash(passage)
    if len(b) < 10 or not p:
        return False
    return b in p or SequenceMatcher(None, b, p, autojunk=False).ratio() >= ratio


def body_problems(body: str, lang: str, passage: str, question: str | None = None) -> list[Problem]:
    """Why a body cannot stand (empty list: it can)."""
    out: list[Problem] = []
    if not re.search(r"\w", body):
        return [Problem.EMPTY]
    if _BARE.fullmatch(body):
        out.append(Problem.BARE_FIGURE)
    if question is not None and detect_lang(question) == lang and restates(body, question):
        out.append(Problem.RESTATES_QUESTION)
    if not is_pure(body, lang):
        out.append(Problem.MIXED_LANGUAGE)
    # by value (70万 is 700,000); a figure of the question is no invention ("进入21世纪后，…")
    if figures_not_in(body, passage if question is None else f"{passage}\n{question}"):
        out.append(Problem.FIGURE_NOT_IN_SOURCE)
    if "…" in body or "..." in body:
        out.append(Problem.TRUNCATED)
    if copies(body, passage):
        out.append(Problem.COPIES_PASSAGE)
    return out


def clean_body(raw: str) -> str:
    """The model's body on one line: no citation markers, no control word, no label echo."""
    s = re.sub(r"\[\d{1,2}(?:\s*[,，、]\s*\d{1,2})*\]", "", raw)
    s = re.sub(r"^\s*(?:answer|回答|答)\s*[:：]\s*", "", s, flags=re.I)
    s = re.sub(r"\s*\bNOT[_ ]FOUND\b[.。]?", "", s)
    s = " ".join(s.split()) if detect_lang(s) == "en" else re.sub(r"\s*\n\s*", "", s).strip()
    return s.strip()


_CJK_RUN = re.compile(r"[\u3400-\u9fff][\u3400-\u9fff·・]*")


def repair_mixed(text: str, translate_term, most: int = 4) -> str | None:
    """An English text with Chinese words left in it ("the WTO framework for电子商务
    negotiations") with each such word translated alone (`translate_term(term) -> str | None`);
    None when there are more than `most` of them or one cannot be translated."""
    terms = list(dict.fromkeys(_CJK_RUN.findall(text)))
    if not terms or len(terms) > most:
        return None
    for term in terms:
        moved = " ".join((translate_term(term) or "").split()).strip(" .\"'“”")
        if not moved or CJK.search(moved) or len(moved.split()) > 6:
            return None
        text = re.sub(rf"\s*{re.escape(term)}\s*", f" {moved} ", text)
    text = re.sub(r" +([,.;:!?)’”])", r"\1", " ".join(text.split()))
    return text.strip()
