"""Generations: a complete index written beside the live one, published by renaming CURRENT.

Layout of an index directory:

    CURRENT                 name of the live generation, `gen-` and digits (replaced atomically)
    gen-000007/             one complete index: manifest.json, chunks.sqlite, vectors.npy, bm25-{zh,en}/,
                            and with FAISS faiss-{zh,en}.index, rows-{zh,en}.npy (with Milvus, the
                            generation's own collection holds the vectors' search index: index/milvus.py)
    cache/embeddings.sqlite passage vectors by model and text hash (survives --rebuild)
    index.lock              held (flock) by the one `wpqa index` that may write

A build writes a new generation beside the live one and only then points CURRENT at it, so a
reader sees the old or the new index, never half of one. Nothing here is ever unpickled.
"""
from __future__ import annotations

import json
import re
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ingest.model import Chunk

from .chunkstore import read_chunks, read_documents, write_chunk_store
from .defaults import HNSW_EF_SEARCH
from .errors import IndexDamaged, IndexMismatch, IndexMissing
from .fs import failpoint, fsync_tree, write_atomic
from .vectors import VectorSearch, VectorWriter, open_vectors

if TYPE_CHECKING:  # bm25s loads only when an index is written or opened
    from .lexical import LexicalIndex

FORMAT = 2
CURRENT = "CURRENT"
GENERATION_NAME = re.compile(r"gen-[0-9]+")


@dataclass
class Generation:
    """A complete, immutable index loaded for reading."""

    folder: Path
    manifest: dict
    chunks: list[Chunk]
    vectors: np.ndarray
    dense: VectorSearch
    lexical: "LexicalIndex"

    def close(self) -> None:
        """Let go of the vector store's connection (Milvus Lite's file lock); FAISS holds none."""
        self.dense.close()

    def __enter__(self) -> "Generation":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def documents(self) -> list[dict]:
        return read_documents(self.folder / "chunks.sqlite")


def write_generation(folder: Path, name: str, manifest: dict, chunks: list[Chunk], vectors: np.ndarray,
                     documents: list[dict], writer: VectorWriter, vector_kind: str = "flat") -> None:
    """Write every file of generation `name` into `folder` (which must not be live yet), and its
    vectors through `writer` (FAISS files in the folder, or its own Milvus collection)."""
    folder.mkdir(parents=True, exist_ok=False)
    langs = [c.lang for c in chunks]
    write_chunk_store(folder / "chunks.sqlite", chunks, documents)
    np.save(folder / "vectors.npy", vectors.astype(np.float32), allow_pickle=False)
    failpoint("mid-write")
    writer.write(folder, name, chunks, vectors, vector_kind)
    from .lexical import LexicalIndex

    LexicalIndex.build([c.embed_text() for c in chunks], langs).save(folder)
    # the manifest goes last: a generation without one is incomplete and never opened
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    fsync_tree(folder)


def current_name(index_dir: Path) -> str | None:
    """The live generation's name from CURRENT (None when there is no index yet). CURRENT must
    hold a generation name, `gen-` and digits: never a path to follow."""
    try:
        name = (index_dir / CURRENT).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as e:
        raise IndexDamaged(f"{index_dir / CURRENT}: cannot read it ({e}); the index is damaged, "
                           "run `wpqa index --rebuild`") from None
    if not name:
        return None
    if not GENERATION_NAME.fullmatch(name):
        raise IndexDamaged(f"{index_dir / CURRENT}: holds {name[:60]!r}, not a generation name (gen- and digits); "
                           "the index is damaged, run `wpqa index --rebuild`")
    return name


def generation_names(index_dir: Path) -> list[str]:
    """The generation folders on disk, oldest first."""
    return sorted(p.name for p in index_dir.glob("gen-*") if p.is_dir() and GENERATION_NAME.fullmatch(p.name))


def next_generation_name(index_dir: Path) -> str:
    nums = [int(n.split("-")[1]) for n in generation_names(index_dir)]
    return f"gen-{(max(nums) + 1) if nums else 1:06d}"


