"""Dense vector search per language with FAISS (exact inner product, or HNSW when large), in the
generation's own folder (faiss-{lang}.index, rows-{lang}.npy)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import faiss
import numpy as np

from ingest.text import LANGS

if TYPE_CHECKING:
    from ingest.model import Chunk


class FaissVectors:
    """One FAISS index per language over L2-normalised vectors (inner product = cosine).

    Rows are global chunk rows of the generation's chunk store; each language keeps the
    map from its local ids to those rows.
    """

    def __init__(self, indexes: dict[str, faiss.Index], rows: dict[str, np.ndarray]):
        self.indexes = indexes
        self.rows = rows

    @classmethod
    def build(cls, vectors: np.ndarray, langs: list[str], kind: str = "flat", hnsw_m: int = 32,
              ef_construction: int = 80, ef_search: int = 128) -> "FaissVectors":
        dim = vectors.shape[1] if vectors.ndim == 2 else 0
        indexes, rows = {}, {}
        lang_arr = np.asarray(langs)
        for lang in LANGS:
            sel = np.nonzero(lang_arr == lang)[0].astype(np.int64) if len(langs) else np.zeros(0, np.int64)
            if kind == "hnsw":
                idx = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
                idx.hnsw.efConstruction = ef_construction
                idx.hnsw.efSearch = ef_search
            else:
                idx = faiss.IndexFlatIP(dim)
            if len(sel):
                idx.add(np.ascontiguousarray(vectors[sel], dtype=np.float32))
            indexes[lang] = idx
            rows[lang] = sel
        return cls(indexes, rows)

    def save(self, folder: Path) -> None:
        for lang in LANGS:
            faiss.write_index(self.indexes[lang], str(folder / f"faiss-{lang}.index"))
            np.save(folder / f"rows-{lang}.npy", self.rows[lang], allow_pickle=False)

    @classmethod
    def load(cls, folder: Path, ef_search: int = 128) -> "FaissVectors":
        indexes, rows = {}, {}
        for lang in LANGS:
            idx = faiss.read_index(str(folder / f"faiss-{lang}.index"))
            if hasattr(idx, "hnsw"):
                idx.hnsw.efSearch = ef_search
            indexes[lang] = idx
            rows[lang] = np.load(folder / f"rows-{lang}.npy", allow_pickle=False)
        return cls(indexes, rows)

    def count(self, lang: str) -> int:
        return int(self.indexes[lang].ntotal)

    def search(self, query: np.ndarray, lang: str, k: int) -> list[tuple[int, float]]:
        idx = self.indexes[lang]
        if idx.ntotal == 0 or k <= 0:
            return []
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        scores, ids = idx.search(q, min(k, idx.ntotal))
        return [(int(self.rows[lang][i]), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]

    def close(self) -> None:
        """Nothing to let go: the indexes live in memory."""


class FaissWriter:
    """Writes the FAISS files into the generation's folder; they go when the folder goes."""

    def manifest_entry(self, generation: str) -> dict:
        return {}

    def write(self, folder: Path, generation: str, chunks: list["Chunk"], vectors: np.ndarray, kind: str) -> None:
        FaissVectors.build(vectors, [c.lang for c in chunks], kind=kind).save(folder)

    def after_publish(self, live: str, generations: set[str]) -> None:
        pass  # the files go with their generation's folder

    def close(self) -> None:
        pass
