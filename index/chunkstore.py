"""The chunk store of a generation: chunks and documents in SQLite (chunks.sqlite)."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from ingest.model import Chunk

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
