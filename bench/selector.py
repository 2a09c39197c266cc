"""Which sentences the answer rests on, measured alone: does the first pick hold the gold evidence?

    python -m bench.selector --records SET.records.jsonl --set SET.jsonl [--records ... --set ...] [--grid]

Retrieval is read from the answer records of a `wpqa eval --records` run (each context's chunk
and score, and the question's translation), so no model runs here and every variant sees the
same hits. Compared: the pick heuristics (`qa.lead.pick_sentences`) and the sentence selector
(`qa.select`) with each of its signals switched off; `--grid` adds a small grid over the
selector's settings. Use `--grid` on the tuning sets only: the test set reads a chosen setting,
never chooses it. Columns: `pick@1` the first pick holds gold evidence (its document, and a
gold evidence string inside it), `core@1` the part the model is asked about holds it, `alt@3`
one of the first pick and two alternatives holds it, `recall@1` the first pick holds half the
reference answer's content words (the `good` bar; counted where the pick is in the question's
language, so it is the body), `chars` the median size of the first pick.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
from pathlib import Path

from .common import ROOT, loadavg, write_json


def retrieved_from(record: dict, rows: dict[str, int], chunks: list):
    from qa.chain import Ask, Retrieved
    from qa.retrieve import Hit

    hits = [Hit(rows[c["chunk_id"]], chunks[rows[c["chunk_id"]]], float(c["score"]))
            for c in record.get("contexts") or [] if c["chunk_id"] in rows]
    return Retrieved(Ask(record["question"]), record.get("lang") or "en", record.get("translation"), hits)


def holds(text: str, doc: str, item: dict) -> bool:
    from wpqa.evaluate import is_hit

    return doc == item.get("doc") and is_hit(text, item.get("evidence") or [])


def score(pipe, retrieved: list, items: list[dict], variant) -> dict:
    from qa.select import cost
    from wpqa.evaluate import GOOD_RECALL, ref_recall

    n = at1 = core1 = alt3 = 0
    same = recall_ok = 0  # questions whose first pick is in their language: the pick is the body
    sizes: list[int] = []
    for it, r in zip(items, retrieved):
        if it["kind"] == "unanswerable" or not r.hits:
            continue
        n += 1
        g_ev, picks, alts = pipe.picks_for(r, variant)
        if not picks:
            continue
        doc = lambda p: next(e.doc for e in g_ev if e.n == p.n)  # noqa: E731
        first = picks[0]
        at1 += holds(first.text, doc(first), it)
        core1 += holds(first.asked, doc(first), it)
        alt3 += any(holds(p.text, doc(p), it) for p in [first, *alts[:2]])
        sizes.append(cost(first.text))
        if first.lang == it["lang"] and it.get("answer"):
            same += 1
            recall_ok += ref_recall(first.text, it["answer"], it["lang"]) >= GOOD_RECALL
    return {"n": n, "pick@1": round(at1 / max(1, n), 3), "core@1": round(core1 / max(1, n), 3),
            "alt@3": round(alt3 / max(1, n), 3), "chars": int(statistics.median(sizes)) if sizes else 0,
            "recall@1": round(recall_ok / max(1, same), 3), "same_lang": same}


def main(argv: list[str] | None = None) -> None:
    from wpqa.evaluate import load_eval_set
    from wpqa.wiring import Ctx

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", action="append", required=True, help="eval set (JSONL); repeat for more")
    ap.add_argument("--records", action="append", required=True, help="its `wpqa eval --records` file, same order")
    ap.add_argument("--config", default=str(ROOT / "config.toml"))
    ap.add_argument("--grid", action="store_true", help="also a grid over the selector settings (tuning sets only)")
    ap.add_argument("--out", default=None, help="write the results as JSON")
    a = ap.parse_args(argv)
    ctx = Ctx(Path(a.config), None, None)
    pipe = ctx.pipeline(backend="extractive")
    base = pipe.selector.cfg
    variants = {"pick heuristics": None, "selector": base,
                "selector, no e5": dataclasses.replace(base, dense=False),
                "selector, no IDF overlap": dataclasses.replace(base, lexical_weight=0.0)}
    if a.grid:
        for lw in (0.05, 0.2, 0.4):
            variants[f"lexical_weight={lw}"] = dataclasses.replace(base, lexical_weight=lw)
        for budget in (240, 420, 480):
            variants[f"window_chars={budget}"] = dataclasses.replace(base, budget=budget)
        for before, after, budget in ((0, 1, 360), (1, 2, 360), (0, 2, 360), (1, 1, 420), (0, 1, 420), (0, 2, 420)):
            variants[f"before={before},after={after},chars={budget}"] = dataclasses.replace(
                base, before=before, after=after, budget=budget)
    chunks = pipe.searcher.gen.chunks
    rows = {c.id: i for i, c in enumerate(chunks)}
    out = {"loadavg_start": loadavg(), "sets": {}}
    for set_path, rec_path in zip(a.set, a.records):
        items = load_eval_set(Path(set_path))
        recs = {r["id"]: r for r in map(json.loads, Path(rec_path).read_text(encoding="utf-8").splitlines()) if r}
        items = [it for it in items if it["id"] in recs]
        retrieved = [retrieved_from(recs[it["id"]], rows, chunks) for it in items]
        table = {name: score(pipe, retrieved, items, v) for name, v in variants.items()}
        out["sets"][Path(set_path).name] = table
        for name, row in table.items():
            print(f"{Path(set_path).name:18} {name:26} pick@1 {row['pick@1']:.3f}  core@1 {row['core@1']:.3f}  "
                  f"alt@3 {row['alt@3']:.3f}  recall@1 {row['recall@1']:.3f} (of {row['same_lang']})  chars {row['chars']}  "
                  f"(n={row['n']})", flush=True)
    out["loadavg_end"] = loadavg()
    if a.out:
        write_json(Path(a.out), out)


if __name__ == "__main__":
    sys.exit(main())
