"""Hybrid cross-lingual retrieval: dense and BM25 per language, calibrated fusion, fair merge.

Why calibrated and per language: multilingual-e5 scores a passage in the query's own language
far higher than an equally relevant passage in the other language, so one shared ranking (or a
naive interleave) starves the other language. Each language is therefore searched on its own,
with the question in that language where a translation is available (the original question
otherwise: e5 still matches across languages, and acronyms such as WTO or G20 match
lexically), and each list's scores are turned into z-scores against the whole language
partition before they meet. A passage must stand out within its own language to rank high.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from index.embeddings import CountingEmbeddings
from index.generation import Generation
from ingest.text import LANGS
from ingest.model import Chunk
from ingest.text import count_tokens, detect_lang

from .defaults import CANDIDATES

Translator = Callable[[str, str], str | None]  # (question, target_lang) -> translation or None


@dataclass
class FusionParams:
    """Weights of the fused score; chosen on the dev set (see docs/retrieval.md)."""

    candidates: int = CANDIDATES  # taken from each list before fusion
    w_lex: float = 2.0  # BM25, relative to the best BM25 score of its list ...
    lex_full: float = 4.0  # ... at full weight once that best score reaches this
    w_cross: float = 0.5  # the original question's dense score on the other language, next to the translation's
    other_bonus: float = 0.5  # without a translation, cross-lingual scores are weaker but undervalued
    short_penalty: float = 1.0  # cover pages and other near-empty chunks match everything a little ...
    short_tokens: int = 40  # ... so chunks under this many tokens lose up to short_penalty


@dataclass
class Hit:
    row: int
    chunk: Chunk
    score: float
    signals: dict = field(default_factory=dict)


@dataclass
class RetrievalResult:
    question: str
    lang: str
    translation: str | None
    hits: list[Hit]
    timings_ms: dict
    translation_failed: bool = False  # a translator was asked and gave nothing usable


@dataclass
class PartitionStats:
    """Mean vector and covariance of one language partition's vectors. For any question vector q
    the mean of q·v over the partition is μ·q and its variance qᵀΣq, so the z-score statistics are
    exact over the whole partition at O(d²) per call, whatever its size."""

    n: int
    mean: np.ndarray  # (d,) float64
    cov: np.ndarray  # (d, d) float64, population covariance

    @classmethod
    def of(cls, vectors: np.ndarray, rows: np.ndarray, block: int = 16384) -> "PartitionStats":
        d = vectors.shape[1] if vectors.ndim == 2 else 0
        mean = np.zeros(d)
        for i in range(0, len(rows), block):
            mean += vectors[rows[i:i + block]].sum(axis=0, dtype=np.float64)
        mean /= max(1, len(rows))
        cov = np.zeros((d, d))
        for i in range(0, len(rows), block):  # centred first: no cancellation in E[x²] - E[x]²
            x = vectors[rows[i:i + block]].astype(np.float64) - mean
            cov += x.T @ x
        cov /= max(1, len(rows))
        return cls(len(rows), mean, cov)

    def z(self, q: np.ndarray) -> tuple[float, float]:
        """Mean and spread (population std) of q·v over the partition."""
        if self.n < 2:
            return 0.0, 1.0
        q = q.astype(np.float64)
        return float(self.mean @ q), float(np.sqrt(max(0.0, float(q @ self.cov @ q)))) + 1e-6


class HybridSearcher:
    def __init__(self, gen: Generation, embeddings: CountingEmbeddings, translator: Translator | None = None,
                 params: FusionParams | None = None):
        self.gen = gen
        self.emb = embeddings
        self.translator = translator
        self.p = params or FusionParams()
        self.lang_rows = {lang: np.asarray([i for i, c in enumerate(gen.chunks) if c.lang == lang], dtype=np.int64)
                          for lang in LANGS}
        self._ntok: dict[int, int] = {}
        self._stats: dict[str, PartitionStats] = {}

    def partition_stats(self, lang: str) -> PartitionStats:
        st = self._stats.get(lang)
        if st is None:
            st = self._stats[lang] = PartitionStats.of(self.gen.vectors, self.lang_rows[lang])
        return st

    # ---------------------------------------------------------------- signals
    def _dense(self, qv: np.ndarray, lang: str) -> tuple[list[int], float, float]:
        """Top candidate rows of a language, and the mean and spread of the question's cosine over
        that whole language partition, to turn cosines into z-scores."""
        if not len(self.lang_rows[lang]):
            return [], 0.0, 1.0
        hits = self.gen.dense.search(qv, lang, self.p.candidates)
        mu, sd = self.partition_stats(lang).z(qv)
        return [r for r, _ in hits], mu, sd

    def _lexical(self, text: str | None, lang: str) -> dict[int, float]:
        """BM25 relative to the list's best score, damped when even the best match is weak."""
        if not text:
            return {}
        hits = self.gen.lexical.search(text, lang, self.p.candidates)
        if not hits:
            return {}
        top = max(s for _, s in hits)
        strength = min(1.0, top / self.p.lex_full)
        return {r: strength * s / top for r, s in hits}

    def _length_penalty(self, row: int) -> float:
        n = self._ntok.get(row)
        if n is None:
            n = self._ntok[row] = count_tokens(self.gen.chunks[row].text)
        return self.p.short_penalty * max(0.0, 1.0 - n / self.p.short_tokens)

    # ---------------------------------------------------------------- search
    def search(self, question: str, k: int = 5, lang: str | None = None) -> RetrievalResult:
        t0 = time.perf_counter()
        p = self.p
        qlang = lang or detect_lang(question)
        other = "en" if qlang == "zh" else "zh"
        translation = None
        timings: dict[str, float] = {}
        if self.translator is not None and len(self.lang_rows[other]):
            t = time.perf_counter()
            translation = self.translator(question, other)
            timings["translate"] = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        qvs = self.emb.queries([question] + ([translation] if translation else []))
        q_vec, t_vec = qvs[0], (qvs[1] if translation else None)
        timings["embed_query"] = (time.perf_counter() - t) * 1000
        t = time.perf_counter()

        hits: list[Hit] = []
        for lang_ in (qlang, other):
            same = lang_ == qlang
            # dense: the question in this language (the translation on the other side), and on the
            # other side also the original question, which e5 matches across languages
            main_vec = q_vec if same else t_vec
            cand: set[int] = set()
            stats = {}
            for name, vec in (("dense", main_vec), ("cross", None if same else q_vec)):
                if vec is not None:
                    rows, mu, sd = self._dense(vec, lang_)
                    cand.update(rows)
                    stats[name] = (vec, mu, sd)
            lex = self._lexical(question if same else translation, lang_)
            lex_orig = {} if same else self._lexical(question, lang_)  # names and acronyms: WTO, G20, RCEP
            cand.update(lex)
            cand.update(lex_orig)
            if not cand:
                continue
            rows = np.fromiter(cand, dtype=np.int64)
            vecs = self.gen.vectors[rows]
            z = {name: (vecs @ vec - mu) / sd for name, (vec, mu, sd) in stats.items()}
            for i, r in enumerate(rows.tolist()):
                sig = {name: float(v[i]) for name, v in z.items()}
                lx = max(lex.get(r, 0.0), lex_orig.get(r, 0.0))
                if same:
                    dense = sig["dense"]
                elif "dense" in sig:
                    dense = (sig["dense"] + p.w_cross * sig["cross"]) / (1 + p.w_cross)
                else:
                    dense = sig["cross"] + p.other_bonus
                if lx:
                    sig["lex"] = lx
                score = dense + p.w_lex * lx - self._length_penalty(r)
                hits.append(Hit(r, self.gen.chunks[r], score, sig))
        hits.sort(key=lambda h: -h.score)
        top = hits[:k]
        timings["search"] = (time.perf_counter() - t) * 1000
        timings["total"] = (time.perf_counter() - t0) * 1000
        failed = self.translator is not None and bool(len(self.lang_rows[other])) and translation is None
        return RetrievalResult(question, qlang, translation, top, timings, translation_failed=failed)


