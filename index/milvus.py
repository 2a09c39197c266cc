"""Dense vectors in Milvus (a Milvus Lite file, or a server / cluster), behind the FaissVectors interface.

What lives where with `[index] vector_store = "milvus"`:

- the local generation (index_dir/gen-NNNNNN) keeps everything it keeps with FAISS except the
  faiss-*.index files: chunk store, BM25, manifest, and vectors.npy (the retriever's z-score
  statistics and candidate rescoring read it);
- one Milvus collection holds one entity per chunk of the live generation: `chunk_id` (primary
  key, the chunk id of the chunk store), `doc`, `lang` and the L2-normalised `vector` (COSINE).

Searches run per language through a filter (`lang == "zh"`) and map chunk ids back to rows of
the generation that was opened; an id that generation does not know is ignored.

The writer (`wpqa index`, under the index lock) brings the collection in line with a new
generation around the generation's publish:

1. before publish: write a journal (`milvus-sync.json`), upsert the chunks the live generation
   does not have yet (new and changed documents; everything after `--rebuild`, which drops and
   recreates the collection). Readers of the old generation may now see ids they do not know:
   they ignore them.
2. publish: CURRENT points at the new generation.
3. after publish: delete the ids the old generation had and the new one has not (changed and
   removed documents), check the collection holds exactly the new generation's chunks (a full
   reconcile otherwise), drop the journal.

A run killed in between leaves the journal behind; the next `wpqa index` reconciles the
collection with whatever generation is live before doing anything else. Chunk ids are
`{doc_sha256[:12]}-{ordinal}`, so an upsert never changes the content behind an id a reader
knows, and the primary key makes duplicates impossible.

Milvus Lite keeps an exclusive file lock on its folder while a process has it open: the client
is opened on first use and closed (with its in-process server) as soon as the writer is done;
a reader keeps it until it exits. Opening waits a while for another process to let go.
"""
from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from pathlib import Path

import numpy as np

from .store import CURRENT, IndexBusy, IndexError_, fsync_dir, write_atomic
from .vectors import LANGS

JOURNAL = "milvus-sync.json"
ID_FIELD, DOC_FIELD, LANG_FIELD, VEC_FIELD = "chunk_id", "doc", "lang", "vector"
BATCH = 256
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF = 32, 80, 128  # the same as FaissVectors


class MilvusError(IndexError_):
    pass


def is_local(uri: str) -> bool:
    """A file path (Milvus Lite) rather than http(s)://, tcp:// or unix: (a server)."""
    return "://" not in uri and not uri.startswith("unix:")


def milvus_target(conf: dict) -> dict:
    """The part of a Milvus configuration that identifies the data: recorded in the manifest and
    compared with the config on open. The token never is; only the name of its variable."""
    return {"uri": str(conf["uri"]), "collection": str(conf["collection"])}


