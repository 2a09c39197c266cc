"""Dense vectors in Milvus (a Milvus Lite file, or a server / cluster), behind the FaissVectors interface.

What lives where with `[index] vector_store = "milvus"`:

- the local generation (index_dir/gen-NNNNNN) keeps everything it keeps with FAISS except the
  faiss-*.index files: chunk store, BM25, manifest, and vectors.npy (the retriever's z-score
  statistics and candidate rescoring read it);
- each generation has its own Milvus collection, `{collection}__gen_NNNNNN` (the configured
  collection name, two underscores, the generation's name), holding one entity per chunk:
  `chunk_id` (primary key, the chunk id of the chunk store), `doc`, `lang` and the L2-normalised
  `vector` (COSINE). The manifest names it (`milvus.generation_collection`).

Old or new, never half: a build writes the whole new generation's collection before it publishes
(CURRENT names the new generation), and a reader searches the collection named by the manifest of
the generation it opened, so it sees the old collection or the new one, complete, and nothing
changes under it. After the publish, the alias `{collection}` (the configured name) is pointed at
the live generation's collection, for anything outside wpqa that reads the live vectors; then the
collections of generations that no longer exist on disk (retired by the publish, or left by a
killed build) are dropped. The previous generation, kept on disk for readers that opened it, keeps
its collection until the next build retires it.

wpqa's own readers do not search through the alias: the alias moves at publish, and a reader that
opened generation N (its chunk rows, its BM25) must keep searching N's vectors, not N+1's; through
the manifest they do, on a server and on Milvus Lite alike (Milvus Lite 3.2, used here, has aliases too).

Milvus Lite keeps an exclusive file lock on its folder while a process has it open: the client
is opened on first use and closed (with its in-process server, once the last store of that file in
the process is closed) as soon as the writer is done; a reader keeps it until it exits. Opening
waits a while for another process to let go.
"""
from __future__ import annotations

import logging
import os
import re
import threading
import time
from pathlib import Path

import numpy as np

from ingest.text import LANGS

from .errors import IndexBusy, IndexStoreError

ID_FIELD, DOC_FIELD, LANG_FIELD, VEC_FIELD = "chunk_id", "doc", "lang", "vector"
BATCH = 256
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF = 32, 80, 128  # the same as FaissVectors


class MilvusError(IndexStoreError):
    pass


def is_local(uri: str) -> bool:
    """A file path (Milvus Lite) rather than http(s)://, tcp:// or unix: (a server)."""
    return "://" not in uri and not uri.startswith("unix:")


def milvus_target(conf: dict) -> dict:
    """The part of a Milvus configuration that identifies the data: recorded in the manifest and
    compared with the config on open. The token never is; only the name of its variable."""
    return {"uri": str(conf["uri"]), "collection": str(conf["collection"])}


def generation_collection(base: str, generation: str) -> str:
    """The collection that holds generation `generation`'s vectors (collection names allow [A-Za-z0-9_])."""
    return f"{base}__{generation.replace('-', '_')}"


def _generation_of(base: str, collection: str) -> str | None:
    m = re.fullmatch(re.escape(base) + r"__gen_([0-9]+)", collection)
    return f"gen-{m.group(1)}" if m else None


