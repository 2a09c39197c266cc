"""Corpus folder -> ingested documents (load, clean, sections, chunks)."""
from __future__ import annotations

import os
import stat
from pathlib import Path

from .chunking import chunk_document
from .clean import clean_document, cover_title
from .loaders import load_document
from .model import ChunkSettings, IngestedDocument, IngestError
from .sections import _assign_offsets as assign_offsets
from .sections import build_sections
from .tables import place_tables

SUPPORTED = {".pdf", ".txt", ".md"}


class Skip(str):
    """A discover() warning about a file or folder it skipped: str() is the one-line message,
    `.name` and `.reason` its parts (what `wpqa status` lists as skipped)."""

    def __new__(cls, name: str, reason: str) -> "Skip":
        s = super().__new__(cls, f"{name}: skipped: {reason}")
        s.name, s.reason = name, reason
        return s


def discover(corpus_dir: Path) -> tuple[list[Path], list[str]]:
    """Supported files under corpus_dir (recursive, sorted) and warnings about skipped ones.

    Files with other suffixes are ignored silently. Hidden files and folders (.name) are
    skipped; a hidden file with a supported suffix gets a warning. A symlink that resolves
    outside corpus_dir is skipped with a warning, as is a broken one or a loop. A symlink to a file
    inside the corpus is kept (the same bytes under two names are the index's business). Anything
    but a regular file (a pipe, socket or device named .txt) is skipped: reading it could block.
    A name that is not valid UTF-8 is kept with its odd bytes as \\xNN escapes (see doc_name)."""
    root = Path(corpus_dir)
    if not root.is_dir():
        return [], [f"{root}: not a folder"]
    real_root = root.resolve()
    files: list[Path] = []
    warnings: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        d = Path(dirpath)
        for name in sorted(dirnames):
            p = d / name
            if name.startswith("."):
                dirnames.remove(name)
            elif p.is_symlink():
                target = _resolve(p)
                if target is None:
                    warnings.append(Skip(_rel(p, root), "symlink loop"))
                elif not _inside(target, real_root):
                    warnings.append(Skip(_rel(p, root), "symlink points outside the corpus"))
                # a link to a folder inside the corpus: its files are found under their own names
        for name in sorted(filenames):
            p = d / name
            rel = _rel(p, root)
            supported = p.suffix.lower() in SUPPORTED
            if name.startswith("."):
                if supported:
                    warnings.append(Skip(rel, "hidden file"))
                continue
            if not supported:
                continue
            if p.is_symlink():
                target = _resolve(p)
                if target is None:
                    warnings.append(Skip(rel, "symlink loop"))
                    continue
                if not target.exists():
                    warnings.append(Skip(rel, "broken symlink"))
                    continue
                if not _inside(target, real_root):
                    warnings.append(Skip(rel, "symlink points outside the corpus"))
                    continue
            try:
                mode = p.stat().st_mode
            except OSError as e:
                warnings.append(Skip(rel, f"cannot read file ({e.strerror or e.__class__.__name__})"))
                continue
            if not stat.S_ISREG(mode):
                warnings.append(Skip(rel, "not a regular file (a pipe, socket or device)"))
                continue
            if rel != _posix(p, root):
                warnings.append(f"{rel}: file name is not valid UTF-8; indexed under this name "
                                "(rename the file to fix)")
            files.append(p)
    files.sort(key=lambda p: _rel(p, root))
    return files, warnings


def _resolve(p: Path) -> Path | None:
    """Where a symlink leads, or None for a loop."""
    try:
        return p.resolve()
    except (RuntimeError, OSError):  # "Symlink loop from ..." (OSError ELOOP in newer Pythons)
        return None


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _posix(p: Path, root: Path) -> str:
    try:
        return p.relative_to(root).as_posix()
    except ValueError:
        pass
    try:
        return p.absolute().relative_to(root.absolute()).as_posix()
    except ValueError:
        return p.name


def _rel(p: Path, root: Path) -> str:
    """The document's name: its path relative to the corpus. Bytes of a name that are not UTF-8
    (e.g. GBK names from an old zip) become \\xNN escapes, so the name can be stored, printed and
    cited (a lone surrogate would break the manifest, the chunk store and the terminal)."""
    return _posix(p, root).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


doc_name = _rel


def ingest_file(path: Path, corpus_dir: Path, settings: ChunkSettings, ocr_cache=None,
                on_ocr_page=None) -> IngestedDocument:
    """Load, clean, split into sections and chunk one file. Raises IngestError. Scanned pages
    are OCR'd (see loaders.load_document for `ocr_cache` and `on_ocr_page`)."""
    path = Path(path)
    name = _rel(path, Path(corpus_dir))
    doc = load_document(path, name, ocr_cache=ocr_cache, on_ocr_page=on_ocr_page)
    cleaned = clean_document(doc)
    if not cleaned.lines:
        raise IngestError(name, "no text left after removing headers, footers and contents pages")
    doc.title = cover_title(cleaned) or doc.title
    sections = build_sections(doc, cleaned)
    tables = [t for p in doc.pages for t in p.tables]
    if tables:
        place_tables(tables, sections, settings.max_tokens)
        assign_offsets(sections)
    chunks = chunk_document(doc, sections, settings)
    return IngestedDocument(document=doc, sections=sections, chunks=chunks)


def ingest_corpus(
    corpus_dir: Path, settings: ChunkSettings | None = None
) -> tuple[list[IngestedDocument], list[str], list[IngestError]]:
    """Every supported file of a folder: (documents, warnings from discover, per-file errors)."""
    settings = settings or ChunkSettings()
    files, warnings = discover(corpus_dir)
    docs, errors = [], []
    for p in files:
        try:
            docs.append(ingest_file(p, corpus_dir, settings))
        except IngestError as e:
            errors.append(e)
    return docs, warnings, errors