def hit_to_document(hit: Hit, result: RetrievalResult, rank: int | None = None) -> LCDocument:
    """A retrieved chunk as a LangChain Document (stable interface: chains and tests rely on it).

    ``page_content`` is the chunk's text alone, never the title and heading prefix it was embedded
    with. ``metadata``, all JSON-serialisable:

    - the chunk: ``chunk_id``, ``doc``, ``section`` (heading path joined with " > "),
      ``section_path`` (list), ``page``, ``page_end``, ``page_breaks`` ([offset, page] pairs where
      a page starts inside the text), ``lang``, ``doc_sha256``, ``ordinal``, ``section_id``,
      ``start``, ``end`` (offsets in the document's cleaned text);
    - the hit: ``score`` (fused z-score), ``rank`` (1-based; ``rank`` or the hit's position in
      ``result.hits``), ``row`` (the chunk's row in the index), ``signals`` (the score's parts);
    - the search: ``question_lang``, ``translation`` (the question in the other language, or
      None), ``translation_failed`` (a translator was asked and gave nothing usable),
      ``timings_ms`` (of the search).

    ``document_to_hit`` turns it back into the same ``Hit``, so an answer chain builds its
    evidence from the retriever's output without another lookup.
    """
    c = hit.chunk
    if rank is None:
        rank = next(i for i, h in enumerate(result.hits) if h is hit) + 1
    return LCDocument(id=c.id, page_content=c.text, metadata={
        "chunk_id": c.id, "doc": c.doc, "section": c.section, "section_path": list(c.section_path),
        "page": c.page, "page_end": c.page_end, "page_breaks": [[o, p] for o, p in c.page_breaks], "lang": c.lang,
        "doc_sha256": c.doc_sha256, "ordinal": c.ordinal, "section_id": c.section_id, "start": c.start, "end": c.end,
        "score": float(hit.score), "rank": rank, "row": hit.row, "signals": dict(hit.signals),
        "question_lang": result.lang, "translation": result.translation,
        "translation_failed": result.translation_failed, "timings_ms": dict(result.timings_ms)})


