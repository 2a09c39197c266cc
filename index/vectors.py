"""The vector store interface and the factory that picks a store (FAISS files or Milvus).

The generation layer only talks to these two small interfaces; it never imports a store:

- `VectorSearch`, what a reader needs: nearest rows of one language, row counts;
- `VectorWriter`, what a build needs: write a generation's vectors, name where they live in the
  manifest, and after the publish let go of generations that no longer exist.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from .defaults import HNSW_EF_SEARCH

if TYPE_CHECKING:
    from ingest.model import Chunk


class VectorSearch(Protocol):
    """What the retriever needs from a vector store (FaissVectors, MilvusVectors)."""

    def search(self, query: np.ndarray, lang: str, k: int) -> list[tuple[int, float]]:
        """The k rows of language `lang` nearest to the normalised `query`, as (generation row, cosine)."""
        ...

    def count(self, lang: str) -> int:
        ...

    def close(self) -> None:
        """Let go of any connection (Milvus Lite's file lock); FAISS holds none."""
        ...


class VectorWriter(Protocol):
    """How a build stores a generation's vectors."""

    def manifest_entry(self, generation: str) -> dict:
        """Keys the generation's manifest records about where its vectors live."""
        ...

    def write(self, folder: Path, generation: str, chunks: list["Chunk"], vectors: np.ndarray, kind: str) -> None:
        """Store the vectors of generation `generation` (written into `folder`, not yet live)."""
        ...

    def after_publish(self, live: str, generations: set[str]) -> None:
        """After generation `live` is published: drop what belongs to generations other than
        `generations` (those on disk)."""
        ...

    def close(self) -> None:
        ...


def open_vectors(folder: Path, manifest: dict, chunk_ids: list[str], ef_search: int = HNSW_EF_SEARCH,
                 token_env: str | None = None) -> VectorSearch:
    """The search side of the vector store the generation in `folder` was written to."""
    if manifest.get("vector_store", "faiss") == "milvus":
        from .milvus import MilvusVectors  # connects on the first search, not here

        return MilvusVectors.from_manifest(manifest, chunk_ids, token_env, ef_search)
    from .faiss_vectors import FaissVectors

    return FaissVectors.load(folder, ef_search=ef_search)


def vector_writer(store: str, milvus: dict | None = None) -> VectorWriter:
    """The writer for `index.vector_store` ("faiss" or "milvus" with its `[index.milvus]` settings)."""
    if store == "milvus":
        from .milvus import MilvusWriter

        return MilvusWriter(milvus or {})
    if store != "faiss":
        raise ValueError(f"index.vector_store must be faiss or milvus, not {store!r}")
    from .faiss_vectors import FaissWriter

    return FaissWriter()


def store_identity(store: str, milvus: dict | None) -> dict:
    """What the manifest must match for this vector store (never the Milvus token, only its variable)."""
    ident: dict = {"vector_store": store}
    if store == "milvus":
        m = milvus or {}
        ident["milvus"] = {"uri": str(m["uri"]), "collection": str(m["collection"]), "token_env": m.get("token_env", "")}
    return ident
