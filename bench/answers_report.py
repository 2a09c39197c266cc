"""The "Answers" section of bench/REPORT.md, rendered from bench/results/answers.json.

`bench.answers` writes the section after every step (between the two markers below); `bench.report`
keeps it when it re-renders the rest of the report.
"""
from __future__ import annotations

from pathlib import Path

from .common import BENCH
from .report_fmt import marked, write_marked

BEGIN, END = "<!-- answers:begin -->", "<!-- answers:end -->"
COLS = ["answered", "good", "ref_recall", "pure", "clean", "cite_doc", "cite_section", "hit@5"]


def _f(v, nd: int = 2) -> str:
    return "—" if v is None else (f"{v:.{nd}f}" if isinstance(v, float) else str(v))


def _s(ms) -> str:
    return "—" if ms is None else f"{ms / 1000:.1f} s"


def _end(step: dict) -> str:
    if step.get("stopped"):
        return f" (stopped {step['stopped']})"
    return "" if step["ok"] else " (FAILED)"


def _g(d, *keys):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def section(data: dict) -> list[str]:
    run, steps = data.get("run", {}), data.get("steps", {})
    w = ["## 5. Answers (`python -m bench.answers`)", ""]
    w.append(f"Eval set `{run.get('eval_set')}` ({run.get('questions')} questions), default configuration, bundled model, "
             f"{_g(run, 'machine', 'nproc')} cores. Steps (each its own process): "
             + "; ".join(f"{k} at {v['at']} in {v['seconds']:.0f} s, load average {v['loadavg_start'][0]} → "
                         f"{v['loadavg_end'][0]}{_end(v)}" for k, v in steps.items()) + ".")
    busy = [k for k, v in steps.items() if max(v["loadavg_start"][0], v["loadavg_end"][0]) > 1.5 * (_g(run, "machine", "nproc") or 2)]
    if busy:
        w.append(f"**Not representative: the machine was busy** (load average above 1.5× the cores during {', '.join(busy)}): "
                 "the timings below measure contention, not wpqa; rerun on a quiet machine.")
    w.append("Answer text is scored by `wpqa/evaluate.py` (the scorer of `wpqa eval`; rules in its docstring) against "
             "each question's reference answer; `good` = answered, one language, no debris, ≥ half the reference's "
             "content words; an abstention on an answerable question is not good.")
    w.append("")
    wp = data.get("wpqa")
    if wp:
        if wp.get("partial"):
            w.append(f"*The wpqa step was stopped early: {len(wp['records'])} questions answered.*\n")
        w += [f"**wpqa answers** ({wp.get('system')}), {len(wp['records'])} questions, per kind over answerable ones:", "",
              "| kind | n | " + " | ".join(COLS) + " |", "|---" * (len(COLS) + 2) + "|"]
        for kind, row in wp["table"].items():
            w.append(f"| {kind} | {row.get('answerable')} | " + " | ".join(_f(row.get(c)) for c in COLS) + " |")
        un = _g(wp, "table", "unanswerable")
        if un:
            w.append(f"\nUnanswerable questions abstained on: {_f(un.get('abstain_unanswerable'))} of {un.get('n')}.")
        lat, sc = wp["latency_ms"], data.get("screen") or {}
        w += ["", "| timing (warm unless said) | p50 | p95 | n | target (issue 13) |", "|---|---|---|---|---|",
              f"| whole answer, translation included | {_s(_g(lat, 'answer', 'p50'))} | {_s(_g(lat, 'answer', 'p95'))} | "
              f"{_g(lat, 'answer', 'n')} | ≤ 8 s / ≤ 12 s |",
              f"| first checked quote | {_s(_g(lat, 'first_quote', 'p50'))} | {_s(_g(lat, 'first_quote', 'p95'))} | "
              f"{_g(lat, 'first_quote', 'n')} | ≤ 4 s |",
              f"| … where the question was translated | {_s(_g(lat, 'first_quote_translated', 'p50'))} | "
              f"{_s(_g(lat, 'first_quote_translated', 'p95'))} | {_g(lat, 'first_quote_translated', 'n')} | ≤ 4 s |",
              f"| … where it was not | {_s(_g(lat, 'first_quote_untranslated', 'p50'))} | "
              f"{_s(_g(lat, 'first_quote_untranslated', 'p95'))} | {_g(lat, 'first_quote_untranslated', 'n')} | ≤ 1 s |",
              f"| first answer text (a drafted piece, else the checked answer) | {_s(_g(lat, 'first_answer', 'p50'))} | "
              f"{_s(_g(lat, 'first_answer', 'p95'))} | {_g(lat, 'first_answer', 'n')} | ≤ 5 s |",
              f"| question translation | {_s(_g(lat, 'translate', 'p50'))} | {_s(_g(lat, 'translate', 'p95'))} | "
              f"{_g(lat, 'translate', 'n')} | |"]
        if sc.get("runs"):
            p50 = _g(sc, "first_text_s", "p50")
            w.append(f"| something on screen, cold `wpqa ask` process in a terminal | "
                     f"{'—' if p50 is None else f'{p50:.2f} s'} | | {len(sc['runs'])} | ≤ 0.5 s |")
            w += ["", "First text each cold `wpqa ask` showed: " + "; ".join(
                f"{r['first_text_s']} s `{r['first_text']}` (first quote {r['first_quote_s']} s, exit {r['exit_s']} s)"
                for r in sc["runs"]) + "."]
        if not wp.get("streaming"):
            w.append("\n(The pipeline had no `stream()`: the first quote is timed when the record is complete.)")
        w.append("")
    tok = data.get("tokens")
    if tok:
        w += [f"**Bundled model speed** (`bench/tokens.py`: the same {tok[0]['prompt_tokens']}-token answer prompt, "
              f"{tok[0]['new_tokens']} tokens generated greedily, {tok[0]['threads']} threads, median of "
              f"{len(tok[0]['runs'])} after a warm-up; one process per row, `OMP_WAIT_POLICY` set before it starts):", "",
              "| llama-cpp-python build | OMP_WAIT_POLICY | OpenMP runtime loaded | prompt tokens/s | generation tokens/s "
              "| load average (start → end) |", "|---|---|---|---|---|---|"]
        for r in tok:
            w.append(f"| {r['build']} | {r['policy']} | {r['openmp_runtime_loaded']} | {_f(r['prompt_tok_s'], 1)} | "
                     f"{_f(r['gen_tok_s'], 1)} | {r['loadavg_start'][0]} → {r['loadavg_end'][0]} |")
        by = {(r["build"].split(" ")[0], r["policy"]): r["gen_tok_s"] for r in tok}
        ratios = [f"{p}: {by[('no', p)] / by[('OpenMP', p)]:.2f}×" for p in ("PASSIVE", "ACTIVE")
                  if by.get(("no", p)) and by.get(("OpenMP", p))]
        if ratios:
            w.append("\nGeneration speed of the installed build (no OpenMP) over the OpenMP build: " + ", ".join(ratios) + ".")
        w.append("")
    st = data.get("stock")
    if st and wp:
        ids = [q["id"] for q in st["questions"]]
        from wpqa.evaluate import QuestionScore, summarise

        mine = [QuestionScore(**q) for q in wp["questions"] if q["id"] in ids]
        wrow, srow = summarise(mine)["overall"], st["table"]["overall"]
        wlat = [r["marks"]["total_ms"] for r in wp["records"] if r["id"] in ids]
        from .common import pct

        if st.get("partial"):
            w.append(f"*The stock step was stopped early: {len(ids)} of {len(run.get('stock_ids', []))} questions "
                     "answered.*\n")
        w += [f"**wpqa beside the stock LangChain recipe** on the same {len(ids)} questions ({', '.join(ids)}), same "
              f"bundled model, same run. Stock: {st['system']}; its citations are its 4 retrieved chunks "
              "(document and page, no section).", "",
              "| system | good | answered | ref_recall | pure | clean | cite_doc | cite_section | p50 answer |",
              "|---|---|---|---|---|---|---|---|---|",
              f"| wpqa | {_f(wrow['good'])} | {_f(wrow['answered'])} | {_f(wrow['ref_recall'])} | {_f(wrow['pure'])} | "
              f"{_f(wrow['clean'])} | {_f(wrow['cite_doc'])} | {_f(wrow['cite_section'])} | {_s(pct(wlat, 50))} |",
              f"| stock LangChain | {_f(srow['good'])} | {_f(srow['answered'])} | {_f(srow['ref_recall'])} | "
              f"{_f(srow['pure'])} | {_f(srow['clean'])} | {_f(srow['cite_doc'])} | {_f(srow['cite_section'])} | "
              f"{_s(_g(st, 'latency_ms', 'p50'))} |"]
        if wrow["good"] is not None and srow["good"] is not None:
            w.append(f"\nwpqa − stock on `good`: {wrow['good'] - srow['good']:+.2f} (issue 13 asks for at least +0.30).")
        un = [r for r in st["records"] if r["id"] in {q["id"] for q in st["questions"] if not q["answerable"]}]
        for r in un:
            w.append(f"\nStock answer to the unanswerable {r['id']} (“{r['question']}”): “{r['answer'][:300]}”")
        w.append("")
    return w


def update_report(data: dict, report: Path = BENCH / "REPORT.md") -> None:
    """Write the section into REPORT.md between its markers (appended the first time)."""
    write_marked(report, BEGIN, END, section(data))


def kept_section(report: Path = BENCH / "REPORT.md") -> str:
    """The section as REPORT.md has it now (for bench.report, which re-renders everything else)."""
    return marked(report, BEGIN, END)
