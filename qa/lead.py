"""Selection before generation: the answer rests on the source sentences that answer the
question, quoted whole; the model writes only a short lead sentence in the question's language.

A 1.5B model chooses badly between passages and restates them loosely, but it turns one given
sentence into a short answer well. So wpqa picks the answering sentence(s) itself (the body
sentences of the top chunks that share most with the question and its translation, the better
ranked chunk winning ties), gives the model only those, and checks what it writes: the lead
must be in the question's language and every figure in it must be a figure of the picked
sentences; a lead that fails is asked once more, then replaced by the sentences themselves
(translated where they are in the other language).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.text import detect_lang, tokenize

from .answer import NOT_FOUND, figures_not_in, numbers
from .evidence import Evidence
from .sentences import join_sentences, overlap

CJK = re.compile(r"[\u3400-\u9fff]")
LATIN = re.compile(r"[A-Za-z]")
_BRACKETED = re.compile(r"“[^”]*”|\"[^\"]*\"|《[^》]*》|（[^）]*）|\([^)]*\)|「[^」]*」")


@dataclass
class Pick:
    """The source sentence(s) an answer rests on: whole, from one evidence passage."""

    n: int  # the evidence (citation) number
    text: str
    lang: str
    score: float
    core: str = ""  # the sentences that match the question, within `text`: what the model is asked about
    anchor: str = ""  # the best-matching sentence: the citation gives its page

    @property
    def asked(self) -> str:
        return self.core or self.text


PICK_CHARS = 420  # the most a pick holds (a Chinese character counts double: 210 of them)
SHORT_PICK = 0.8  # a pick shorter than this share of PICK_CHARS takes the sentences after it
CORE_CHARS = 220  # the most the core of a pick holds (the sentences the model is asked about)


def pick_sentences(question: str, translation: str | None, evidence: list[Evidence],
                   max_chars: int = PICK_CHARS, embeddings=None, rank_weight: float = 0.2) -> list[Pick]:
    """The best-matching body sentence of the evidence chunks with the sentences around it: its
    best neighbour when that one matches nearly as well, else the sentence before it, then the
    sentences after it while the pick is short, all within max_chars (Chinese counts double).

    A sentence scores its word overlap with the question in the sentence's own language (the
    translation for the other language, so neither language wins by sharing the question's
    words), plus, with `embeddings`, its e5 similarity to the question scaled to [0, 1] over the
    candidates; a lower-ranked chunk's sentences lose `rank_weight` per rank."""
    asked = set(tokenize(question, stopwords=True))
    moved = set(tokenize(translation, stopwords=True)) if translation else set()
    qlang = detect_lang(question)
    cands: list[tuple[int, int, list[str], set[str]]] = []
    for rank, e in enumerate(evidence):
        sents = [s.text for s in e.sentences]
        q = asked if e.lang == qlang or not moved else moved
        cands.extend((rank, i, sents, q) for i in range(len(sents)))
    if not cands:
        return []
    lex = [overlap(q, sents[i]) for rank, i, sents, q in cands]
    dense = [0.0] * len(cands)
    if embeddings is not None:
        qv = embeddings.queries([question] + ([translation] if translation else []))
        sv = embeddings.queries([sents[i] for _, i, sents, _ in cands])
        sims = (sv @ qv.T).max(axis=1)
        lo, hi = float(sims.min()), float(sims.max())
        dense = [(float(x) - lo) / (hi - lo + 1e-6) for x in sims]
    scores = [(lx + d) * (1.0 - rank_weight * c[0]) for lx, d, c in zip(lex, dense, cands)]
    k = max(range(len(cands)), key=lambda j: scores[j])
    rank, i, sents, q = cands[k]
    sc = lex[k]
    e = evidence[rank]
    sents = sents + e.following  # the passage may go on in the section's next chunk
    lo = hi = i  # the picked run of sentences, sents[lo..hi]
    cost = _cost(sents[i])
    for j in (i + 1, i - 1):  # one neighbour that also matches the question
        if 0 <= j < len(sents) and sc > 0 and overlap(q, sents[j]) >= 0.6 * sc and cost + _cost(sents[j]) <= max_chars:
            lo, hi = min(lo, j), max(hi, j)
            cost += _cost(sents[j])
            break
    # the core: what the model is asked about (half the prompt of the whole pick, and the
    # confirmation rate of the shorter picks measured before)
    c_hi, c_cost = hi, cost
    while c_cost <= CORE_CHARS * 0.5 and c_hi + 1 < len(sents) and c_cost + _cost(sents[c_hi + 1]) <= CORE_CHARS:
        c_hi += 1
        c_cost += _cost(sents[c_hi])
    core = join_sentences(sents[lo:c_hi + 1])
    # The sentence that matches the question best often states the conclusion, and the sentence
    # before it the reason ("……低效率与缺乏代表性问题日益显现。" before "……主要国家……转向区域
    # 治理合作……"): the pick takes it, unless the matching neighbour already came from before.
    # Or it announces the answer ("治理碎片化是未来全球数字治理最大挑战。"), and the answer
    # follows: a short pick takes the sentences after it while they fit.
    # A list item before it ("机制三、…", "二是…") is a sibling or a heading, not the reason.
    if lo == i and lo > 0 and cost + _cost(sents[lo - 1]) <= max_chars and not _LIST_ITEM.match(sents[lo - 1]):
        lo -= 1
        cost += _cost(sents[lo])
    while cost <= max_chars * SHORT_PICK and hi + 1 < len(sents) and cost + _cost(sents[hi + 1]) <= max_chars:
        hi += 1
        cost += _cost(sents[hi])
    # a sentence right after that matches nearly as well completes it, a quarter over the limit at
    # most ("……成为重要难题。" then "贸易便利化与发展均衡化成为全球经济治理的核心主题。")
    if (sc > 0 and hi + 1 < len(sents) and overlap(q, sents[hi + 1]) >= 0.6 * sc
            and cost + _cost(sents[hi + 1]) <= max_chars * 1.25):
        hi += 1
        cost += _cost(sents[hi])
    return [Pick(e.n, join_sentences(sents[lo:hi + 1]), e.lang, scores[k], core, sents[i])]


