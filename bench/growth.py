"""Growth: retrieval latency and memory at 1k, 10k, 100k chunks (one process per measurement).

    python -m bench.growth prep --config C --index-dir I --work W
        base vectors (the real chunk embeddings) and the dev questions' e5 query vectors
    python -m bench.growth vec --n N --out F
        random unit vectors (384-d float32): exact FAISS IndexFlatIP vs IndexHNSWFlat (M=32,
        efConstruction=80 as wpqa builds it, efSearch 64 and 128); build time, single-query
        latency (k=40, wpqa's candidate count), recall@10 of HNSW against exact, memory
    python -m bench.growth e2e --n N --work W --out F
        wpqa's own HybridSearcher over a synthetic generation of N chunks: the real chunks repeated
        (real jieba BM25 on their text), vectors = real chunk embedding + Gaussian noise
        (sigma 0.5, renormalised), languages as in the corpus; flat vs HNSW built by
        index.vectors.FaissVectors; questions = the dev questions' real e5 vectors
"""
from __future__ import annotations

import argparse
import gc
import json
import time
from pathlib import Path

import index  # noqa: F401  - sets OMP_WAIT_POLICY=PASSIVE before faiss loads, as wpqa does
import numpy as np

from .common import load_dev, peak_rss_mb, rss_mb, summary_ms, write_json

DIM = 384
K_CAND = 40  # wpqa's retrieval.candidates
SIGMA = 0.5


def unit(x: np.ndarray) -> np.ndarray:
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def prep(a) -> None:
    from wpqa.cli import Ctx
    from index.generation import current_name

    ctx = Ctx(Path(a.config), None, Path(a.index_dir))
    gen_dir = Path(a.index_dir) / current_name(Path(a.index_dir))
    w = Path(a.work)
    w.mkdir(parents=True, exist_ok=True)
    np.save(w / "base_vecs.npy", np.load(gen_dir / "vectors.npy"))
    items = load_dev()
    qv = ctx.embeddings().queries([it["question"] for it in items])
    np.save(w / "query_vecs.npy", qv)
    (w / "questions.json").write_text(json.dumps([it["question"] for it in items], ensure_ascii=False))
    (w / "gen_dir").write_text(str(gen_dir))


def timed_queries(fn, queries, repeat: int = 1) -> list[float]:
    lat = []
    for _ in range(repeat):
        for q in queries:
            t = time.perf_counter()
            fn(q)
            lat.append((time.perf_counter() - t) * 1000)
    return lat


def recall_at_10(approx: np.ndarray, exact: np.ndarray) -> float:
    hits = sum(len(set(a[:10].tolist()) & set(e[:10].tolist())) for a, e in zip(approx, exact))
    return round(hits / (10 * len(exact)), 4)


def vec(a) -> None:
    import faiss

    n, rng = a.n, np.random.default_rng(a.seed)
    x = unit(rng.standard_normal((n, DIM), dtype=np.float32))
    q = unit(rng.standard_normal((a.queries, DIM), dtype=np.float32))
    out = {"n": n, "dim": DIM, "data": "random unit vectors", "queries": a.queries, "k": K_CAND,
           "faiss_threads": faiss.omp_get_max_threads()}
    gc.collect()
    r0 = rss_mb()
    flat = faiss.IndexFlatIP(DIM)
    t = time.perf_counter()
    flat.add(x)
    out["flat_build_s"] = round(time.perf_counter() - t, 4)
    out["flat_rss_mb"] = round(rss_mb() - r0, 1)
    out["flat_bytes"] = n * DIM * 4
    search = flat.search
    timed_queries(lambda v: search(v[None], K_CAND), q[:10])  # warm
    out["flat_ms"] = summary_ms(timed_queries(lambda v: search(v[None], K_CAND), q))
    _, exact = search(q, 10)
    flat = search = None  # frees the index before the HNSW one is measured (the lambdas above read `search`)
    gc.collect()
    r1 = rss_mb()
    h = faiss.IndexHNSWFlat(DIM, 32, faiss.METRIC_INNER_PRODUCT)
    h.hnsw.efConstruction = 80
    t = time.perf_counter()
    h.add(x)
    out["hnsw_build_s"] = round(time.perf_counter() - t, 3)
    out["hnsw_rss_mb"] = round(rss_mb() - r1, 1)
    out["hnsw_bytes"] = int(faiss.serialize_index(h).nbytes)
    for ef in (64, 128, 256, 512):
        h.hnsw.efSearch = ef
        timed_queries(lambda v: h.search(v[None], K_CAND), q[:10])
        out[f"hnsw{ef}_ms"] = summary_ms(timed_queries(lambda v: h.search(v[None], K_CAND), q))
        _, approx = h.search(q, K_CAND)
        out[f"hnsw{ef}_recall@10"] = recall_at_10(approx, exact)
    out["peak_rss_mb_inproc"] = round(peak_rss_mb(), 1)
    write_json(Path(a.out), out)


