"""The on-disk index: generations swapped atomically, a chunk store in SQLite, a manifest.

Layout of an index directory:

    CURRENT                 name of the live generation (replaced atomically)
    gen-000007/             one complete index: manifest.json, chunks.sqlite, vectors.npy,
                            faiss-{zh,en}.index, rows-{zh,en}.npy, bm25-{zh,en}/
    cache/embeddings.sqlite passage vectors by model and text hash (survives --rebuild)
    index.lock              held (flock) by the one `wpqa index` that may write
    milvus-sync.json        only with vector_store = milvus, while a build syncs the collection
                            (a generation then has no faiss-*/rows-* files: see index/milvus.py)

A build writes a new generation beside the live one and only then points CURRENT at it, so a
reader sees the old or the new index, never half of one. Nothing here is ever unpickled.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import sqlite3
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from pathlib import Path

import numpy as np

from common.errors import WpqaError
from ingest.model import Chunk

from .defaults import HNSW_EF_SEARCH
from .vectors import LANGS

if TYPE_CHECKING:  # faiss and bm25s load only when an index is written or opened
    from .lexical import LexicalIndex
    from .vectors import VectorSearch

FORMAT = 2
CURRENT = "CURRENT"
LOCK = "index.lock"


class IndexError_(WpqaError):
    """A problem with the index directory; str() is a one-line message for the user."""


class IndexMissing(IndexError_):
    pass


class IndexMismatch(IndexError_):
    pass


class IndexBusy(IndexError_):
    pass


class IndexDamaged(IndexError_):
    """A file of the index directory holds what no wpqa build writes."""


class IngestFailed(IndexError_):
    """Reading a corpus file failed for a reason other than the file (a bug, a bad setting)."""


def failpoint(name: str) -> None:
    """Crash-test hook: `WPQA_FAILPOINT=name` makes the process SIGKILL itself here;
    `WPQA_FAILPOINT=name:raise` raises a RuntimeError instead (an unexpected error at that point)."""
    point = os.environ.get("WPQA_FAILPOINT")
    if point == name:
        os.kill(os.getpid(), signal.SIGKILL)
    if point == f"{name}:raise":
        raise RuntimeError(f"failpoint {name}")


def fsync_dir(path: Path) -> None:
    fd = os.open(str(path), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


# ---------------------------------------------------------------- chunk store

_SCHEMA = """
CREATE TABLE chunks (
  row INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, doc TEXT NOT NULL, doc_sha256 TEXT NOT NULL,
  ordinal INTEGER NOT NULL, section_id TEXT NOT NULL, section_path TEXT NOT NULL, page INTEGER NOT NULL,
  page_end INTEGER NOT NULL, lang TEXT NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL, text TEXT NOT NULL,
  context TEXT NOT NULL, page_breaks TEXT NOT NULL
);
CREATE INDEX chunks_doc ON chunks(doc);
CREATE TABLE documents (
  name TEXT PRIMARY KEY, sha256 TEXT NOT NULL, kind TEXT NOT NULL, title TEXT NOT NULL, pages INTEGER NOT NULL,
  sections TEXT NOT NULL, aliases TEXT NOT NULL
);
"""


def write_chunk_store(path: Path, chunks: list[Chunk], documents: list[dict]) -> None:
    db = sqlite3.connect(str(path))
    try:
        db.executescript(_SCHEMA)
        db.executemany(
            'INSERT INTO chunks VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)',
            [
                (i, c.id, c.doc, c.doc_sha256, c.ordinal, c.section_id, json.dumps(c.section_path, ensure_ascii=False),
                 c.page, c.page_end, c.lang, c.start, c.end, c.text, c.context, json.dumps(c.page_breaks))
                for i, c in enumerate(chunks)
            ],
        )
        db.executemany(
            "INSERT INTO documents VALUES (?,?,?,?,?,?,?)",
            [
                (d["name"], d["sha256"], d["kind"], d.get("title", ""), d.get("pages", 0),
                 json.dumps(d.get("sections", []), ensure_ascii=False), json.dumps(d.get("aliases", []), ensure_ascii=False))
                for d in documents
            ],
        )
        db.commit()
    finally:
        db.close()


def _row_to_chunk(r) -> Chunk:
    return Chunk(id=r[1], doc=r[2], doc_sha256=r[3], ordinal=r[4], section_id=r[5], section_path=json.loads(r[6]),
                 page=r[7], page_end=r[8], lang=r[9], start=r[10], end=r[11], text=r[12], context=r[13],
                 page_breaks=[tuple(b) for b in json.loads(r[14])] if len(r) > 14 else [])


def _read_rows(path: Path, sql: str) -> list[tuple]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def read_chunks(path: Path) -> list[Chunk]:
    return [_row_to_chunk(r) for r in _read_rows(path, "SELECT * FROM chunks ORDER BY row")]


def read_documents(path: Path) -> list[dict]:
    rows = _read_rows(path, "SELECT name, sha256, kind, title, pages, sections, aliases FROM documents ORDER BY name")
    return [dict(name=r[0], sha256=r[1], kind=r[2], title=r[3], pages=r[4], sections=json.loads(r[5]),
                 aliases=json.loads(r[6])) for r in rows]


# ---------------------------------------------------------------- generations


@dataclass
class Generation:
    """A complete, immutable index loaded for reading."""

    folder: Path
    manifest: dict
    chunks: list[Chunk]
    vectors: np.ndarray
    dense: "VectorSearch"  # FaissVectors, or MilvusVectors when the manifest says vector_store = milvus
    lexical: "LexicalIndex"

    @property
    def by_id(self) -> dict[str, int]:
        return {c.id: i for i, c in enumerate(self.chunks)}

    def close(self) -> None:
        """Let go of the vector store's connection (Milvus Lite's file lock); FAISS holds none."""
        close = getattr(self.dense, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> "Generation":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def documents(self) -> list[dict]:
        return read_documents(self.folder / "chunks.sqlite")


def write_generation(folder: Path, manifest: dict, chunks: list[Chunk], vectors: np.ndarray, documents: list[dict],
                     vector_kind: str = "flat", lexical_texts: list[str] | None = None, faiss: bool = True) -> None:
    """Write every file of a generation into `folder` (which must not be live yet). `faiss=False`
    (vector_store = milvus) leaves out the FAISS files: the vectors' search index lives in Milvus."""
    folder.mkdir(parents=True, exist_ok=False)
    langs = [c.lang for c in chunks]
    write_chunk_store(folder / "chunks.sqlite", chunks, documents)
    np.save(folder / "vectors.npy", vectors.astype(np.float32), allow_pickle=False)
    failpoint("mid-write")
    if faiss:
        from .vectors import FaissVectors

        FaissVectors.build(vectors, langs, kind=vector_kind).save(folder)
    texts = lexical_texts if lexical_texts is not None else [c.embed_text() for c in chunks]
    from .lexical import LexicalIndex

    LexicalIndex.build(texts, langs).save(folder)
    # the manifest goes last: a generation without one is incomplete and never opened
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    for p in folder.rglob("*"):
        if p.is_file():
            with open(p, "rb") as f:
                os.fsync(f.fileno())
    fsync_dir(folder)


