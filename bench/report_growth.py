"""The growth part of bench/REPORT.md: when to switch from exact search to HNSW, and the plots
(used by bench.report)."""
from __future__ import annotations

import math
from pathlib import Path

from .common import ROOT
from .report_fmt import SYSTEMS, f2, g, ms


def current_index_settings():
    """[index] of the checkout's config.toml, which the recommendation is compared with."""
    from wpqa.settings import load_settings

    return load_settings(ROOT / "config.toml").index


def recommend(gr: dict, qe: dict | None = None) -> dict | None:
    """The switch point from the data. Exact search is linear in N; HNSW is nearly flat. Rule: switch
    where exact search alone (up to 3 dense searches per question: the question in its language, its
    translation, and the question across languages), extrapolated linearly from the largest measured
    size, would cost as much as the whole rest of a question's retrieval on the real index measured in
    the same run (extractive path, no translation: query embedding + BM25 + fusion), i.e. where it
    would double retrieval latency. Both sides are measured under the same machine load."""
    vec = gr.get("vec") or []
    e2e = gr.get("e2e") or []
    if not vec:
        return None
    cur = current_index_settings()
    above, ef_now = cur.hnsw_above, cur.hnsw_ef_search
    big = max(vec, key=lambda v: v["n"])
    n = big["n"]
    per_search_flat = big["flat_ms"]["p50"]
    per_search_hnsw = big["hnsw128_ms"]["p50"]
    slope = max(per_search_flat / n, 1e-12)  # ms per vector per search
    searches = 3
    budget = g(qe, "latency_ms", "retrieve", "p50") or 50.0
    n_switch = budget / (searches * slope)
    mag = 10 ** int(math.floor(math.log10(max(n_switch, 1))))
    value = int(round(n_switch / mag) * mag)
    rec128 = big["hnsw128_recall@10"]
    text = [
        f"At {n:,} random vectors one exact search costs {ms(per_search_flat)} (p50) and one HNSW search at efSearch 128 "
        f"{ms(per_search_hnsw)}, with recall@10 {rec128:.3f} (efSearch 64: {big['hnsw64_recall@10']:.3f}). Exact search is "
        f"linear in N (≈ {slope * 1e5:.1f} ms per search per 100k vectors in this run); a question makes up to {searches} "
        f"dense searches (question, translation, and the question across languages), so at the current "
        f"`hnsw_above = {above:,}` exact search would add up to ≈ {ms(searches * slope * above)} per question, and at 1M "
        f"chunks in one language ≈ {ms(searches * slope * 1e6)}.",
    ]
    if e2e:
        b = max(e2e, key=lambda v: v["n"])
        text.append(
            f"In wpqa's whole retrieval at {b['n']:,} chunks the gain is smaller than the raw numbers suggest: "
            f"p50 {ms(b['search_flat_ms']['p50'])} with flat vs {ms(b['search_hnsw_ms']['p50'])} with HNSW, because "
            f"BM25 ({ms(b['bm25_ms']['p50'])} per list), fusion and the candidates' token counts cost the same either way "
            f"(one dense call, FAISS search plus the z-score statistics from the partition's mean vector and covariance, "
            f"computed once in {f2(b.get('partition_stats_s'), 2)} s when the index is loaded: "
            f"{ms(b['dense_call_flat_ms']['p50'])} flat vs {ms(b['dense_call_hnsw_ms']['p50'])} HNSW). "
            f"On the real-embeddings-plus-noise vectors HNSW (efSearch 128) finds {g(b, 'source_recall@10', 'hnsw128', default=0):.3f} "
            f"of the exact top-10's source chunks, and the dev set's hit@5 on these results is "
            f"{f2(g(b, 'search_flat_quality', 'hit@5'))} flat vs {f2(g(b, 'search_hnsw_quality', 'hit@5'))} HNSW. HNSW also "
            f"costs memory (its own copy of the vectors plus the graph, on top of `vectors.npy`, which wpqa keeps in RAM "
            f"as well) and {f2(b['hnsw_build_s'], 0)} s of build time at {b['n']:,} chunks, paid again on every "
            f"incremental `wpqa index` (a generation is rebuilt whole).")
    text.append(
        f"**Recommendation: `hnsw_above = {value:,}`.** Rule: switch where exact search alone would cost as much as "
        f"the rest of a question's retrieval (p50 {ms(budget)} on the real index in this run, extractive path), i.e. "
        f"would double retrieval latency: {ms(budget)} / ({searches} searches × {slope * 1e3:.4f} ms per 1k vectors) "
        f"≈ {n_switch:,.0f} chunks. Below that exact search is fast enough, exact, smaller and cheaper to rebuild. "
        f"(With translation on, retrieval is dominated by the LLM translation, so exact search stays negligible far "
        f"longer. Each language is its own FAISS index, and `auto` compares the largest language partition with "
        f"`hnsw_above`; at most 2 of the 3 searches hit the same partition, so the rule is conservative.) "
        + (f"`config.toml` has `hnsw_above = {above:,}`, as recommended." if value == above else
           f"`config.toml` has `hnsw_above = {above:,}`: set it to {value:,}."))
    efs = [ef for ef in (64, 128, 256, 512) if f"hnsw{ef}_recall@10" in big]
    ok_rand = next((ef for ef in efs if big[f"hnsw{ef}_recall@10"] >= 0.9), None)
    line = (f"But HNSW as wpqa builds it (M=32, efConstruction 80) loses recall as it grows: at efSearch 128, "
            f"recall@10 {rec128:.3f} on {n:,} random vectors")
    if e2e:
        b = max(e2e, key=lambda v: v["n"])
        src = b.get("source_recall@10") or {}
        ok_src = next((ef for ef in (64, 128, 256, 512) if (src.get(f"hnsw{ef}") or 0) >= 0.95), None)
        line += f", {src.get('hnsw128', 0):.3f} of the source chunks on {b['n']:,} real-like vectors"
    line += ". "
    if ok_rand:
        line += (f"efSearch {ok_rand} reaches ≥ 0.9 on random vectors at {ms(big[f'hnsw{ok_rand}_ms']['p50'])} per search, "
                 f"still far below exact search. ")
    elif efs:
        line += (f"Even efSearch {efs[-1]} only reaches {big[f'hnsw{efs[-1]}_recall@10']:.3f} on random vectors "
                 f"({ms(big[f'hnsw{efs[-1]}_ms']['p50'])} per search). ")
    if e2e and ok_src:
        line += (f"On real-like vectors efSearch {ok_src} finds ≥ 0.95 of the source chunks "
                 f"({ms(g(b, f'hnsw{ok_src}_zh_ms', 'p50'))} per search). ")
    line += (f"The search breadth is `index.hnsw_ef_search` in `config.toml` (now {ef_now}); it applies when an index "
             f"is loaded, without a rebuild. The dev-set hit@5 did not move between flat and HNSW at these sizes, but "
             f"exact-vs-approximate recall did.")
    text.append(line)
    return {"value": value, "text": text, "n_switch": n_switch}


