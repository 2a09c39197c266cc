"""The sentence selector: which sentences of the retrieved chunks answer the question.

One component instead of hand-written pick rules. Every body sentence of the top hits (and the
sentences a hit's section goes on with in the next chunk) is scored by

    score = cos(e5(question or its translation), e5(sentence))        the meaning
          + lexical_weight * IDF-weighted share of the question's words in the sentence

with the question in the sentence's own language (its translation for the other language, so
neither language wins by sharing the question's words). A sentence that repeats the question's topic can
outscore the one that answers it (a "why" question's reason is often the next sentence): the
window around the anchor holds its neighbours. The best sentences are anchors; each anchor gets
a window of whole sentences around it (`before` and `after`, within `budget` characters, a
Chinese character counting twice). The output is a ranked, typed list of windows; the pipeline
takes the best window of each passage as a pick (`qa.pipeline.QAPipeline._picks`).
"""
from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from ingest.text import tokenize

from . import defaults as D
from .evidence import following_sentences, quote_page
from .retrieve import Hit
from .sentences import Sentence, body_sentences, join_sentences


@dataclass
class SelectorConfig:
    """Settings of the selector (the window and selector settings of [answer] in config.toml)."""

    passages: int = D.MAX_EVIDENCE  # top hits whose sentences are candidates
    core: int = D.CORE_CHARS  # the anchor and the sentences after it the model is asked about
    before: int = D.WINDOW_BEFORE  # sentences a window takes before its anchor ...
    after: int = D.WINDOW_AFTER  # ... and after it, while they fit in `budget`
    budget: int = D.WINDOW_CHARS  # characters of a window (a Chinese character counts as two)
    dense: bool = True  # e5 similarity of question and sentence (off: lexical overlap alone)
    lexical_weight: float = D.LEXICAL_WEIGHT


@dataclass
class Window:
    """Whole sentences around an anchor sentence of one retrieved chunk."""

    hit: Hit
    rank: int  # the hit's 0-based retrieval rank
    sentences: list[str]  # the window, whole sentences in order
    anchor: str  # the best-matching sentence (the citation gives its page)
    score: float  # the anchor's selector score
    dense: float  # its e5 similarity to the question (or the translation)
    lexical: float  # its IDF-weighted overlap with the question (or the translation)

    @property
    def text(self) -> str:
        return join_sentences(self.sentences)

    @property
    def lang(self) -> str:
        return self.hit.chunk.lang

    @property
    def page(self) -> int:
        """The page where the anchor stands (a chunk may run over page breaks)."""
        return quote_page(self.hit.chunk, self.anchor)


def cost(s: str) -> int:
    """A sentence's size in the budget: a Chinese character costs about two English letters."""
    return sum(2 if "\u3400" <= ch <= "\u9fff" else 1 for ch in s)


class IdfOverlap:
    """The share of a question's words a sentence holds, each word weighted by its IDF in the
    lexical index (a rare word such as 'RCEP' or '碎片化' counts, '数字' or 'digital' hardly)."""

    def __init__(self, idf: dict[str, dict[str, float]]):
        self.idf = idf  # lang -> token -> idf
        self._tokens: dict[str, frozenset[str]] = {}  # a sentence's words (sentences recur across questions)
        self._default = {lang: (max(v.values()) if v else 1.0) for lang, v in idf.items()}

    def weight(self, token: str, lang: str) -> float:
        table = self.idf.get(lang) or {}
        return table.get(token, self._default.get(lang, 1.0))  # a word the index never saw is rare

    def tokens(self, sentence: str) -> frozenset[str]:
        toks = self._tokens.get(sentence)
        if toks is None:
            if len(self._tokens) > 20000:
                self._tokens.clear()
            toks = self._tokens[sentence] = frozenset(tokenize(sentence, stopwords=True))
        return toks

    def __call__(self, question_tokens: list[str], sentence: str, lang: str) -> float:
        q = set(question_tokens)
        if not q:
            return 0.0
        s = self.tokens(sentence)
        total = sum(self.weight(t, lang) for t in q)
        return sum(self.weight(t, lang) for t in q & s) / total if total else 0.0


class SentenceVectors:
    """e5 passage vectors of sentences, cached by text (a chunk's sentences recur across questions)."""

    def __init__(self, embeddings, size: int = 4096):
        self.emb = embeddings
        self.size = size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def __call__(self, texts: list[str]) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if todo:
            for t, v in zip(todo, self.emb.passages(todo)):
                self._cache[t] = v
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)
        for t in texts:
            self._cache.move_to_end(t)
        return np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, 1), dtype=np.float32)