def publish(index_dir: Path, name: str, keep: int = 2) -> None:
    """Point CURRENT at generation `name`, then drop all but the newest `keep` generations."""
    write_atomic(index_dir / CURRENT, name + "\n")
    failpoint("mid-publish")
    for old in generation_names(index_dir)[:-keep]:
        if old != name:
            shutil.rmtree(index_dir / old, ignore_errors=True)


def clean_stale(index_dir: Path) -> list[str]:
    """Remove half-built generations left by a killed build (called with the lock held)."""
    removed = []
    try:
        cur = current_name(index_dir)
    except IndexDamaged:  # `wpqa index --rebuild` replaces it; keep every complete generation meanwhile
        cur = None
    for p in index_dir.glob("building-*"):
        shutil.rmtree(p, ignore_errors=True)
        removed.append(p.name)
    for p in index_dir.glob("gen-*"):
        if p.name != cur and not (p / "manifest.json").exists():
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p.name)
    for p in index_dir.glob(".*.tmp"):
        p.unlink(missing_ok=True)
    return removed


def read_manifest(index_dir: Path) -> dict | None:
    name = current_name(index_dir)
    if not name:
        return None
    try:
        return json.loads((index_dir / name / "manifest.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def check_compatible(manifest: dict, expect: dict) -> None:
    """Stop with a clear message when the index was built with another model or chunking."""
    if manifest.get("format") != FORMAT:
        raise IndexMismatch(f"the index was written by another wpqa format ({manifest.get('format')}); "
                            "run `wpqa index --rebuild`")
    for key, label in (("embedding", "embedding model"), ("chunking", "chunking settings")):
        have, want = manifest.get(key), expect.get(key)
        if want is not None and have != want:
            raise IndexMismatch(f"the index was built with another {label} ({_short(have)}; config wants "
                                f"{_short(want)}); run `wpqa index --rebuild`")
    want_store = expect.get("vector_store")
    if want_store is not None:
        have = _store_target(manifest.get("vector_store", "faiss"), manifest.get("milvus"))  # older indexes: FAISS
        want = _store_target(want_store, expect.get("milvus"))
        if have != want:
            raise IndexMismatch(f"the index was built for another vector store ({have}; config wants {want}); "
                                "run `wpqa index --rebuild`")


def _store_target(store: str, milvus: dict | None) -> str:
    """`faiss`, or `milvus` with the uri and collection that hold the vectors (never the token)."""
    if store != "milvus":
        return store
    m = milvus or {}
    return f"milvus: uri={m.get('uri')}, collection={m.get('collection')}"


def _short(d) -> str:
    if isinstance(d, dict):
        return ", ".join(f"{k}={v}" for k, v in d.items())
    return str(d)


def open_generation(index_dir: Path, expect: dict | None = None, retries: int = 5,
                    ef_search: int = HNSW_EF_SEARCH) -> Generation:
    """Load the live generation. A concurrent publish may retire the generation we just read the
    name of; then read CURRENT again. `ef_search`: the HNSW search breadth, when the index is HNSW."""
    last_err: Exception | None = None
    for _ in range(retries):
        name = current_name(index_dir)
        if not name:
            raise IndexMissing(f"no index in {index_dir}; run `wpqa index` first")
        folder = index_dir / name
        try:
            manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
            if expect:
                check_compatible(manifest, expect)
            chunks = read_chunks(folder / "chunks.sqlite")
            vectors = np.load(folder / "vectors.npy", allow_pickle=False)
            token_env = ((expect or {}).get("milvus") or {}).get("token_env")
            dense = open_vectors(folder, manifest, [c.id for c in chunks], ef_search, token_env)
            from .lexical import LexicalIndex

            lexical = LexicalIndex.load(folder)
            return Generation(folder, manifest, chunks, vectors, dense, lexical)
        except (OSError, sqlite3.DatabaseError, RuntimeError, ValueError) as e:  # ValueError: a pickled .npy
            last_err = e
            time.sleep(0.05)
    msg = " ".join(str(last_err).split())[:200]
    if isinstance(last_err, ValueError) and "pickle" in msg:  # numpy's own text suggests loading it unsafely
        msg = "a file holds pickled data, which wpqa never loads"
    raise IndexMissing(f"cannot open the index in {index_dir} ({name}): {msg}; if it is damaged, "
                       "run `wpqa index --rebuild`")