def document_to_hit(doc: LCDocument) -> Hit:
    """The ``Hit`` a ``hit_to_document`` Document came from (the chunk's embedding-only context,
    title and heading path, is not carried and comes back empty)."""
    m = doc.metadata
    chunk = Chunk(id=m["chunk_id"], doc=m["doc"], doc_sha256=m["doc_sha256"], ordinal=m["ordinal"],
                  section_id=m["section_id"], section_path=list(m["section_path"]), page=m["page"],
                  page_end=m["page_end"], lang=m["lang"], start=m["start"], end=m["end"], text=doc.page_content,
                  page_breaks=[(int(o), int(p)) for o, p in m["page_breaks"]])
    return Hit(row=m["row"], chunk=chunk, score=m["score"], signals=dict(m.get("signals") or {}))


class WpqaRetriever(BaseRetriever):
    """wpqa's hybrid cross-lingual search as a LangChain retriever: the seam LCEL chains plug into.

    ``WpqaRetriever(searcher=..., k=5).invoke("question")`` returns the top ``k`` chunks as
    Documents (see ``hit_to_document`` for their metadata); ``invoke(question, k=n)`` overrides
    ``k`` for one call. Build one from a config with ``wpqa.api.open_wpqa(...).retriever``.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)
    searcher: HybridSearcher
    k: int = 5

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun,
                                k: int | None = None) -> list[LCDocument]:
        res = self.searcher.search(query, k=self.k if k is None else k)
        return [hit_to_document(h, res, rank=i + 1) for i, h in enumerate(res.hits)]