GENERATION_NAME = re.compile(r"gen-[0-9]+")


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


def next_generation_name(index_dir: Path) -> str:
    nums = [int(p.name.split("-")[1]) for p in index_dir.glob("gen-*") if p.name.split("-")[1].isdigit()]
    return f"gen-{(max(nums) + 1) if nums else 1:06d}"


def publish(index_dir: Path, name: str, keep: int = 2) -> None:
    """Point CURRENT at generation `name`, then drop all but the newest `keep` generations."""
    write_atomic(index_dir / CURRENT, name + "\n")
    failpoint("mid-publish")
    live = sorted((p for p in index_dir.glob("gen-*") if p.is_dir() and p.name.split("-")[1].isdigit()),
                  key=lambda p: p.name)
    for old in live[:-keep]:
        if old.name != name:
            shutil.rmtree(old, ignore_errors=True)


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
            if manifest.get("vector_store", "faiss") == "milvus":
                from .milvus import MilvusVectors  # connects on the first search, not here

                token_env = ((expect or {}).get("milvus") or {}).get("token_env")
                dense = MilvusVectors.from_manifest(manifest, [c.id for c in chunks], token_env, ef_search)
            else:
                from .vectors import FaissVectors

                dense = FaissVectors.load(folder, ef_search=ef_search)
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


# ---------------------------------------------------------------- lock


class IndexLock:
    """An exclusive flock on index.lock. The kernel releases it when its process dies, so a lock
    left by a killed `wpqa index` is stale by construction: the next run takes it and says so."""

    def __init__(self, index_dir: Path, wait: float = 0.0):
        self.path = index_dir / LOCK
        self.wait = wait
        self.fd: int | None = None
        self.stale_from: str | None = None

    def __enter__(self) -> "IndexLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(str(self.path), os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
                    os.close(fd)
                    raise IndexBusy(f"another `wpqa index` is running ({holder or 'unknown process'}); "
                                    "wait for it to finish") from None
                time.sleep(0.2)
        previous = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
        if previous:
            pid = previous.split()[0].removeprefix("pid=")
            if pid.isdigit() and not _alive(int(pid)):
                self.stale_from = previous
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid={os.getpid()} since={time.strftime('%Y-%m-%dT%H:%M:%S')}".encode(), 0)
        self.fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def lang_counts(chunks: list[Chunk]) -> dict[str, int]:
    return {lang: sum(1 for c in chunks if c.lang == lang) for lang in LANGS}