class StubEmbeddings:
    """The dev questions' real e5 query vectors, looked up by question (no model in this process)."""

    def __init__(self, questions: list[str], vecs: np.ndarray):
        self.table = {q: v for q, v in zip(questions, vecs)}
        self.dim = vecs.shape[1]

    def queries(self, texts: list[str]) -> np.ndarray:
        return np.stack([self.table[t] for t in texts]).astype(np.float32)


def e2e(a) -> None:
    import bm25s

    from index.lexical import LexicalIndex
    from index.chunkstore import read_chunks
    from index.generation import Generation
    from index.faiss_vectors import FaissVectors
    from ingest.text import LANGS
    from ingest.model import Chunk
    from ingest.text import detect_lang, tokenize
    from qa.retrieve import FusionParams, HybridSearcher

    w = Path(a.work)
    gen_dir = Path((w / "gen_dir").read_text())
    src = read_chunks(gen_dir / "chunks.sqlite")
    base = np.load(w / "base_vecs.npy")
    qvecs = np.load(w / "query_vecs.npy")
    questions = json.loads((w / "questions.json").read_text())
    items = load_dev()
    assert [it["question"] for it in items] == questions
    tokenize("预热")
    n, m = a.n, len(src)
    out = {"n": n, "source_chunks": m, "sigma": SIGMA, "questions": len(questions)}
    gc.collect()
    mem = {"start": rss_mb()}

    t = time.perf_counter()
    chunks = []
    for i in range(n):
        c = src[i % m]
        chunks.append(Chunk(id=f"{c.id}-r{i}", doc=c.doc, doc_sha256=c.doc_sha256, ordinal=i, section_id=c.section_id,
                            section_path=list(c.section_path), page=c.page, page_end=c.page_end, lang=c.lang,
                            start=c.start, end=c.end, text=(c.text + " ")[:-1], context=(c.context + " ")[:-1]))
    out["chunks_s"] = round(time.perf_counter() - t, 3)
    mem["chunks"] = rss_mb()

    rng = np.random.default_rng(a.seed)
    src_idx = np.arange(n) % m
    vectors = base[src_idx] + (SIGMA / np.sqrt(DIM)) * rng.standard_normal((n, DIM), dtype=np.float32)
    vectors = unit(vectors.astype(np.float32))
    mem["vectors"] = rss_mb()

    langs = [c.lang for c in chunks]
    toks = [tokenize(c.embed_text(), stopwords=True) or ["<empty>"] for c in src]
    t = time.perf_counter()
    models, rows = {}, {}
    for lang in LANGS:
        sel = np.asarray([i for i, lg in enumerate(langs) if lg == lang], dtype=np.int64)
        rows[lang] = sel
        if len(sel):
            bm = bm25s.BM25(k1=1.2, b=0.75)
            bm.index([toks[i % m] for i in sel.tolist()], show_progress=False)
            models[lang] = bm
        else:
            models[lang] = None
    lexical = LexicalIndex(models, rows)
    out["bm25_build_s"] = round(time.perf_counter() - t, 3)
    out["bm25_bytes"] = int(sum(arr.nbytes for bm in models.values() if bm is not None
                                for arr in bm.scores.values() if hasattr(arr, "nbytes")))
    gc.collect()
    mem["bm25"] = rss_mb()

    t = time.perf_counter()
    flat = FaissVectors.build(vectors, langs, kind="flat")
    out["flat_build_s"] = round(time.perf_counter() - t, 3)
    mem["flat"] = rss_mb()
    t = time.perf_counter()
    hnsw = FaissVectors.build(vectors, langs, kind="hnsw")  # M=32, efConstruction=80, efSearch=128: wpqa's
    out["hnsw_build_s"] = round(time.perf_counter() - t, 3)
    mem["hnsw"] = rss_mb()
    import faiss
    out["hnsw_bytes"] = int(sum(faiss.serialize_index(ix).nbytes for ix in hnsw.indexes.values()))
    out["flat_bytes"] = int(vectors.nbytes)
    out["vectors_npy_bytes"] = int(vectors.nbytes)
    out["rss_mb_steps"] = {k: round(v, 1) for k, v in mem.items()}
    out["rss_mb"] = {"chunks": round(mem["chunks"] - mem["start"], 1), "vectors": round(mem["vectors"] - mem["chunks"], 1),
                     "bm25": round(mem["bm25"] - mem["vectors"], 1), "flat": round(mem["flat"] - mem["bm25"], 1),
                     "hnsw": round(mem["hnsw"] - mem["flat"], 1)}

    qlang = [detect_lang(q) for q in questions]
    # raw lexical latency: one BM25 list (the question's language), wpqa's LexicalIndex.search
    lex_lat = timed_queries(lambda i: lexical.search(questions[i], qlang[i], K_CAND), range(len(questions)), 2)
    out["bm25_ms"] = summary_ms(lex_lat[len(questions):])

    # raw FAISS per language partition, and HNSW recall@10 against exact on the real+noise data
    for kind, fv in (("flat", flat), ("hnsw", hnsw)):
        for ef in ((None,) if kind == "flat" else (64, 128, 256, 512)):
            if ef:
                for ix in fv.indexes.values():
                    ix.hnsw.efSearch = ef
            name = kind if not ef else f"hnsw{ef}"
            lat = timed_queries(lambda i: fv.search(qvecs[i], "zh", K_CAND), range(len(questions)), 3)
            out[f"{name}_zh_ms"] = summary_ms(lat[len(questions):])
    rec, rec_src = {}, {}
    for ef in (64, 128, 256, 512):
        got, want = [], []
        for ix in hnsw.indexes.values():
            ix.hnsw.efSearch = ef
        for lang in LANGS:
            if flat.count(lang) == 0:
                continue
            _, e = flat.indexes[lang].search(qvecs, 10)
            _, h = hnsw.indexes[lang].search(qvecs, K_CAND)
            want.extend(flat.rows[lang][e])
            got.extend(hnsw.rows[lang][h[:, :10]])
        rec[f"hnsw{ef}"] = recall_at_10(np.asarray(got), np.asarray(want))
        # copies of one real chunk are interchangeable: did HNSW find the same *source* chunks?
        rec_src[f"hnsw{ef}"] = round(float(np.mean([len(set((g_ % m).tolist()) & set((w_ % m).tolist()))
                                                    / len(set((w_ % m).tolist())) for g_, w_ in zip(got, want)])), 4)
    out["recall@10"] = rec
    out["source_recall@10"] = rec_src
    for ix in hnsw.indexes.values():
        ix.hnsw.efSearch = 128  # what wpqa loads an HNSW generation with

    # wpqa's whole retrieval (no translation, query vectors precomputed): flat vs HNSW
    stub = StubEmbeddings(questions, qvecs)
    tops = {}
    ntok: dict = {}  # the searchers' token-count cache, shared so the HNSW pass starts as warm as the flat one
    stats: dict = {}  # the per-language mean/covariance for z-scores: computed once per loaded index
    for kind, fv in (("flat", flat), ("hnsw", hnsw)):
        gen = Generation(Path(a.work), {}, chunks, vectors, fv, lexical)
        s = HybridSearcher(gen, stub, None, FusionParams(candidates=K_CAND))
        if hasattr(s, "_ntok"):
            s._ntok = ntok
        if hasattr(s, "partition_stats"):
            if not stats:
                t = time.perf_counter()
                for lang in LANGS:
                    s.partition_stats(lang)
                out["partition_stats_s"] = round(time.perf_counter() - t, 3)
                stats = s._stats
            s._stats = stats
        t = time.perf_counter()
        for q in questions:  # first pass fills the searcher's token-count cache for the candidates
            s.search(q, k=10)
        out[f"search_{kind}_first_pass_s"] = round(time.perf_counter() - t, 3)
        lat, search_only, top = [], [], []
        for _ in range(2):
            for q in questions:
                r = s.search(q, k=10)
                lat.append(r.timings_ms["total"])
                search_only.append(r.timings_ms["search"])
                top.append([h.row for h in r.hits])
        out[f"search_{kind}_ms"] = summary_ms(lat)
        # the dev set judged on these results (a repeated chunk has its source's text and document)
        from .common import judged
        ctx = {it["id"]: [{"doc": chunks[r].doc, "text": chunks[r].text} for r in rows_]
               for it, rows_ in zip(items, top[:len(questions)])}
        out[f"search_{kind}_quality"] = judged(items, ctx)["table"].get("overall")
        dense_lat = timed_queries(lambda i: s._dense(qvecs[i], "zh"), range(len(questions)), 2)
        out[f"dense_call_{kind}_ms"] = summary_ms(dense_lat)
        tops[kind] = top
    out["search_overlap@10_hnsw_vs_flat"] = round(
        sum(len(set(a_) & set(b_)) for a_, b_ in zip(tops["hnsw"], tops["flat"])) / max(1, sum(len(b_) for b_ in tops["flat"])), 4)
    out["peak_rss_mb_inproc"] = round(peak_rss_mb(), 1)
    write_json(Path(a.out), out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("step", choices=["prep", "vec", "e2e"])
    ap.add_argument("--config")
    ap.add_argument("--index-dir")
    ap.add_argument("--work")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out")
    a = ap.parse_args()
    {"prep": prep, "vec": vec, "e2e": e2e}[a.step](a)


if __name__ == "__main__":
    main()