class SentenceSelector:
    def __init__(self, embeddings, overlap: IdfOverlap, config: SelectorConfig | None = None):
        self.emb = embeddings
        self.vectors = SentenceVectors(embeddings) if embeddings is not None else None
        self.overlap = overlap
        self.cfg = config or SelectorConfig()
        self._chunk_cache: dict[tuple, tuple[list[Sentence], list[str]]] = {}
        self._query_cache: dict[tuple, np.ndarray] = {}  # the question (and its translation), embedded

    def select(self, question: str, qlang: str, translation: str | None, hits: list[Hit],
               titles: dict[str, list[str]] | None = None, chunks: list | None = None,
               config: SelectorConfig | None = None) -> list[Window]:
        """Every candidate window, best first: a sentence already inside a better window (of its
        own chunk, or of an overlapping one) anchors no other. `config` (default: the selector's
        own) lets bench compare settings over the same hits."""
        cfg = config or self.cfg
        hits = hits[: cfg.passages]
        if not hits:
            return []
        q_toks = {qlang: tokenize(question, stopwords=True)}
        other = "en" if qlang == "zh" else "zh"
        q_toks[other] = tokenize(translation, stopwords=True) if translation else q_toks[qlang]
        cands: list[tuple[int, list[Sentence], list[str], int]] = []  # (rank, own sentences, with following, i)
        for rank, h in enumerate(hits):
            own, sents = self._sentences(h, titles, chunks)
            if not own:
                continue
            cands.extend((rank, own, sents, i) for i in range(len(own)))
        if not cands:
            return []
        texts = [sents[i] for _, _, sents, i in cands]
        lex = np.array([self.overlap(q_toks[hits[r].chunk.lang], t, hits[r].chunk.lang)
                        for (r, _, _, _), t in zip(cands, texts)])
        dense = np.zeros(len(cands))
        if cfg.dense and self.vectors is not None:
            asked = [question] + ([translation] if translation else [])
            qv = self._queries(asked)
            sv = self.vectors(texts)
            sims = sv @ qv.T  # (sentences, 1 or 2)
            # the question against its own language, the translation against the other
            for j, (r, _, _, _) in enumerate(cands):
                same = hits[r].chunk.lang == qlang or sims.shape[1] == 1
                dense[j] = float(sims[j, 0] if same else max(sims[j, 1], sims[j, 0]))
        scores = dense + cfg.lexical_weight * lex
        out: list[Window] = []
        taken: set[str] = set()  # sentences already in a window (chunks that overlap share some)
        for j in np.argsort(-scores, kind="stable"):
            rank, own, sents, i = cands[j]
            h = hits[rank]
            if sents[i] in taken:
                continue
            lo, hi = self._span(sents, i, cfg)
            taken.update(sents[lo:hi + 1])
            out.append(Window(h, rank, sents[lo:hi + 1], sents[i], float(scores[j]), float(dense[j]), float(lex[j])))
        return out

    def _sentences(self, h: Hit, titles, chunks) -> tuple[list[Sentence], list[str]]:
        """The hit's body sentences, and their texts followed by the sentences its section goes on
        with in the next chunk; cached per chunk (the same chunks come back for many questions)."""
        key = (h.chunk.id, h.row, len(h.chunk.text), id(chunks))
        got = self._chunk_cache.get(key)
        if got is None:
            if len(self._chunk_cache) > 4096:
                self._chunk_cache.clear()
            doc_titles = (titles or {}).get(h.chunk.doc)
            # a chunk of nothing but headings (a contents page) answers with its lines: "which
            # chapter covers X" is answered by a heading
            own = body_sentences(h.chunk, doc_titles) or heading_lines(h.chunk)
            got = self._chunk_cache[key] = (own, [x.text for x in own] + following_sentences(h, own, chunks, doc_titles))
        return got

    def _queries(self, texts: list[str]) -> np.ndarray:
        key = tuple(texts)
        got = self._query_cache.get(key)
        if got is None:
            if len(self._query_cache) > 512:
                self._query_cache.clear()
            got = self._query_cache[key] = self.emb.queries(texts)
        return got

    @staticmethod
    def _span(sents: list[str], i: int, cfg: SelectorConfig) -> tuple[int, int]:
        """The window around sentence i: up to `before` sentences before and `after` after, nearest
        first, while the window fits in the budget (the anchor always stands, whole)."""
        lo = hi = i
        size = cost(sents[i])
        steps = []
        for k in range(1, max(cfg.before, cfg.after) + 1):
            if k <= cfg.after:
                steps.append(i + k)
            if k <= cfg.before:
                steps.append(i - k)
        for j in steps:
            if not 0 <= j < len(sents) or not (j == hi + 1 or j == lo - 1):
                continue
            if size + cost(sents[j]) > cfg.budget:
                continue
            size += cost(sents[j])
            lo, hi = min(lo, j), max(hi, j)
        return lo, hi


def core_of(window: Window, budget: int) -> str:
    """The anchor and the window's sentences after it while they fit in `budget` (the anchor
    always, whole): the part a model is asked about."""
    i = window.sentences.index(window.anchor)
    take, size = [window.anchor], cost(window.anchor)
    for s in window.sentences[i + 1:]:
        if size + cost(s) > budget:
            break
        take.append(s)
        size += cost(s)
    return join_sentences(take)


def heading_lines(chunk) -> list[Sentence]:
    """The lines of a chunk that holds no body sentence (a contents page, a heading-only section),
    each as a sentence."""
    out: list[Sentence] = []
    at = 0
    for line in chunk.text.split("\n"):
        text = " ".join(line.split())
        if len(text) >= 4:
            out.append(Sentence(text, chunk.text.find(line, at), len(out)))
        at += len(line) + 1
    return out


def idf_tables(lexical) -> dict[str, dict[str, float]]:
    """lang -> token -> IDF, from the lexical index's BM25 models (Lucene's IDF,
    log(1 + (N - df + 0.5) / (df + 0.5)))."""
    out: dict[str, dict[str, float]] = {}
    for lang, model in getattr(lexical, "models", {}).items():
        if model is None:
            out[lang] = {}
            continue
        indptr = np.asarray(model.scores["indptr"])
        n = int(model.scores.get("num_docs", 0)) or 1
        df = np.diff(indptr)
        out[lang] = {tok: math.log(1 + (n - float(df[i]) + 0.5) / (float(df[i]) + 0.5))
                     for tok, i in model.vocab_dict.items() if i < len(df)}
    return out
