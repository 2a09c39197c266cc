"""What each answer component contributes, on the tuning sets and the test set side by side.

    python -m bench.ablate --run NAME SET RECORDS [--run ...] [--keep-above X] [--fit] [--report]

Each `--run` names one configuration and gives an eval set with the records of a
`wpqa eval --records` run of it. Runs are made with `answer.keep_above = 0` (the model's
NOT_FOUND never abstains; such records carry the flag `kept-for-retrieval-score`), so the
decision "abstain on the model's NOT_FOUND below this retrieval score" is applied here, exactly:
the answers do not depend on it. For every run the table gives good / answered / unanswerable
abstained / gold section / copies / length with the decision at `--keep-above` (default: the
configured `answer.keep_above`) and with the model's NOT_FOUND always abstaining ("no keep"),
each with a bootstrap 90% interval over questions (1000 resamples).

`--fit` chooses keep_above on the runs whose set is not eval/test.jsonl: the lowest retrieval
score at which no unanswerable question of the tuning sets is answered and the kept answers
are good at least half the time. The test set never chooses; it only reads the chosen value.
"""
from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from .common import BENCH, ROOT, loadavg, write_json

BEGIN, END = "<!-- ablate:begin -->", "<!-- ablate:end -->"
KEPT = "kept-for-retrieval-score"


def best_score(record: dict) -> float:
    ctx = record.get("contexts") or []
    return float(ctx[0]["score"]) if ctx else float("-inf")


def decided(record: dict, keep_above: float) -> dict:
    """The record as `answer.keep_above = keep_above` gives it: a kept answer below the bar
    becomes the abstention the model's NOT_FOUND asked for."""
    if KEPT not in (record.get("flags") or []) or best_score(record) >= keep_above:
        return record
    from qa.answer import ABSTAIN_TEXT

    lang = record.get("lang") or "en"
    return {**record, "abstained": True, "answer": ABSTAIN_TEXT.get(lang, ABSTAIN_TEXT["en"]), "citations": []}


def scores(items: list[dict], records: dict[str, dict], keep_above: float) -> list:
    from wpqa.evaluate import score_question

    out = []
    for it in items:
        r = records.get(it["id"])
        if r is not None:
            r = decided(r, keep_above)
        out.append(score_question(it, (r or {}).get("contexts") or [], r))
    return out


COLS = ("good", "answered", "abstain_unanswerable", "cite_section", "copies_quote", "length_ratio")
SPEED = ("p50_s", "p95_s")  # of the run's records: meaningful only for a run on a quiet machine


def table(qs: list) -> dict:
    from wpqa.evaluate import summarise

    row = summarise(qs)["overall"]
    return {c: row.get(c) for c in COLS}


def interval(qs: list, col: str, n: int = 1000, seed: int = 7) -> tuple[float, float] | None:
    """Bootstrap 90% interval of an overall column over questions."""
    from wpqa.evaluate import summarise

    rnd = random.Random(seed)
    vals = []
    for _ in range(n):
        sample = [rnd.choice(qs) for _ in qs]
        v = summarise(sample)["overall"].get(col)
        if v is not None:
            vals.append(v)
    if not vals:
        return None
    vals.sort()
    return vals[int(0.05 * (len(vals) - 1))], vals[int(0.95 * (len(vals) - 1))]


def fit_keep_above(runs: list[tuple[str, list[dict], dict[str, dict]]]) -> float:
    """The lowest bar at which no tuning unanswerable question is answered and the answers kept
    above it are good at least half the time (inf: keep nothing)."""
    from wpqa.evaluate import score_question

    kept = []  # (best score, answerable, good when kept)
    for _, items, recs in runs:
        for it in items:
            r = recs.get(it["id"])
            if r is None or KEPT not in (r.get("flags") or []):
                continue
            q = score_question(it, r.get("contexts") or [], r)
            kept.append((best_score(r), q.answerable, bool(q.good)))
    bar = max([s for s, answerable, _ in kept if not answerable], default=float("-inf"))
    above = sorted(k for k in kept if k[0] > bar)
    # raise the bar past kept answers until those left above it are good at least half the time
    while above and sum(g for _, _, g in above) < 0.5 * len(above):
        above.pop(0)
    if not above:
        return float("inf")
    return round(above[0][0] - 1e-3, 3) if above[0][0] - 1e-3 > bar else round(bar + 1e-3, 3)


def main(argv: list[str] | None = None) -> None:
    from wpqa.evaluate import load_eval_set
    from wpqa.settings import load_settings

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", nargs=3, action="append", required=True, metavar=("NAME", "SET", "RECORDS"))
    ap.add_argument("--keep-above", type=float, default=None)
    ap.add_argument("--fit", action="store_true", help="choose keep_above on the tuning runs")
    ap.add_argument("--report", action="store_true", help="write the table into bench/REPORT.md")
    ap.add_argument("--out", default=str(BENCH / "results" / "ablate.json"))
    a = ap.parse_args(argv)
    runs = []
    for name, set_path, rec_path in a.run:
        items = load_eval_set(Path(set_path))
        recs = {r["id"]: r for r in (json.loads(line) for line in Path(rec_path).read_text(encoding="utf-8").splitlines()
                                     if line.strip())}
        runs.append((name, Path(set_path), items, recs))
    test_name = "test.jsonl"
    keep = a.keep_above if a.keep_above is not None else load_settings(ROOT / "config.toml").answer.keep_above
    if a.fit:
        keep = fit_keep_above([(n, i, r) for n, p, i, r in runs if p.name != test_name])
        print(f"fitted keep_above = {keep}")
    out = {"loadavg": loadavg(), "keep_above": keep, "rows": []}
    lines = [f"keep_above = {keep}. Each cell: value [bootstrap 90% interval].", "",
             "| run | set | decision | " + " | ".join(COLS + SPEED) + " |", "|" + "---|" * (len(COLS) + len(SPEED) + 3)]
    for name, path, items, recs in runs:
        for label, bar in ((f"keep ≥ {keep}", keep), ("no keep", float("inf"))):
            qs = scores(items, recs, bar)
            row = table(qs)
            ci = {c: interval(qs, c) for c in ("good", "answered")}
            ms = sorted(float((r.get("timings_ms") or {}).get("total") or 0) for r in recs.values())
            row["p50_s"] = round(ms[len(ms) // 2] / 1000, 1) if ms else None
            row["p95_s"] = round(ms[int(0.95 * (len(ms) - 1))] / 1000, 1) if ms else None
            out["rows"].append({"run": name, "set": path.name, "decision": label, **row, "ci90": ci})
            cells = []
            for c in COLS:
                v = row[c]
                txt = "—" if v is None else f"{v:.2f}"
                if c in ci and ci[c]:
                    txt += f" [{ci[c][0]:.2f}, {ci[c][1]:.2f}]"
                cells.append(txt)
            cells += ["—" if row[c] is None else f"{row[c]:.1f} s" for c in SPEED]
            lines.append(f"| {name} | {path.name} | {label} | " + " | ".join(cells) + " |")
    print("\n".join(lines))
    write_json(Path(a.out), out)
    if a.report:
        from .report_fmt import write_marked

        write_marked(BENCH / "REPORT.md", BEGIN, END, ["## Answer components, ablated (bench/ablate.py)", "", *lines])


if __name__ == "__main__":
    main()
