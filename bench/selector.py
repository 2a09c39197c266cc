"""The sentence selector measured alone: does a window it ranks first (or among the first three
shown to the model) hold the gold evidence? No answer model beyond the question translation.

    python -m bench.selector --set eval/questions.jsonl [--set ...] [--grid] [--out FILE]

Each set is retrieved once (question translation by the bundled model, as `wpqa ask` does);
then every selector variant runs over the same hits: the configured selector, each signal
switched off (`no-dense`, `no-lexical`), and with `--grid` a small grid over the lexical
weight, the window budget and the passages read. Use `--grid` on the tuning sets only: the test set is for reading
the chosen setting, never for choosing it.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

from .common import ROOT, loadavg, write_json


def window_hit(window, item: dict) -> bool:
    from wpqa.evaluate import is_hit

    return window.doc == item.get("doc") and is_hit(window.text, item.get("evidence") or [])


def score(pipe, retrieved: list, items: list[dict], cfg) -> dict:
    """window@1, @2, @3 over the answerable items: a window among the first k holds gold evidence."""
    pipe.selector.cfg = cfg
    at = [0, 0, 0]
    n = 0
    for it, r in zip(items, retrieved):
        if it["kind"] == "unanswerable":
            continue
        n += 1
        ws = pipe.select(r)
        first = next((i for i, w in enumerate(ws[:3]) if window_hit(w, it)), None)
        for k in range(3):
            at[k] += first is not None and first <= k
    return {"n": n, **{f"window@{k + 1}": round(at[k] / max(1, n), 3) for k in range(3)}}


def cached_retrieve(pipe, question: str, cache: dict):
    """The pipeline's retrieval of `question`, from `cache` when it holds it (rows and scores of the
    hits, the language and translation), else run and kept there."""
    from qa.chain import Ask, Retrieved
    from qa.retrieve import Hit

    got = cache.get(question)
    if got is None:
        r = pipe._retrieve(Ask(question))
        cache[question] = {"lang": r.lang, "translation": r.translation,
                           "hits": [[h.row, h.chunk.id, h.score] for h in r.hits]}
        return r
    chunks = pipe.searcher.gen.chunks
    hits = [Hit(row, chunks[row], score) for row, cid, score in got["hits"] if chunks[row].id == cid]
    return Retrieved(Ask(question), got["lang"], got["translation"], hits)


def main(argv: list[str] | None = None) -> None:
    from wpqa.evaluate import load_eval_set
    from wpqa.wiring import Ctx

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", action="append", required=True, help="eval set (JSONL); repeat for more")
    ap.add_argument("--config", default=str(ROOT / "config.toml"))
    ap.add_argument("--corpus", default=None)
    ap.add_argument("--index-dir", default=None)
    ap.add_argument("--grid", action="store_true", help="also a grid over the weights (tuning sets only)")
    ap.add_argument("--out", default=None, help="write the results as JSON")
    ap.add_argument("--cache", default=None, help="JSON file keeping each set's retrieval (translation, hits) "
                                                  "between runs over the same index")
    a = ap.parse_args(argv)
    ctx = Ctx(Path(a.config), Path(a.corpus) if a.corpus else None, Path(a.index_dir) if a.index_dir else None)
    pipe = ctx.pipeline()
    base = pipe.selector.cfg
    variants = {"selector": base,
                "no-dense": dataclasses.replace(base, dense=False),
                "no-lexical": dataclasses.replace(base, lexical_weight=0.0)}
    if a.grid:
        for lw in (0.0, 0.05, 0.1, 0.2, 0.4):
            variants[f"lex={lw}"] = dataclasses.replace(base, lexical_weight=lw)
        for budget in (160, 240, 360, 480):
            variants[f"budget={budget}"] = dataclasses.replace(base, budget=budget)
        for passages in (2, 3, 4):
            variants[f"passages={passages}"] = dataclasses.replace(base, passages=passages)
    cache = json.loads(Path(a.cache).read_text(encoding="utf-8")) if a.cache and Path(a.cache).exists() else {}
    out = {"loadavg_start": loadavg(), "sets": {}}
    for path in a.set:
        items = load_eval_set(Path(path))
        t = time.perf_counter()
        retrieved = [cached_retrieve(pipe, it["question"], cache) for it in items]
        print(f"{path}: retrieved {len(items)} in {time.perf_counter() - t:.0f} s", file=sys.stderr)
        if a.cache:
            Path(a.cache).write_text(json.dumps(cache, ensure_ascii=False), encoding="utf-8")
        rows = {name: score(pipe, retrieved, items, cfg) for name, cfg in variants.items()}
        out["sets"][Path(path).name] = rows
        for name, row in rows.items():
            print(f"{Path(path).name:18} {name:26} window@1 {row['window@1']:.3f}  @2 {row['window@2']:.3f}  "
                  f"@3 {row['window@3']:.3f}  (n={row['n']})", flush=True)
    pipe.selector.cfg = base
    out["loadavg_end"] = loadavg()
    if a.out:
        write_json(Path(a.out), out)


if __name__ == "__main__":
    main()