def _lite_locked(uri: str) -> bool:
    """Whether another process holds Milvus Lite's lock on `uri` (the folder's LOCK file)."""
    import fcntl

    try:
        fd = os.open(os.path.join(uri, "LOCK"), os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


class MilvusStore:
    """One collection, opened lazily; all I/O with Milvus goes through here."""

    ef_search = HNSW_EF  # HNSW search breadth (index.hnsw_ef_search); FLAT collections ignore it

    def __init__(self, uri: str, collection: str, token_env: str = "", wait: float = 30.0):
        self.uri = str(uri)
        self.collection = collection
        self.token_env = token_env or ""
        self.wait = wait
        self._client = None
        self._loaded = False

    # ---------------------------------------------------------------- connection
    @property
    def client(self):
        if self._client is None:
            self._client = self._connect()
        return self._client

    def _connect(self):
        try:
            from pymilvus import MilvusClient
        except ImportError as e:  # pragma: no cover - pymilvus is a dependency
            raise MilvusError(f"vector_store = \"milvus\" needs pymilvus ({e}); pip install pymilvus milvus-lite") from e
        # pymilvus logs every failed call with a traceback (and warns about Milvus Lite's missing
        # session timestamps); our errors reach the user as one line
        for name in ("pymilvus", "pymilvus.milvus_client"):
            logging.getLogger(name).setLevel(logging.ERROR + 5)
        if is_local(self.uri):
            Path(self.uri).parent.mkdir(parents=True, exist_ok=True)
            # milvus-lite logs a traceback for every refused open; we say it once, below
            quiet = logging.getLogger("milvus_lite.server_manager")
            level, quiet.level = quiet.level, logging.CRITICAL
            deadline = time.monotonic() + self.wait
            unlocked_failures = 0
            try:
                while True:
                    try:
                        return MilvusClient(uri=self.uri)
                    except Exception as e:  # noqa: BLE001 - pymilvus raises its own hierarchy
                        if not _lite_locked(self.uri):
                            unlocked_failures += 1  # twice with nobody holding the lock: not a busy file
                            if unlocked_failures >= 2:
                                raise MilvusError(f"cannot open the Milvus Lite file {self.uri}: {e}") from e
                            continue
                        if time.monotonic() >= deadline:
                            raise IndexBusy(
                                f"the Milvus Lite file {self.uri} is open in another process: Milvus Lite serves one "
                                "process at a time, so wait for the other `wpqa` command (`index`, `chat`, `eval`, "
                                "`batch`) to finish, or set the uri of index.milvus to a Milvus server") from e
                        time.sleep(0.5)
            finally:
                quiet.level = level
        token = os.environ.get(self.token_env, "") if self.token_env else ""
        try:
            return MilvusClient(uri=self.uri, token=token, timeout=self.wait)
        except Exception as e:  # noqa: BLE001
            raise MilvusError(f"cannot connect to Milvus at {self.uri}: {e}") from None

    def close(self) -> None:
        """Close the client; for Milvus Lite also stop its in-process server, which frees the file lock."""
        if self._client is None:
            return
        try:
            self._client.close()
        finally:
            self._client, self._loaded = None, False
            if is_local(self.uri):
                try:
                    from milvus_lite.server_manager import server_manager_instance

                    server_manager_instance.release_server(self.uri)
                except ImportError:  # pragma: no cover
                    pass

    # ---------------------------------------------------------------- collection
    def exists(self) -> bool:
        return bool(self.client.has_collection(self.collection))

    def create(self, dim: int, kind: str = "flat") -> None:
        """(Re)create the collection: any collection of that name is dropped first."""
        from pymilvus import DataType, MilvusClient

        c = self.client
        if c.has_collection(self.collection):
            c.drop_collection(self.collection)
        self._loaded = False
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field(ID_FIELD, DataType.VARCHAR, max_length=64, is_primary=True)
        schema.add_field(DOC_FIELD, DataType.VARCHAR, max_length=4096)
        schema.add_field(LANG_FIELD, DataType.VARCHAR, max_length=8)
        schema.add_field(VEC_FIELD, DataType.FLOAT_VECTOR, dim=int(dim))
        ip = c.prepare_index_params()
        if kind == "hnsw":
            ip.add_index(VEC_FIELD, index_type="HNSW", metric_type="COSINE",
                         params={"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION})
        else:
            ip.add_index(VEC_FIELD, index_type="FLAT", metric_type="COSINE")
        c.create_collection(self.collection, schema=schema, index_params=ip, consistency_level="Strong")

    def drop(self) -> None:
        if self.client.has_collection(self.collection):
            self.client.drop_collection(self.collection)
        self._loaded = False

    def _require(self) -> None:
        """The collection exists and is loaded (a server or Milvus Lite reopened keeps it released)."""
        if self._loaded:
            return
        if not self.client.has_collection(self.collection):
            raise MilvusError(f"no Milvus collection {self.collection!r} at {self.uri}; run `wpqa index --rebuild`")
        state = str(self.client.get_load_state(self.collection).get("state", ""))
        if not state.endswith("Loaded"):
            self.client.load_collection(self.collection)
        self._loaded = True

    # ---------------------------------------------------------------- data
    def upsert(self, ids: list[str], docs: list[str], langs: list[str], vectors: np.ndarray) -> int:
        vecs = np.asarray(vectors, dtype=np.float32)
        for s in range(0, len(ids), BATCH):
            rows = [{ID_FIELD: ids[i], DOC_FIELD: docs[i], LANG_FIELD: langs[i], VEC_FIELD: vecs[i].tolist()}
                    for i in range(s, min(s + BATCH, len(ids)))]
            self.client.upsert(self.collection, rows)
        return len(ids)

    def delete_ids(self, ids) -> int:
        ids = sorted(ids)
        for s in range(0, len(ids), 1000):
            self.client.delete(self.collection, ids=ids[s:s + 1000])
        return len(ids)

    def ids(self) -> set[str]:
        """Every chunk id in the collection (an iterator: fine for millions)."""
        self._require()
        it = self.client.query_iterator(self.collection, batch_size=4096, filter="", output_fields=[ID_FIELD])
        out: set[str] = set()
        try:
            while True:
                page = it.next()
                if not page:
                    break
                out.update(r[ID_FIELD] for r in page)
        finally:
            it.close()
        return out

    def count(self, lang: str | None = None) -> int:
        self._require()
        flt = f'{LANG_FIELD} == "{lang}"' if lang else ""
        res = self.client.query(self.collection, filter=flt, output_fields=["count(*)"], consistency_level="Strong")
        return int(res[0]["count(*)"]) if res else 0

    def search(self, query: np.ndarray, lang: str, k: int) -> list[tuple[str, float]]:
        if k <= 0:
            return []
        if lang not in LANGS:
            raise ValueError(f"unknown language {lang!r}")
        vec = np.asarray(query, dtype=np.float32).reshape(-1).tolist()
        self._require()
        try:
            res = self.client.search(self.collection, data=[vec], anns_field=VEC_FIELD, limit=int(k),
                                     filter=f'{LANG_FIELD} == "{lang}"', output_fields=[ID_FIELD],
                                     search_params={"metric_type": "COSINE", "params": {"ef": max(self.ef_search, int(k))}})
        except Exception as e:  # noqa: BLE001
            raise MilvusError(f"Milvus search failed ({self.uri}, {self.collection}): {e}") from None
        hits = res[0] if res else []
        return [(h["entity"].get(ID_FIELD, h.get("id")) if "entity" in h else h["id"], float(h["distance"]))
                for h in hits]


class MilvusVectors:
    """The retriever's view of a Milvus collection for one generation: FaissVectors' interface
    (`search(query, lang, k) -> [(row, score)]`, `count(lang)`), rows being the generation's."""

    kind = "milvus"

    def __init__(self, store: MilvusStore, chunk_ids: list[str]):
        self.store = store
        self.row_of = {cid: i for i, cid in enumerate(chunk_ids)}
        self.unknown_seen = 0  # ids the collection returned that this generation does not know

    @classmethod
    def from_manifest(cls, manifest: dict, chunk_ids: list[str], token_env: str | None = None,
                      ef_search: int = HNSW_EF) -> "MilvusVectors":
        m = manifest.get("milvus") or {}
        if not m.get("uri") or not m.get("collection"):
            raise MilvusError("the manifest says vector_store = milvus but names no Milvus uri/collection; "
                              "run `wpqa index --rebuild`")
        store = MilvusStore(m["uri"], m["collection"], token_env if token_env is not None else m.get("token_env", ""))
        store.ef_search = ef_search
        return cls(store, chunk_ids)

    def count(self, lang: str) -> int:
        return self.store.count(lang)

    def search(self, query: np.ndarray, lang: str, k: int) -> list[tuple[int, float]]:
        if k <= 0 or not self.row_of:
            return []
        ask = k
        for _ in range(3):
            hits = self.store.search(query, lang, ask)
            out = [(self.row_of[cid], s) for cid, s in hits if cid in self.row_of]
            unknown = len(hits) - len(out)
            if not unknown or len(hits) < ask:
                break
            # a writer is between upsert and delete: ask for more so k known rows come back
            ask = min(16384, ask + 2 * unknown)
        self.unknown_seen += unknown
        return out[:k]

    def close(self) -> None:
        self.store.close()


# -------------------------------------------------------------------- the writer's side


def _generation_ids(folder: Path) -> list[str]:
    db = sqlite3.connect(f"file:{folder / 'chunks.sqlite'}?mode=ro", uri=True)
    try:
        return [r[0] for r in db.execute("SELECT id FROM chunks ORDER BY row")]
    finally:
        db.close()


def _live(index_dir: Path) -> tuple[Path, dict] | None:
    try:
        name = (index_dir / CURRENT).read_text(encoding="utf-8").strip()
        folder = index_dir / name
        return folder, json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
        return None


def reconcile(store: MilvusStore, folder: Path, chunk_ids: list[str] | None = None,
              vectors: np.ndarray | None = None, kind: str = "flat") -> dict:
    """Make the collection hold exactly the chunks of the generation in `folder`: delete ids it does
    not know, upsert the ones missing (vectors from its vectors.npy). Returns what it did."""
    from .store import read_chunks

    chunks = read_chunks(folder / "chunks.sqlite")
    if vectors is None:
        vectors = np.load(folder / "vectors.npy", allow_pickle=False)
    if not store.exists():
        store.create(vectors.shape[1] if vectors.ndim == 2 and vectors.shape[1] else 1, kind)
    have = store.ids()
    want = {c.id for c in chunks}
    stale = have - want
    missing = [i for i, c in enumerate(chunks) if c.id not in have]
    store.delete_ids(stale)
    if missing:
        store.upsert([chunks[i].id for i in missing], [chunks[i].doc for i in missing],
                     [chunks[i].lang for i in missing], vectors[missing])
    return {"deleted": len(stale), "upserted": len(missing)}


def recover(index_dir: Path, token_env: str = "") -> dict | None:
    """Called by the writer under the index lock before anything else: when a previous run died
    between its upsert and its delete, bring the collection back in line with the live generation."""
    journal = index_dir / JOURNAL
    if not journal.exists():
        return None
    live = _live(index_dir)
    done = None
    if live is not None and live[1].get("vector_store") == "milvus" and live[1].get("milvus"):
        folder, manifest = live
        m = manifest["milvus"]
        store = MilvusStore(m["uri"], m["collection"], token_env or m.get("token_env", ""))
        try:
            done = reconcile(store, folder, kind=manifest.get("vector_index", "flat"))
        finally:
            store.close()
    journal.unlink(missing_ok=True)
    fsync_dir(index_dir)
    return done


class MilvusSync:
    """Brings the collection in line with a new generation around its publish (see the module doc)."""

    def __init__(self, index_dir: Path, conf: dict, rebuild: bool = False):
        self.index_dir = index_dir
        self.conf = conf
        self.rebuild = rebuild
        self.store = MilvusStore(conf["uri"], conf["collection"], conf.get("token_env", ""))
        self.stale: set[str] = set()
        self.stats = {"upserted": 0, "deleted": 0, "reconciled": False}
        self._n: dict[str, int] = {}
        self._chunks = None
        self._vectors = None
        self._kind = "flat"

    def before_publish(self, chunks, vectors: np.ndarray, kind: str, building: Path) -> None:
        live = None if self.rebuild else _live(self.index_dir)
        same_target = (live is not None and live[1].get("vector_store") == "milvus"
                       and milvus_target(live[1].get("milvus") or {"uri": "", "collection": ""}) == milvus_target(self.conf)
                       and live[1].get("vector_index", "flat") == kind)
        old_ids = set(_generation_ids(live[0])) if same_target else set()
        self.store.client  # connect (or wait for Milvus Lite's lock) before leaving a journal behind
        write_atomic(self.index_dir / JOURNAL, json.dumps({"building": building.name, "at": time.time()}))
        dim = vectors.shape[1] if vectors.ndim == 2 and vectors.shape[1] else 1
        if not same_target or not self.store.exists():
            self.store.create(dim, kind)
            old_ids = set()
        new_ids = {c.id for c in chunks}
        todo = [i for i, c in enumerate(chunks) if c.id not in old_ids]
        if todo:
            self.stats["upserted"] = self.store.upsert([chunks[i].id for i in todo], [chunks[i].doc for i in todo],
                                                       [chunks[i].lang for i in todo], vectors[todo])
        self.stale = old_ids - new_ids
        self._n = {lang: sum(1 for c in chunks if c.lang == lang) for lang in LANGS}
        self._chunks, self._vectors, self._kind = chunks, vectors, kind

    def after_publish(self, folder: Path) -> None:
        """`folder` is the generation just published."""
        self.stats["deleted"] = self.store.delete_ids(self.stale)
        if any(self.store.count(lang) != n for lang, n in self._n.items()):
            # the collection was changed behind our back (or lost): make it match the generation
            self.stats["reconciled"] = True
            done = reconcile(self.store, folder, vectors=self._vectors, kind=self._kind)
            self.stats["upserted"] += done["upserted"]
            self.stats["deleted"] += done["deleted"]
        (self.index_dir / JOURNAL).unlink(missing_ok=True)
        fsync_dir(self.index_dir)

    def close(self) -> None:
        self.store.close()