# a sentence that opens an item of a list: "（二）…", "机制三、…", "二是…", "3. …"
_LIST_ITEM = re.compile(r"\s*(?:[（(][一二三四五六七八九十\d]{1,3}[）)]|[^\s，。；：]{0,4}[一二三四五六七八九十]{1,3}、|[一二三四五六七八九十]{1,2}是|"
                        r"\d{1,2}[.、．](?!\d))")


def alternative_picks(question: str, translation: str | None, evidence: list[Evidence], first: Pick,
                      most: int = 2) -> list[Pick]:
    """The best pick of each other evidence passage, for a second look when the model finds no
    answer in the first: the passages in the other language than the first pick's come first
    (the pick went to the wrong language: a Chinese passage for a Chinese question the English
    news summary answers, or a table of the same shape in the other language), then by rank."""
    out = [p for e in evidence if e.n != first.n for p in pick_sentences(question, translation, [e])]
    out = [p for p in out if p.text != first.text]
    out.sort(key=lambda p: p.lang == first.lang)  # stable: rank order within each language
    return out[:most]


def _cost(s: str) -> int:
    return len(s) * (2 if CJK.search(s) else 1)


# The system parts never change, so llama.cpp keeps them evaluated between questions.
LEAD_SYSTEM = {
    "en": "You answer a question from a quoted source. Write one or two complete sentences in English that "
          "answer the question with the source's facts: keep names, figures and units, and say what each "
          "figure counts. Write only English, never Chinese. Do not add anything the source does not say. "
          f"If the source does not answer the question, write only {NOT_FOUND}.",
    "zh": "根据引文回答问题。用简体中文写一到两句完整的话，保留引文中的名称、数字和单位，说明每个数字指什么。"
          f"只写引文中有的内容。如果引文没有回答这个问题，只写{NOT_FOUND}。",
}


def lead_messages(question: str, lang: str, source: str) -> list[dict]:
    label = ("Source", "Question", "Answer") if lang == "en" else ("引文", "问题", "回答")
    return [{"role": "system", "content": LEAD_SYSTEM[lang]},
            {"role": "user", "content": f"{label[0]}: {source}\n{label[1]}: {question}\n{label[2]}:"}]


def translation_messages(text: str, target: str) -> list[dict]:
    """The answer sentences, translated into the question's language (a fixed system part, so
    llama.cpp keeps it evaluated)."""
    source, into = ("Chinese", "English") if target == "en" else ("English", "Chinese")
    return [{"role": "system", "content": f"Translate the user's text from {source} into {into}. "
                                          "Keep every name and figure. Output only the translation."},
            {"role": "user", "content": text}]


