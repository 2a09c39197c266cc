"""Abstention measured by parts, from answer records of a run that never abstains.

    wpqa --config bench/never_abstain.toml eval SET --records RUN.jsonl      (once per set)
    python -m bench.ablate --tune SET=RUN.jsonl [--tune ...] [--test SET=RUN.jsonl ...] [--out FILE]
                           [--before SET=RUN.jsonl ...] [--selector SELECTOR.json] [--report]

In a run that never abstains every question reaches the model, so each record holds the three
signals of the abstention decision (`decision`: retrieval, selector, said_none) and the answer
wpqa gives when it answers. Any abstention model can then be applied to the records exactly,
without running the model again. For each variant (all three signals; without the model's
choice; without the selector score; retrieval alone; never abstain) the weights are fitted by
logistic regression on the tuning sets only, then every set is scored with them: good,
answered, unanswerable abstained, gold section cited, bodies that copy their quote, median body
length over the reference's, each with a bootstrap 90% interval where it is a rate.
`--before`: records of an earlier version of wpqa on a set, scored as they are, for the table's
first rows. `--report` writes the tables (and, with `--selector`, the selector's from
`bench.selector --out`) into bench/REPORT.md, section 6.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

from .common import write_json

MARKERS = ("<!-- ablate:begin -->", "<!-- ablate:end -->")
VARIANTS = {  # name -> signals used (retrieval, selector, model's choice)
    "decision: retrieval + selector + model choice": (True, True, True),
    "without the model's choice": (True, True, False),
    "without the selector score": (True, False, True),
    "retrieval score alone": (True, False, False),
    "never abstain": None,
}


def read_run(spec: str) -> tuple[str, list[dict], dict[str, dict]]:
    from wpqa.evaluate import load_eval_set

    set_path, _, run_path = spec.partition("=")
    items = load_eval_set(Path(set_path))
    records = {}
    for line in Path(run_path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            records[str(r.get("id"))] = r
    missing = [it["id"] for it in items if it["id"] not in records]
    if missing:
        sys.exit(f"{run_path}: no record for {len(missing)} questions of {set_path} (first: {missing[0]})")
    return Path(set_path).name, items, records


def signals(record: dict):
    from qa.decide import Signals

    d = record.get("decision") or {}
    if "retrieval" not in d:
        return None  # abstained before the selector ran (no hit, a title the corpus lacks)
    return Signals(float(d["retrieval"]), float(d["selector"]), bool(d.get("said_none")))


def masked(s, use):
    from qa.decide import Signals

    r, sel, choice = use
    return Signals(s.retrieval if r else 0.0, s.selector if sel else 0.0, s.said_none if choice else False)


def fit(runs, use):
    from qa.decide import AbstentionModel

    rows = []
    for _, items, records in runs:
        for it in items:
            s = signals(records[it["id"]])
            if s is not None:
                rows.append((masked(s, use), it["kind"] != "unanswerable"))
    return AbstentionModel.fit(rows)


def applied(record: dict, model, use) -> dict:
    """The record as wpqa gives it under `model` (None: never abstain)."""
    from qa.answer import ABSTAIN_TEXT

    s = signals(record)
    if record.get("abstained") or s is None or model is None or model.answers(masked(s, use)):
        return record
    return {**record, "abstained": True, "citations": [], "answer": ABSTAIN_TEXT[record.get("lang") or "en"]}


def rate_ci(values: list[bool], n_boot: int = 2000, seed: int = 0) -> tuple[float, float, float] | None:
    vals = [1.0 if v else 0.0 for v in values if v is not None]
    if not vals:
        return None
    rng = random.Random(seed)
    means = sorted(sum(rng.choice(vals) for _ in vals) / len(vals) for _ in range(n_boot))
    return round(sum(vals) / len(vals), 3), round(means[int(0.05 * n_boot)], 3), round(means[int(0.95 * n_boot)], 3)


def score_run(items, records, model, use) -> dict:
    from wpqa.evaluate import score_question, summarise

    scores = []
    for it in items:
        rec = applied(records[it["id"]], model, use)
        scores.append(score_question(it, rec.get("contexts") or [], rec))
    ans = [s for s in scores if s.answerable]
    overall = summarise(scores)["overall"]
    return {"good": rate_ci([s.good for s in ans]), "answered": rate_ci([s.answered for s in ans]),
            "abstain_unanswerable": rate_ci([s.abstained for s in scores if not s.answerable]),
            "cite_section": rate_ci([s.cited_section for s in ans]),
            "copies_quote": overall["copies_quote"], "length_ratio": overall["length_ratio"]}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tune", action="append", required=True, help="SET=RECORDS of a tuning set (weights are fitted on these)")
    ap.add_argument("--test", action="append", default=[], help="SET=RECORDS of a set only scored")
    ap.add_argument("--before", action="append", default=[], help="SET=RECORDS of an earlier wpqa, scored as they are")
    ap.add_argument("--selector", default=None, help="results of bench.selector --out, for the report")
    ap.add_argument("--out", default=None)
    ap.add_argument("--report", action="store_true", help="write section 6 of bench/REPORT.md")
    a = ap.parse_args(argv)
    tune = [read_run(s) for s in a.tune]
    test = [read_run(s) for s in a.test]
    out = {"variants": {}, "before": {}}
    for spec in a.before:
        set_name, items, records = read_run(spec)
        out["before"][set_name] = score_run(items, records, None, (True, True, True)) | latency(records)
    for name, use in VARIANTS.items():
        model = fit(tune, use) if use is not None else None
        row = {"weights": None if model is None else [model.bias, model.w_retrieval, model.w_selector, model.w_none]}
        for label, runs in (("tuning", tune), ("test", test)):
            for set_name, items, records in runs:
                row[f"{label}:{set_name}"] = score_run(items, records, model, use or (True, True, True)) | latency(records)
        out["variants"][name] = row
        print(f"\n{name}  weights {row['weights']}")
        for key, r in row.items():
            if key == "weights":
                continue
            cells = "  ".join(f"{k} {v[0]:.3f} [{v[1]:.2f}, {v[2]:.2f}]" if isinstance(v, tuple) else f"{k} {v}"
                              for k, v in r.items())
            print(f"  {key:28} {cells}")
    if a.out:
        write_json(Path(a.out), out)
    if a.report:
        from .answers_report import write_section

        selector = json.loads(Path(a.selector).read_text(encoding="utf-8")) if a.selector else None
        write_section(report_lines(out, selector), markers=MARKERS)


def latency(records: dict[str, dict]) -> dict:
    lat = sorted(float((r.get("timings_ms") or {}).get("total") or 0) for r in records.values())
    if not lat:
        return {}
    return {"p50_s": round(lat[len(lat) // 2] / 1000, 1), "p95_s": round(lat[min(len(lat) - 1, int(0.95 * len(lat)))] / 1000, 1)}


def _cell(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, (tuple, list)):
        return f"{v[0]:.2f} [{v[1]:.2f}, {v[2]:.2f}]"
    return f"{v:.2f}" if isinstance(v, float) else str(v)


COLS = ("good", "answered", "abstain_unanswerable", "cite_section", "copies_quote", "length_ratio", "p50_s", "p95_s")


def report_lines(out: dict, selector: dict | None) -> list[str]:
    L = ["## 6. Answer layer: selector, abstention, ablation (`python -m bench.selector`, `python -m bench.ablate`)", ""]
    if selector:
        L += ["The selector alone (no answer model): share of answerable questions whose gold evidence is in the first",
              "window (@1), or among the first two or three (the model is shown the first `answer.choices`).", ""]
        for set_name, rows in selector.get("sets", {}).items():
            L += [f"**{set_name}**", "", "| selector variant | window@1 | @2 | @3 |", "|---|---:|---:|---:|"]
            L += [f"| {name} | {r['window@1']:.3f} | {r['window@2']:.3f} | {r['window@3']:.3f} |" for name, r in rows.items()]
            L.append("")
        L.append(f"Load average at start {selector.get('loadavg_start')}, at end {selector.get('loadavg_end')}.")
        L.append("")
    L += ["Answers, scored by `wpqa/evaluate.py` (rates with a bootstrap 90% interval). Each variant's abstention",
          "weights are fitted on the tuning sets only and applied unchanged to the test set; the answers come from",
          "one run per set that never abstains, so the variants differ only in when wpqa abstains.", "",
          "| variant | set | " + " | ".join(COLS) + " |", "|---|---|" + "---:|" * len(COLS)]
    for set_name, row in out.get("before", {}).items():
        L.append(f"| before (previous answer layer) | {set_name} | " + " | ".join(_cell(row.get(c)) for c in COLS) + " |")
    for name, row in out["variants"].items():
        for key, r in row.items():
            if key != "weights":
                L.append(f"| {name} | {key} | " + " | ".join(_cell(r.get(c)) for c in COLS) + " |")
    L += ["", "Weights (bias, retrieval, selector, model said none) per variant: " +
          "; ".join(f"{n}: {r['weights']}" for n, r in out["variants"].items() if r.get("weights")), ""]
    return L


if __name__ == "__main__":
    main()
