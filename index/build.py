"""Incremental index builds: plan from the corpus and the manifest (index/plan.py), then read,
embed and write only what is new.

The idea follows LangChain's RecordManager (hash-based bookkeeping of what was indexed), but
the unit is a whole document: its content hash decides whether its chunks are kept, replaced or
dropped, and an embedding cache keyed by model and text hash lets even a rebuild skip text it
has seen.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from ingest.model import Chunk, ChunkSettings, IngestError
from ingest.ocr_cache import OcrCache
from ingest.pipeline import discover, doc_name, ingest_file
from ingest.text import LANGS

from . import defaults as D
from .cache import EmbeddingCache, embed_with_cache
from .errors import IngestFailed
from .fs import failpoint
from .generation import (
    FORMAT,
    check_compatible,
    clean_stale,
    current_name,
    generation_names,
    next_generation_name,
    open_generation,
    publish,
    read_manifest,
    write_generation,
)
from .lock import IndexLock
from .plan import BuildPlan, alias_skips, plan_build
from .vectors import store_identity, vector_writer

if TYPE_CHECKING:
    from .embeddings import CountingEmbeddings


@dataclass
class BuildSettings:
    embedding: dict  # {"backend", "model_id"}: what the manifest must match
    chunking: ChunkSettings
    vector_index: str = D.VECTOR_INDEX  # "flat" | "hnsw" | "auto" (hnsw above `hnsw_above` chunks in one language)
    hnsw_above: int = D.HNSW_ABOVE
    vector_store: str = D.VECTOR_STORE  # "faiss" | "milvus"
    milvus: dict | None = None  # {"uri", "collection", "token_env"} with vector_store = "milvus"

    def vector_kind(self, lang_counts: dict[str, int]) -> str:
        """flat or hnsw. Each language has its own FAISS index and a search touches one, so "auto"
        compares the largest language partition with `hnsw_above`."""
        if self.vector_index == "auto":
            return "hnsw" if max(lang_counts.values(), default=0) > self.hnsw_above else "flat"
        if self.vector_index not in ("flat", "hnsw"):
            raise ValueError(f"index.vector_index must be flat, hnsw or auto, not {self.vector_index!r}")
        return self.vector_index


@dataclass
class BuildReport(BuildPlan):
    """The plan's classification as carried out, and what the build did."""

    warnings: list[str] = field(default_factory=list)
    chunks_total: int = 0
    chunks_new: int = 0
    embedded: int = 0  # texts actually sent to the embedding model
    embed_calls: int = 0
    generation: str | None = None
    wrote: bool = False
    seconds: float = 0.0
    stale_lock: str | None = None
    milvus: dict | None = None  # {"collection", "inserted", "dropped"} with vector_store = milvus

    def to_dict(self) -> dict:
        return dict(self.__dict__)


Events = Callable[..., None]


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def open_cache(path: Path, warnings: list[str]) -> EmbeddingCache:
    """The embedding cache; a damaged one is set aside and started afresh (it only saves time)."""
    try:
        return EmbeddingCache(path)
    except sqlite3.DatabaseError as e:
        aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        os.replace(path, aside)
        for extra in ("-wal", "-shm"):
            Path(f"{path}{extra}").unlink(missing_ok=True)
        warnings.append(f"{path}: damaged embedding cache ({e}); moved it to {aside.name} and started a new one")
        return EmbeddingCache(path)


def expected_identity(settings: BuildSettings) -> dict:
    return {"embedding": settings.embedding, "chunking": settings.chunking.key(),
            **store_identity(settings.vector_store, settings.milvus)}


def scan_corpus(corpus_dir: Path, report: BuildReport) -> tuple[dict[str, Path], dict[str, str], list[dict]]:
    """The corpus files by name, the sha256 of each readable one, and the files found but not readable."""
    files, warnings = discover(corpus_dir)
    unreadable: list[dict] = []
    for w in warnings:
        if getattr(w, "reason", None):  # a file discover() skipped: listed by `wpqa status` too
            unreadable.append({"name": w.name, "reason": w.reason})
        else:
            report.warnings.append(str(w))
    hashes: dict[str, str] = {}
    for path in files:
        name = doc_name(path, corpus_dir)
        try:
            hashes[name] = file_sha256(path)
        except OSError as e:
            unreadable.append({"name": name, "reason": f"cannot read: {e.strerror or e}"})
    return {doc_name(p, corpus_dir): p for p in files}, hashes, unreadable


