"""Files -> documents -> sections -> chunks.

    from ingest import ingest_file, discover, ChunkSettings
    docs = [ingest_file(p, corpus_dir, ChunkSettings()) for p in discover(corpus_dir)[0]]

Modules: loaders (file -> Document), clean (page cleaning, line joining), headings (heading
patterns), sections (section tree), chunking (chunks), pipeline (discover / ingest_file).
Names are loaded lazily, so `import ingest.text` stays light.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "Page": "model", "Document": "model", "Section": "model", "Chunk": "model",
    "IngestedDocument": "model", "ChunkSettings": "model", "IngestError": "model",
    "load_document": "loaders",
    "clean_document": "clean", "join_lines": "clean",
    "build_sections": "sections", "document_text": "sections",
    "chunk_document": "chunking",
    "SUPPORTED": "pipeline", "discover": "pipeline", "ingest_file": "pipeline", "ingest_corpus": "pipeline",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'ingest' has no attribute {name!r}")
