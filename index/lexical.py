"""Persisted BM25 per language over jieba tokens (Chinese) and normalised words (English)."""
from __future__ import annotations

from pathlib import Path

import bm25s
import numpy as np

from ingest.text import LANGS, tokenize


class LexicalIndex:
    def __init__(self, models: dict[str, bm25s.BM25 | None], rows: dict[str, np.ndarray]):
        self.models = models
        self.rows = rows

    @classmethod
    def build(cls, texts: list[str], langs: list[str], k1: float = 1.2, b: float = 0.75) -> "LexicalIndex":
        models, rows = {}, {}
        for lang in LANGS:
            sel = [i for i, lg in enumerate(langs) if lg == lang]
            rows[lang] = np.asarray(sel, dtype=np.int64)
            if not sel:
                models[lang] = None
                continue
            corpus = [tokenize(texts[i], stopwords=True) or ["<empty>"] for i in sel]
            m = bm25s.BM25(k1=k1, b=b)
            m.index(corpus, show_progress=False)
            models[lang] = m
        return cls(models, rows)

    def save(self, folder: Path) -> None:
        for lang in LANGS:
            m = self.models[lang]
            sub = folder / f"bm25-{lang}"
            sub.mkdir(parents=True, exist_ok=True)
            np.save(folder / f"bm25-rows-{lang}.npy", self.rows[lang], allow_pickle=False)
            if m is None:
                (sub / "EMPTY").write_text("")
            else:
                m.save(str(sub), allow_pickle=False)

    @classmethod
    def load(cls, folder: Path) -> "LexicalIndex":
        models, rows = {}, {}
        for lang in LANGS:
            sub = folder / f"bm25-{lang}"
            rows[lang] = np.load(folder / f"bm25-rows-{lang}.npy", allow_pickle=False)
            models[lang] = None if (sub / "EMPTY").exists() else bm25s.BM25.load(str(sub), allow_pickle=False)
        return cls(models, rows)

    def search(self, query: str, lang: str, k: int) -> list[tuple[int, float]]:
        m = self.models[lang]
        if m is None:
            return []
        toks = [t for t in dict.fromkeys(tokenize(query, stopwords=True)) if t in m.vocab_dict]
        if not toks:
            return []
        scores = m.get_scores(toks)
        n = min(k, len(scores))
        top = np.argsort(-scores)[:n]
        return [(int(self.rows[lang][i]), float(scores[i])) for i in top if scores[i] > 0]