def build_index(corpus_dir: Path, index_dir: Path, settings: BuildSettings,
                get_embeddings: Callable[[], "CountingEmbeddings"], rebuild: bool = False,
                events: Events | None = None, lock_wait: float = 0.0) -> BuildReport:
    """Bring the index in `index_dir` up to date with `corpus_dir`.

    `get_embeddings` is called only when something must be embedded, so an unchanged corpus
    never loads the model."""
    t0 = time.monotonic()
    emit = events or (lambda *a, **k: None)
    report = BuildReport()

    def record_skip(entry: dict) -> None:
        """A file not indexed this run: listed in the report (and the manifest) and announced."""
        report.skipped.append(entry)
        emit("skip", name=entry["name"], reason=entry["reason"])

    index_dir.mkdir(parents=True, exist_ok=True)
    with IndexLock(index_dir, wait=lock_wait) as lock:
        report.stale_lock = lock.stale_from
        clean_stale(index_dir)
        failpoint("after-lock")

        try:
            old_manifest = None if rebuild else read_manifest(index_dir)
        except ValueError as e:  # a damaged manifest.json: read the corpus again (the embedding cache applies)
            report.warnings.append(f"the live index {current_name(index_dir)} is damaged (manifest.json: {e}); "
                                   "rebuilt it from the corpus")
            old_manifest = None
        if old_manifest is not None:
            check_compatible(old_manifest, expected_identity(settings))

        paths, hashes, unreadable = scan_corpus(corpus_dir, report)
        old_stats = (old_manifest or {}).get("stats", {})
        plan = plan_build(hashes, unreadable, old_manifest,
                          settings.vector_kind({lang: old_stats.get(lang, 0) for lang in LANGS}))
        for entry in plan.skipped:
            record_skip(entry)
        report.added, report.changed, report.removed = plan.added, plan.changed, plan.removed
        report.unchanged, report.duplicates = plan.unchanged, plan.duplicates

        if plan.up_to_date:
            report.chunks_total = old_manifest.get("stats", {}).get("chunks", 0)
            report.generation = current_name(index_dir)
            report.seconds = time.monotonic() - t0
            for entry in alias_skips(report.skipped, report.duplicates):
                record_skip(entry)
            emit("unchanged")
            return report
        _execute(plan, paths, hashes, old_manifest, corpus_dir, index_dir, settings, get_embeddings, report,
                 record_skip, emit)
        report.seconds = time.monotonic() - t0
        emit("done")
        return report


def _execute(plan: BuildPlan, paths: dict[str, Path], hashes: dict[str, str], old_manifest: dict | None,
             corpus_dir: Path, index_dir: Path, settings: BuildSettings,
             get_embeddings: Callable[[], "CountingEmbeddings"], report: BuildReport,
             record_skip: Callable[[dict], None], emit: Events) -> None:
    """Carry out `plan` (with the lock held): keep the unchanged, read and embed the rest, write
    and publish a new generation."""
    old_docs: dict[str, dict] = (old_manifest or {}).get("documents", {})
    kept_chunks: list[Chunk] = []
    kept_vectors: list[np.ndarray] = []
    documents: list[dict] = []
    old_gen: list = []  # the live generation, opened once when something is kept from it

    def keep_old(names: set[str]) -> None:
        if not old_gen:
            old_gen.append(open_generation(index_dir))
        gen = old_gen[0]
        for i, c in enumerate(gen.chunks):
            if c.doc in names:
                kept_chunks.append(c)
                kept_vectors.append(gen.vectors[i])
        documents.extend(d for d in gen.documents() if d["name"] in names)

    if old_manifest is not None and report.unchanged:
        keep_old(set(report.unchanged))
    failpoint("after-read-old")

    def skip(name: str, reason: str) -> None:
        """A file that cannot be read. If an earlier version of it is indexed, that version stays
        (a damaged copy or a half-synced download should not make a report vanish)."""
        entry = {"name": name, "reason": reason, "sha256": hashes[name]}
        if name in old_docs:
            entry.update(reason=f"{reason}; the version indexed before stays in the index", kept=True)
        record_skip(entry)

    new_chunks: list[Chunk] = []
    ocr_cache = OcrCache(index_dir / "cache" / "ocr")  # scanned pages already read (kept by --rebuild)
    emit("ingest-start", total=len(plan.to_ingest))
    for name in plan.to_ingest:
        try:
            failpoint("ingest-file")
            doc = ingest_file(paths[name], corpus_dir, settings.chunking, ocr_cache=ocr_cache,
                              on_ocr_page=lambda n, cached, name=name: emit("ocr-page", name=name, page=n,
                                                                            cached=cached))
        except IngestError as e:  # the file itself is unreadable: skipped until its bytes change
            skip(name, e.reason)
            continue
        except Exception as e:  # a bug or a bad setting, not the file: fail, remember nothing
            first = str(e).splitlines()[0] if str(e) else "no message"
            raise IngestFailed(f"{paths[name]}: reading it failed ({type(e).__name__}: {first}); nothing was "
                               "published and the next `wpqa index` reads it again") from e
        if not doc.chunks:
            skip(name, "no text found")
            continue
        new_chunks.extend(doc.chunks)
        documents.append({
            "name": name, "sha256": hashes[name], "kind": doc.document.kind, "title": doc.document.title,
            "pages": len(doc.document.pages), "ocr_pages": doc.document.ocr_pages,
            "sections": [{"id": s.id, "level": s.level, "title": s.title, "path": s.path,
                          "page_start": s.page_start, "page_end": s.page_end} for s in doc.sections],
        })
        emit("ingested", name=name, chunks=len(doc.chunks))
        failpoint("mid-ingest")
    failpoint("after-ingest")
    for entry in alias_skips(report.skipped, report.duplicates):
        record_skip(entry)
    broken = {s["name"] for s in report.skipped if s.get("kept") and s["name"] in report.changed}
    if broken:  # changed, now unreadable: the previous version stays (see skip())
        keep_old(broken)
        report.changed = [n for n in report.changed if n not in broken]
    for d in documents:
        d["aliases"] = [x["name"] for x in report.duplicates if x["same_as"] == d["name"]]
    skipped_names = {s["name"] for s in report.skipped}
    report.added = [n for n in report.added if n not in skipped_names]

    report.chunks_new = len(new_chunks)
    new_vectors = embed_new(new_chunks, index_dir, get_embeddings, report, emit)
    if new_chunks:
        dim = new_vectors.shape[1]
    elif kept_vectors:
        dim = kept_vectors[0].shape[0]
    else:
        dim = (old_manifest or {}).get("embedding_dim", 0)
    failpoint("after-embed")

    pool = kept_chunks + new_chunks
    parts = ([np.vstack(kept_vectors)] if kept_vectors else []) + ([new_vectors] if new_chunks else [])
    pool_vecs = np.vstack(parts) if parts else np.zeros((0, dim), np.float32)
    order = sorted(range(len(pool)), key=lambda i: (pool[i].doc, pool[i].ordinal))
    chunks = [pool[i] for i in order]
    vectors = pool_vecs[order] if order else pool_vecs
    if len({c.id for c in chunks}) != len(chunks):
        raise RuntimeError("duplicate chunk ids in the new index")
    write_and_publish(index_dir, settings, chunks, vectors, documents, old_docs, int(dim), report, emit)


