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

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from index.embeddings import CountingEmbeddings
from index.store import Generation
from index.vectors import LANGS
from ingest.model import Chunk
from ingest.text import detect_lang

Translator = Callable[[str, str], str | None]  # (question, target_lang) -> translation or None


@dataclass
class FusionParams:
    candidates: int = 40
    w_dense: float = 1.0
    w_lex: float = 0.35
    w_cross: float = 0.5  # weight of the original question's dense score on the other language
    other_min: int = 1  # slots of the top k reserved for the best other-language passage(s)
    other_gate: float = 2.0  # ... if its calibrated score reaches this z


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


def _z(scores: np.ndarray) -> tuple[float, float]:
    if len(scores) < 2:
        return 0.0, 1.0
    return float(scores.mean()), float(scores.std() + 1e-6)


class HybridSearcher:
    def __init__(self, gen: Generation, embeddings: CountingEmbeddings, translator: Translator | None = None,
                 params: FusionParams | None = None):
        self.gen = gen
        self.emb = embeddings
        self.translator = translator
        self.p = params or FusionParams()
        self.lang_rows = {lang: np.asarray([i for i, c in enumerate(gen.chunks) if c.lang == lang], dtype=np.int64)
                          for lang in LANGS}

    # ---------------------------------------------------------------- signals
    def _dense(self, qv: np.ndarray, lang: str) -> dict[int, float]:
        """Calibrated dense scores (z against the language partition) for the top candidates."""
        rows = self.lang_rows[lang]
        if not len(rows):
            return {}
        hits = self.gen.dense.search(qv, lang, self.p.candidates)
        # mean/std over the partition: exact for small partitions, from a sample when large
        sample = rows if len(rows) <= 20000 else rows[:: max(1, len(rows) // 20000)]
        mu, sd = _z(self.gen.vectors[sample] @ qv)
        return {r: (s - mu) / sd for r, s in hits}

    def _lexical(self, text: str, lang: str) -> dict[int, float]:
        hits = self.gen.lexical.search(text, lang, self.p.candidates)
        if not hits:
            return {}
        scores = np.asarray([s for _, s in hits])
        top = float(scores.max())
        # BM25 has no natural scale: express each score relative to the best one of this list,
        # and damp lists whose best match is weak (few shared terms).
        strength = min(1.0, top / 8.0)
        return {r: 3.0 * strength * s / top for r, s in hits}

    # ---------------------------------------------------------------- search
    def search(self, question: str, k: int = 5, lang: str | None = None) -> RetrievalResult:
        import time

        t0 = time.perf_counter()
        qlang = lang or detect_lang(question)
        other = "en" if qlang == "zh" else "zh"
        translation = None
        timings = {}
        if self.translator is not None and len(self.lang_rows[other]):
            t = time.perf_counter()
            translation = self.translator(question, other)
            timings["translate"] = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        texts = [question] + ([translation] if translation else [])
        qvs = self.emb.queries(texts)
        timings["embed_query"] = (time.perf_counter() - t) * 1000
        t = time.perf_counter()

        per_lang: dict[str, dict[int, dict]] = {lang_: {} for lang_ in LANGS}

        def add(lang_, name, scores):
            for r, s in scores.items():
                per_lang[lang_].setdefault(r, {})[name] = s

        add(qlang, "dense", self._dense(qvs[0], qlang))
        add(qlang, "lex", self._lexical(question, qlang))
        add(other, "cross", self._dense(qvs[0], other))
        add(other, "lex_orig", self._lexical(question, other))
        if translation:
            add(other, "dense", self._dense(qvs[1], other))
            add(other, "lex", self._lexical(translation, other))

        p = self.p
        scored: dict[str, list[Hit]] = {}
        for lang_, cands in per_lang.items():
            hits = []
            for r, sig in cands.items():
                if lang_ == qlang or translation:
                    dense = sig.get("dense", 0.0)
                    if lang_ != qlang:
                        dense = max(dense, sig.get("cross", 0.0))
                else:
                    dense = sig.get("cross", 0.0)
                lex = max(sig.get("lex", 0.0), sig.get("lex_orig", 0.0))
                score = p.w_dense * dense + p.w_lex * lex
                hits.append(Hit(r, self.gen.chunks[r], score, sig))
            hits.sort(key=lambda h: -h.score)
            scored[lang_] = hits

        merged = sorted(scored[qlang] + scored[other], key=lambda h: -h.score)
        top = merged[:k]
        # Never starve the other language: its best passage gets a slot when it stands out.
        best_other = [h for h in scored[other][: p.other_min] if h.score >= p.other_gate]
        for h in best_other:
            if h not in top and len(top) >= k:
                top = top[: k - 1] + [h]
                top.sort(key=lambda x: -x.score)
        timings["search"] = (time.perf_counter() - t) * 1000
        timings["total"] = (time.perf_counter() - t0) * 1000
        return RetrievalResult(question, qlang, translation, top, timings)


def hit_to_document(h: Hit, rank: int) -> LCDocument:
    c = h.chunk
    return LCDocument(page_content=c.text, metadata={
        "rank": rank, "doc": c.doc, "section": c.section, "page": c.page, "chunk_id": c.id,
        "score": round(h.score, 4), "lang": c.lang, "section_path": c.section_path})


class WpqaRetriever(BaseRetriever):
    """LangChain retriever over the hybrid searcher (the seam LCEL chains plug into)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    searcher: HybridSearcher
    k: int = 5

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[LCDocument]:
        res = self.searcher.search(query, k=self.k)
        return [hit_to_document(h, i + 1) for i, h in enumerate(res.hits)]
