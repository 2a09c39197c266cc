"""What `wpqa status` shows, read from the live generation's manifest without opening the index.

A build may publish a new generation and remove an old one while this runs: CURRENT is read, then
that generation's manifest; if the generation vanished in between, CURRENT is read again. A
manifest that lacks a field status needs is a damaged index, said in one line.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from common.errors import WpqaError
from index.generation import current_name


class _Embedding(BaseModel):
    model_config = ConfigDict(extra="allow")
    model_id: str


class _Manifest(BaseModel):
    """The fields of manifest.json that status shows (a build writes more)."""

    model_config = ConfigDict(extra="allow")
    created_at: str
    embedding: _Embedding
    embedding_dim: int
    chunking: dict
    vector_index: str
    documents: dict[str, dict]
    stats: dict[str, int]
    vector_store: str = "faiss"
    milvus: dict | None = None
    skipped: list[dict] = []
    duplicates: list[dict] = []


def tree_size(path: Path) -> int:
    """Bytes under `path`; files and folders removed while walking (an old generation being
    dropped) count 0 (os.walk skips a folder it can no longer list)."""
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            try:
                total += os.stat(os.path.join(folder, name), follow_symlinks=False).st_size
            except FileNotFoundError:
                continue
    return total


def _damaged(index_dir: Path, name: str, why: str) -> WpqaError:
    return WpqaError(f"the index in {index_dir} is damaged ({name}/manifest.json: {why}); "
                     "run `wpqa index --rebuild`")


def read_status(index_dir: Path, attempts: int = 5) -> dict:
    """The status of the index in `index_dir` as a dict (what `status --json` prints)."""
    for attempt in range(attempts):
        name = current_name(index_dir)
        if name is None:
            raise WpqaError(f"no index in {index_dir}; run `wpqa index`")
        try:
            text = (index_dir / name / "manifest.json").read_text(encoding="utf-8")
        except FileNotFoundError:
            if attempt < attempts - 1:  # a publish may be swapping generations: read CURRENT again
                time.sleep(0.05 * (attempt + 1))
                continue
            raise WpqaError(f"{index_dir / 'CURRENT'} names {name}, which has no manifest.json; "
                            "run `wpqa index --rebuild`") from None
        try:
            raw = json.loads(text)
            m = _Manifest.model_validate(raw)
        except json.JSONDecodeError as e:
            raise _damaged(index_dir, name, str(e)) from None
        except ValidationError as e:
            first = e.errors(include_url=False)[0]
            field = ".".join(str(x) for x in first["loc"]) or "the whole file"
            why = f"missing '{field}'" if first["type"] == "missing" else f"'{field}': {first['msg']}"
            raise _damaged(index_dir, name, why) from None
        size = tree_size(index_dir / name)
        if not (index_dir / name / "manifest.json").exists() and attempt < attempts - 1:
            continue  # removed while it was being sized: read the generation CURRENT names now
        cache = index_dir / "cache"
        return {
            "index_dir": str(index_dir),
            "generation": name,
            "built": m.created_at,
            "embedding": m.embedding.model_dump(),
            "dim": m.embedding_dim,
            "chunking": m.chunking,
            "vector_index": m.vector_index,
            "vector_store": m.vector_store,
            "milvus": {k: v for k, v in (m.milvus or {}).items() if k in ("uri", "collection")} or None,
            "documents": m.documents,
            "chunks": m.stats,
            "skipped": m.skipped,
            "duplicates": m.duplicates,
            "size_bytes": size,
            "cache_bytes": tree_size(cache) if cache.is_dir() else 0,
        }
    raise AssertionError("unreachable")  # pragma: no cover