def embed_new(new_chunks: list[Chunk], index_dir: Path, get_embeddings: Callable[[], "CountingEmbeddings"],
              report: BuildReport, emit: Events) -> np.ndarray:
    """Vectors of the new chunks (the embedding cache first, the model for the rest)."""
    if not new_chunks:
        return np.zeros((0, 0), dtype=np.float32)
    emb = get_embeddings()
    cache = open_cache(index_dir / "cache" / "embeddings.sqlite", report.warnings)
    try:
        emit("embed-start", total=len(new_chunks))
        vectors, report.embedded = embed_with_cache(
            emb, cache, [c.embed_text() for c in new_chunks],
            progress=lambda n: (emit("embedded", n=n), failpoint("mid-embed")))
        report.embed_calls = emb.calls
    finally:
        cache.close()
    return vectors


def write_and_publish(index_dir: Path, settings: BuildSettings, chunks: list[Chunk], vectors: np.ndarray,
                      documents: list[dict], old_docs: dict[str, dict], dim: int, report: BuildReport,
                      emit: Events) -> None:
    """Write the new generation beside the live one, publish it, then retire what it replaces."""
    lang_counts = {lang: sum(c.lang == lang for c in chunks) for lang in LANGS}
    name = next_generation_name(index_dir)
    writer = vector_writer(settings.vector_store, settings.milvus)
    manifest = {
        "format": FORMAT,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "embedding": settings.embedding,
        "embedding_dim": dim,
        "chunking": settings.chunking.key(),
        "vector_index": settings.vector_kind(lang_counts),
        "vector_store": settings.vector_store,
        **writer.manifest_entry(name),
        "documents": {d["name"]: {"sha256": d["sha256"], "chunks": sum(1 for c in chunks if c.doc == d["name"]),
                                  "pages": d["pages"], "aliases": d["aliases"],
                                  "ocr_pages": d.get("ocr_pages", old_docs.get(d["name"], {}).get("ocr_pages", []))}
                      for d in documents},
        "skipped": report.skipped,
        "duplicates": report.duplicates,
        "stats": {"chunks": len(chunks), **lang_counts},
    }
    building = index_dir / f"building-{os.getpid()}"
    if building.exists():
        shutil.rmtree(building)
    emit("write-start")
    try:
        write_generation(building, name, manifest, chunks, vectors, documents, writer,
                         vector_kind=manifest["vector_index"])
        failpoint("after-write")
        emit("vectors-written", generation=name)  # whole, not yet live
        os.replace(building, index_dir / name)
        failpoint("before-publish")
        publish(index_dir, name)
        failpoint("before-retire")
        writer.after_publish(name, set(generation_names(index_dir)))
        report.milvus = getattr(writer, "stats", None)
    finally:
        writer.close()
    failpoint("after-publish")
    report.generation = name
    report.wrote = True
    report.chunks_total = len(chunks)