# Milvus Lite runs one in-process server per file; every store of that file in this process shares
# it, so the server stops only when the last of them closes.
_LITE_USERS: dict[str, int] = {}
_LITE_GUARD = threading.Lock()


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
            if is_local(self.uri):
                with _LITE_GUARD:
                    _LITE_USERS[self.uri] = _LITE_USERS.get(self.uri, 0) + 1
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
                with _LITE_GUARD:
                    _LITE_USERS[self.uri] -= 1
                    last = _LITE_USERS[self.uri] == 0
                if last:
                    try:
                        from milvus_lite.server_manager import server_manager_instance

                        server_manager_instance.release_server(self.uri)
                    except ImportError:  # pragma: no cover
                        pass

    # ---------------------------------------------------------------- collection
    def collections(self) -> list[str]:
        return list(self.client.list_collections())

    def drop_collection(self, name: str) -> None:
        self.client.drop_collection(name)

    def point_alias(self, alias: str, collection: str) -> None:
        """Make `alias` name `collection` (created, or moved from the collection it named)."""
        if alias in self.client.list_aliases().get("aliases", []):
            self.client.alter_alias(collection, alias)
        else:
            self.client.create_alias(collection, alias)

    def alias_target(self, alias: str) -> str | None:
        if alias not in self.client.list_aliases().get("aliases", []):
            return None
        return self.client.describe_alias(alias)["collection_name"]

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
    def insert(self, ids: list[str], docs: list[str], langs: list[str], vectors: np.ndarray) -> int:
        vecs = np.asarray(vectors, dtype=np.float32)
        for s in range(0, len(ids), BATCH):
            rows = [{ID_FIELD: ids[i], DOC_FIELD: docs[i], LANG_FIELD: langs[i], VEC_FIELD: vecs[i].tolist()}
                    for i in range(s, min(s + BATCH, len(ids)))]
            self.client.insert(self.collection, rows)
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
    """The retriever's view of one generation's collection: FaissVectors' interface
    (`search(query, lang, k) -> [(row, score)]`, `count(lang)`), rows being the generation's."""

    kind = "milvus"

    def __init__(self, store: MilvusStore, chunk_ids: list[str]):
        self.store = store
        self.row_of = {cid: i for i, cid in enumerate(chunk_ids)}

    @classmethod
    def from_manifest(cls, manifest: dict, chunk_ids: list[str], token_env: str | None = None,
                      ef_search: int = HNSW_EF) -> "MilvusVectors":
        m = manifest.get("milvus") or {}
        if not m.get("uri") or not m.get("generation_collection"):
            raise MilvusError("the manifest says vector_store = milvus but names no Milvus uri/collection for its "
                              "generation; run `wpqa index --rebuild`")
        store = MilvusStore(m["uri"], m["generation_collection"],
                            token_env if token_env is not None else m.get("token_env", ""))
        store.ef_search = ef_search
        return cls(store, chunk_ids)

    def count(self, lang: str) -> int:
        return self.store.count(lang)

    def search(self, query: np.ndarray, lang: str, k: int) -> list[tuple[int, float]]:
        if k <= 0 or not self.row_of:
            return []
        hits = self.store.search(query, lang, k)
        return [(self.row_of[cid], s) for cid, s in hits if cid in self.row_of]

    def close(self) -> None:
        self.store.close()


# -------------------------------------------------------------------- the writer's side


class MilvusWriter:
    """Writes a generation's collection before its publish; after it, moves the alias and drops retired ones."""

    def __init__(self, conf: dict):
        self.conf = conf
        self.base = str(conf["collection"])
        self.stats: dict = {"collection": None, "inserted": 0, "alias": None, "dropped": []}
        self._store: MilvusStore | None = None

    def manifest_entry(self, generation: str) -> dict:
        """What the generation's manifest records: the configured target and its own collection."""
        return {"milvus": {**milvus_target(self.conf), "token_env": self.conf.get("token_env", ""),
                           "generation_collection": generation_collection(self.base, generation)}}

    def write(self, folder: Path, generation: str, chunks, vectors: np.ndarray, kind: str) -> None:
        """Create `generation`'s collection (dropping a leftover of a killed build of the same name)
        and insert every chunk; check the count before the generation may be published."""
        name = generation_collection(self.base, generation)
        self._store = MilvusStore(self.conf["uri"], name, self.conf.get("token_env", ""))
        dim = vectors.shape[1] if vectors.ndim == 2 and vectors.shape[1] else 1
        self._store.create(dim, kind)
        if chunks:
            self._store.insert([c.id for c in chunks], [c.doc for c in chunks], [c.lang for c in chunks], vectors)
        n = self._store.count()
        if n != len(chunks):
            raise MilvusError(f"Milvus collection {name} at {self._store.uri} holds {n} vectors after writing "
                              f"{len(chunks)}; nothing was published")
        self.stats.update(collection=name, inserted=len(chunks))

    def after_publish(self, live: str, generations: set[str]) -> None:
        """After the publish of generation `live`: point the alias (the configured collection name) at
        its collection, for anyone reading the live vectors outside wpqa, then drop this target's
        generation collections whose generation is not in `generations` (the ones on disk): retired
        by the publish, or left by a killed build."""
        store = self._store or MilvusStore(self.conf["uri"], self.base, self.conf.get("token_env", ""))
        self._store = store
        target = generation_collection(self.base, live)
        if self.base in store.collections():  # a plain collection of that name (wpqa before generations)
            store.drop_collection(self.base)
        store.point_alias(self.base, target)
        self.stats["alias"] = f"{self.base} -> {target}"
        for name in sorted(store.collections()):
            gen = _generation_of(self.base, name)
            if gen is not None and gen not in generations:
                store.drop_collection(name)
                self.stats["dropped"].append(name)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