def plots(results: Path, q: dict, gr: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # quality bars
    present = [(k, lab) for k, lab in SYSTEMS if q.get(k)]
    if present:
        fig, ax = plt.subplots(figsize=(9, 4.2))
        groups = ["overall", "cross-lingual"]
        width = 0.8 / len(present)
        for i, (k, lab) in enumerate(present):
            vals = [g(q[k], "table", grp, "hit@5", default=0) for grp in groups]
            xs = [j + i * width for j in range(len(groups))]
            ax.bar(xs, vals, width, label=lab)
            for x, v in zip(xs, vals):
                ax.text(x, v + 0.01, f"{v:.2f}", ha="center", va="bottom", fontsize=8)
        ax.set_xticks([j + width * (len(present) - 1) / 2 for j in range(len(groups))])
        n_all = g(q[present[0][0]], "table", "overall", "n")
        n_x = g(q[present[0][0]], "table", "cross-lingual", "n")
        ax.set_xticklabels([f"overall (n={n_all})", f"cross-lingual en-zh + zh-en (n={n_x})"])
        ax.set_ylabel("hit@5")
        ax.set_ylim(0, 1.1)
        ax.set_title("Retrieval hit@5 on the dev set")
        ax.legend(fontsize=7, loc="upper right")
        fig.tight_layout()
        fig.savefig(results / "quality.png", dpi=110)
        plt.close(fig)

    vec, e2e = gr.get("vec") or [], gr.get("e2e") or []
    if vec or e2e:
        fig, ax = plt.subplots(figsize=(8, 4.8))
        if vec:
            ns = [v["n"] for v in vec]
            ax.plot(ns, [v["flat_ms"]["p50"] for v in vec], "o-", label="FAISS flat (exact), random vectors")
            ax.plot(ns, [v["hnsw64_ms"]["p50"] for v in vec], "s--", label="HNSW efSearch 64, random vectors")
            ax.plot(ns, [v["hnsw128_ms"]["p50"] for v in vec], "s-", label="HNSW efSearch 128, random vectors")
        if e2e:
            ns = [v["n"] for v in e2e]
            ax.plot(ns, [v["bm25_ms"]["p50"] for v in e2e], "^-", label="BM25 list (bm25s, jieba)")
            ax.plot(ns, [v["search_flat_ms"]["p50"] for v in e2e], "D-", label="wpqa HybridSearcher.search, flat")
            ax.plot(ns, [v["search_hnsw_ms"]["p50"] for v in e2e], "D--", label="wpqa HybridSearcher.search, HNSW")
        _save_growth_plot(plt, fig, ax, "p50 latency per query (ms)",
                          "Retrieval latency vs index size (1 query at a time, 2 cores)", results / "growth_latency.png")

        fig, ax = plt.subplots(figsize=(8, 4.8))
        if vec:
            ns = [v["n"] for v in vec]
            ax.plot(ns, [v["flat_bytes"] / 1e6 for v in vec], "o-", label="FAISS flat (index size)")
            ax.plot(ns, [v["hnsw_bytes"] / 1e6 for v in vec], "s-", label="FAISS HNSW M=32 (index size)")
        if e2e:
            ns = [v["n"] for v in e2e]
            ax.plot(ns, [v["bm25_bytes"] / 1e6 for v in e2e], "^-", label="BM25 (bm25s arrays)")
            ax.plot(ns, [max(v["rss_mb"]["chunks"], 0.1) for v in e2e], "v-", label="wpqa chunk objects (RSS growth)")
            ax.plot(ns, [g(v, "process", "peak_rss_mb", default=0) for v in e2e], "k.-",
                    label="whole process peak RSS (wpqa search, flat + HNSW)")
        _save_growth_plot(plt, fig, ax, "MB", "Memory vs index size", results / "growth_memory.png")


def _save_growth_plot(plt, fig, ax, ylabel: str, title: str, path: Path) -> None:
    """Log-log axes over the chunk count, labels, legend; write the PNG."""
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("chunks")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