# One worked example keeps the model giving the term alone.
_TERM_EXAMPLE = ("跨境数据流动", "cross-border data flows")


def term_messages(term: str) -> list[dict]:
    """A Chinese term the model left in an English translation, asked alone (a fixed system
    part and example, so llama.cpp keeps them evaluated)."""
    return [{"role": "system", "content": "Translate the Chinese term into English. Output only the English term."},
            {"role": "user", "content": _TERM_EXAMPLE[0]},
            {"role": "assistant", "content": _TERM_EXAMPLE[1]},
            {"role": "user", "content": term}]


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


def retry_messages(question: str, lang: str, source: str, problems: list[str] = ()) -> list[dict]:
    """A second, stricter try when the first lead came out in mixed languages, with a figure the
    source does not hold, or as a bare figure ("40.7"): the note says what was wrong."""
    msgs = lead_messages(question, lang, source)
    if "bare-figure" in problems or "empty" in problems:
        note = (" (answer in one complete English sentence that says what the figure counts, with its unit)"
                if lang == "en" else "（用一句完整的简体中文句子回答，写出数字指什么，带上单位）")
    else:
        note = (" (answer in English only, using only the figures in the source)" if lang == "en"
                else "（只用简体中文回答，只用引文中的数字）")
    msgs[1]["content"] += note
    return msgs


def clean_lead(raw: str) -> str:
    """The model's lead as one or two sentences: no markers, no NOT_FOUND, no label echo."""
    s = re.sub(r"\[\d{1,2}(?:\s*[,，、]\s*\d{1,2})*\]", "", raw)
    s = re.sub(r"^\s*(?:answer|回答|答)\s*[:：]\s*", "", s, flags=re.I)
    s = re.sub(r"\s*\bNOT[_ ]FOUND\b[.。]?", "", s)
    s = " ".join(s.split()) if detect_lang(s) == "en" else re.sub(r"\s*\n\s*", "", s).strip()
    return s.strip()


def is_pure(text: str, lang: str) -> bool:
    """The answer-text rule: an English body holds no CJK character; a Chinese body is at least
    60% CJK among its letters (names in quotes or brackets keep their own language)."""
    rest = _BRACKETED.sub(" ", text)
    cjk, lat = len(CJK.findall(rest)), len(LATIN.findall(rest))
    return cjk == 0 if lang == "en" else cjk >= 0.6 * max(1, cjk + lat)


# where a lead's sentences end: after 。！？!?, or after a full stop that follows a small letter,
# a digit or a closing mark and comes before a capital ("U.S. Department" goes on)
_SENTENCE_END = re.compile(r"(?<=[。！？!?])|(?<=[a-z\d)\]\"'”’]\.)\s+(?=[A-Z])")
# nothing but a figure or a date ("2019年1月", "58个", "6814"): an answer needs its subject
_BARE = re.compile(r"[\s\d.,，。、%％个年月日亿万千百美元-]*")


def lead_problems(lead: str, lang: str, source: str, question: str | None = None) -> list[str]:
    """Why a lead cannot stand: empty, a bare figure with no sentence, mixed languages, a figure
    the source does not hold, a truncation mark, or (given the question) nothing but the
    question restated ("安全的跨境数据流动能给跨国企业带来好处。"), or a sentence of it that is."""
    out = []
    if question is not None and detect_lang(question) == lang:
        asked = set(tokenize(question, stopwords=True))
        # a figure the question does not hold is an answer ("… RCEP is expected to take effect in 2022.");
        # each sentence must add something: "……最能推动贸易新规则的形成。这些安排的内容出现了新
        # 变化。" answers the first part and restates the second
        if any(len(set(tokenize(part, stopwords=True)) - asked) < 2 and not numbers(part) - numbers(question)
               for part in _SENTENCE_END.split(lead) if re.search(r"\w", part)):
            out.append("restates-question")
    if not re.search(r"\w", lead):
        out.append("empty")
    elif _BARE.fullmatch(lead):
        out.append("bare-figure")
    if not is_pure(lead, lang):
        out.append("mixed-language")
    # by value too (70万 is 700,000); a figure of the question is no invention ("进入21世纪后，…")
    if figures_not_in(lead, source if question is None else f"{source}\n{question}"):
        out.append("figure-not-in-source")
    if "…" in lead or "..." in lead:
        out.append("truncated")
    return out
