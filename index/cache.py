"""Passage vectors keyed by model and text hash, in SQLite (no LangChain or model imports here,
so an unchanged `wpqa index` stays quick)."""
from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

import numpy as np

if TYPE_CHECKING:
    from .embeddings import CountingEmbeddings

Progress = Callable[[int], None]


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """Passage vectors keyed by (model id, sha256 of the text), in SQLite.

    Lives beside the index generations, so even `wpqa index --rebuild` skips text it has
    embedded before with the same model.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(str(path), timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (model TEXT NOT NULL, key TEXT NOT NULL, dim INTEGER NOT NULL,"
            " vec BLOB NOT NULL, PRIMARY KEY (model, key))"
        )
        self._db.commit()

    def get_many(self, model: str, keys: Iterable[str]) -> dict[str, np.ndarray]:
        keys = list(dict.fromkeys(keys))
        out: dict[str, np.ndarray] = {}
        for i in range(0, len(keys), 500):
            part = keys[i : i + 500]
            q = f"SELECT key, dim, vec FROM vectors WHERE model = ? AND key IN ({','.join('?' * len(part))})"
            for key, dim, blob in self._db.execute(q, [model, *part]):
                out[key] = np.frombuffer(blob, dtype=np.float32, count=dim).copy()
        return out

    def put_many(self, model: str, items: dict[str, np.ndarray]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO vectors (model, key, dim, vec) VALUES (?, ?, ?, ?)",
            [(model, k, int(v.shape[0]), np.asarray(v, dtype=np.float32).tobytes()) for k, v in items.items()],
        )
        self._db.commit()

    def close(self) -> None:
        self._db.close()


def embed_with_cache(emb: CountingEmbeddings, cache: EmbeddingCache | None, texts: list[str],
                     progress: Progress | None = None) -> tuple[np.ndarray, int]:
    """Vectors for `texts`; only texts missing from the cache reach the model.
    Returns (vectors, number of texts embedded by the model)."""
    keys = [text_key(t) for t in texts]
    have = cache.get_many(emb.model_id, keys) if cache else {}
    if progress and have:
        progress(sum(1 for k in keys if k in have))
    missing: dict[str, str] = {}
    for k, t in zip(keys, texts):
        if k not in have and k not in missing:
            missing[k] = t
    if missing:
        vecs = emb.passages(list(missing.values()), progress=progress)
        fresh = dict(zip(missing.keys(), vecs))
        if cache:
            cache.put_many(emb.model_id, fresh)
        have.update(fresh)
    out = np.zeros((len(texts), emb.dim), dtype=np.float32)
    for i, k in enumerate(keys):
        out[i] = have[k]
    return out, len(missing)
