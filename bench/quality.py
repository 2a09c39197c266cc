"""Quality and warm latency on the dev set, one system per process (so its peak RSS is its own).

    python -m bench.quality wpqa  --config C --corpus D --index-dir I --backend default|extractive|llama-cpp
                                  --translate default|on|off --out FILE
    python -m bench.quality stock --corpus D --out FILE      # PyPDFLoader + splitter(1000/200) + LangChain FAISS + e5
    python -m bench.quality bm25  --corpus D --index-dir I --out FILE   # bm25s over jieba tokens, stock and wpqa chunks
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from wpqa.evaluate import answerable

from .common import judged, load_dev, peak_rss_mb, rss_mb, smaps_mb, summary_ms, write_json

WARMUP = ["数据跨境流动面临哪些治理难题？", "Which bodies discuss rules for cross-border e-commerce?"]


def _llm_contexts() -> int | None:
    """How many llama.cpp model instances this process holds (llm.llamacpp's per-process cache)."""
    try:
        from llm.llamacpp import loaded_models
        return loaded_models()
    except ImportError:
        return None


def run_wpqa(a) -> dict:
    from wpqa.cli import Ctx

    t0 = time.perf_counter()
    rss0 = rss_mb()
    ctx = Ctx(Path(a.config), Path(a.corpus), Path(a.index_dir))
    backend = None if a.backend == "default" else a.backend
    translate = None if a.translate == "default" else (a.translate == "on")
    pipe = ctx.pipeline(backend, translate=translate)
    setup_s = time.perf_counter() - t0
    t = time.perf_counter()
    for q in WARMUP:  # loads the LLM (lazily loaded on first use), jieba, e5 query path
        pipe.ask(q, qid="warmup", k=10)
    warmup_s = time.perf_counter() - t
    rss_warm = rss_mb()
    items = load_dev(a.limit)
    records, contexts = [], {}
    t = time.perf_counter()
    for it in items:
        rec = pipe.ask(it["question"], qid=it["id"], k=10)
        print(f"{it['id']} {rec['timings_ms'].get('total', 0) / 1000:.1f} s", file=sys.stderr, flush=True)
        ctxs = [{"doc": c["doc"], "text": c["text"], "section": c["section"], "page": c["page"],
                 "chunk_id": c["chunk_id"], "score": c["score"]} for c in rec["contexts"]]
        contexts[it["id"]] = ctxs
        records.append({k: rec.get(k) for k in ("id", "question", "answer", "abstained", "citations", "timings_ms",
                                                "lang", "translation", "backend", "flags")}
                       | {"contexts": [{k: c[k] for k in ("doc", "section", "page", "chunk_id", "score")} for c in ctxs]})
    loop_s = time.perf_counter() - t
    res = judged(items, contexts, {r["id"]: r for r in records})
    timings = [r["timings_ms"] for r in records]
    out = {
        "system": f"wpqa ({pipe.backend_name}, translation {'on' if pipe.searcher.translator else 'off'})",
        "backend": pipe.backend_name, "llm": getattr(pipe.llm, "name", None),
        "translate": pipe.searcher.translator is not None,
        "index_chunks": len(pipe.searcher.gen.chunks),
        "setup_s": round(setup_s, 2), "warmup_s": round(warmup_s, 2), "loop_s": round(loop_s, 2),
        "rss_mb": {"start": round(rss0, 1), "after_warmup": round(rss_warm, 1), "end": round(rss_mb(), 1),
                   "peak": round(peak_rss_mb(), 1)},
        "smaps_end_mb": smaps_mb(),
        "llm_contexts": _llm_contexts(),
        "latency_ms": {
            "retrieve": summary_ms(t["retrieve"] for t in timings),
            "translate": summary_ms(t["translate"] for t in timings if "translate" in t),
            "retrieve_excl_translate": summary_ms(t["retrieve"] - t.get("translate", 0) for t in timings),
            "generate": summary_ms(t["generate"] for t in timings if "generate" in t),
            "answer_total": summary_ms(t["total"] for t in timings),
        },
        **res,
        "abstained_unanswerable": sum(1 for it, r in zip(items, records) if not answerable(it) and r["abstained"]),
        "unanswerable": sum(1 for it in items if not answerable(it)),
        "abstained_answerable": sum(1 for it, r in zip(items, records) if answerable(it) and r["abstained"]),
        "cited_gold_doc": sum(1 for it, r in zip(items, records) if answerable(it) and not r["abstained"]
                              and any(c["doc"] == it["doc"] for c in r["citations"] or [])),
        "records": records,
    }
    return out


def stock_chunks(corpus: Path):
    from langchain_community.document_loaders import PyPDFLoader
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    docs = []
    for pdf in sorted(corpus.glob("*.pdf")):
        docs.extend(PyPDFLoader(str(pdf)).load())
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    return docs, splitter.split_documents(docs)


def run_stock(a) -> dict:
    rss0 = rss_mb()
    t0 = time.perf_counter()
    from langchain_community.vectorstores import FAISS

    from index.embeddings import E5SmallEmbeddings

    t = time.perf_counter()
    pages, chunks = stock_chunks(Path(a.corpus))
    load_split_s = time.perf_counter() - t
    emb = E5SmallEmbeddings(num_threads=2, batch_size=16)
    t = time.perf_counter()
    vs = FAISS.from_documents(chunks, emb)
    build_s = time.perf_counter() - t
    for q in WARMUP:
        vs.similarity_search(q, k=10)
    items = load_dev(a.limit)
    contexts, lat = {}, []
    for it in items:
        t = time.perf_counter()
        docs = vs.similarity_search(it["question"], k=10)
        lat.append((time.perf_counter() - t) * 1000)
        contexts[it["id"]] = [{"doc": Path(d.metadata["source"]).name, "text": d.page_content,
                               "page": d.metadata.get("page")} for d in docs]
    res = judged(items, contexts)
    return {
        "system": "stock LangChain (PyPDFLoader + RecursiveCharacterTextSplitter 1000/200 + FAISS + e5-small)",
        "pages": len(pages), "chunks": len(chunks), "load_split_s": round(load_split_s, 2),
        "embed_build_s": round(build_s, 2), "total_setup_s": round(time.perf_counter() - t0, 2),
        "faiss_index": type(vs.index).__name__, "distance": str(vs.distance_strategy),
        "latency_ms": {"retrieve": summary_ms(lat)},
        "rss_mb": {"start": round(rss0, 1), "end": round(rss_mb(), 1), "peak": round(peak_rss_mb(), 1)},
        **res,
        "contexts_top3": {k: [{"doc": c["doc"], "page": c["page"]} for c in v[:3]] for k, v in contexts.items()},
    }


def bm25_search(texts: list[str], queries: list[str], k: int = 10):
    """One bm25s index (k1=1.2, b=0.75, wpqa's) over all chunks of both languages, jieba tokens
    with wpqa's tokenizer and stop words; a query keeps its tokens known to the index."""
    import bm25s
    import numpy as np

    from ingest.text import tokenize

    t = time.perf_counter()
    m = bm25s.BM25(k1=1.2, b=0.75)
    m.index([tokenize(x, stopwords=True) or ["<empty>"] for x in texts], show_progress=False)
    build_s = time.perf_counter() - t
    out, lat = [], []
    for q in queries:
        t = time.perf_counter()
        toks = [w for w in dict.fromkeys(tokenize(q, stopwords=True)) if w in m.vocab_dict]
        rows = []
        if toks:
            s = m.get_scores(toks)
            rows = [int(i) for i in np.argsort(-s)[:k] if s[i] > 0]
        lat.append((time.perf_counter() - t) * 1000)
        out.append(rows)
    return out, lat, build_s


def run_bm25(a) -> dict:
    from ingest.text import tokenize
    tokenize("预热 warm up")  # jieba dictionary load, outside the timings

    items = load_dev(a.limit)
    qs = [it["question"] for it in items]
    result = {"system": "BM25 alone (bm25s, jieba tokens via ingest.text.tokenize)"}
    # (1) over the stock LangChain chunks
    _, chunks = stock_chunks(Path(a.corpus))
    texts = [c.page_content for c in chunks]
    found, lat, build_s = bm25_search(texts, qs)
    ctx = {it["id"]: [{"doc": Path(chunks[r].metadata["source"]).name, "text": texts[r]} for r in rows]
           for it, rows in zip(items, found)}
    result["stock_chunks"] = {"chunks": len(chunks), "build_s": round(build_s, 3),
                              "latency_ms": {"retrieve": summary_ms(lat)}, **judged(items, ctx)}
    # (2) over wpqa's own chunks (indexed with their title/heading context, as wpqa's BM25 is; judged on the text)
    from index.chunkstore import read_chunks
    from index.generation import current_name

    idx = Path(a.index_dir)
    wchunks = read_chunks(idx / current_name(idx) / "chunks.sqlite")
    found, lat, build_s = bm25_search([c.embed_text() for c in wchunks], qs)
    ctx = {it["id"]: [{"doc": wchunks[r].doc, "text": wchunks[r].text} for r in rows] for it, rows in zip(items, found)}
    result["wpqa_chunks"] = {"chunks": len(wchunks), "build_s": round(build_s, 3),
                             "latency_ms": {"retrieve": summary_ms(lat)}, **judged(items, ctx)}
    result["rss_mb"] = {"peak": round(peak_rss_mb(), 1)}
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("system", choices=["wpqa", "stock", "bm25"])
    ap.add_argument("--config", default="config.toml")
    ap.add_argument("--corpus", default="corpus")
    ap.add_argument("--index-dir")
    ap.add_argument("--backend", default="default")
    ap.add_argument("--translate", default="default")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    fn = {"wpqa": run_wpqa, "stock": run_stock, "bm25": run_bm25}[a.system]
    write_json(Path(a.out), fn(a))


if __name__ == "__main__":
    main()
