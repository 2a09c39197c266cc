"""`wpqa serve` under load, beside cold `wpqa ask` processes, in one run.

    python -m bench.serve_load [--questions 24] [--clients 6] [--cold 4] [--llm llama-cpp]

Starts a real `wpqa serve` on loopback over the checkout's index (run `wpqa index` first), then:

1. load: N questions (the tuning set's, in file order) asked by C concurrent clients through the
   page's endpoint (`POST /api/ask`, server-sent events): per question the total time, the time to
   the first checked quote, the time spent waiting behind other questions for the answer model,
   and the throughput of the whole run;
2. warm against cold: the first K of those questions asked one at a time by `wpqa ask --json`
   twice, once through the running server and once with `--local` (a new process that loads the
   index and the model), alternating, so both see the same machine.

Writes bench/results/serve_load.json and prints a summary; REPORT section 7 is written from it by
`python -m bench.serve_load --report`.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time

import httpx

from wpqa.client import sse_events

from .common import BENCH, PY, ROOT, pct

OUT = BENCH / "results" / "serve_load.json"
TUNING = ROOT / "eval" / "questions.jsonl"


def start_server(llm: str) -> tuple[subprocess.Popen, str, list[str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([PY, "-m", "wpqa.cli", "serve", "--port", "0", "--llm", llm], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    url = ""
    for line in proc.stderr:
        lines.append(line)
        if "wpqa serve: http://" in line:
            url = line.split("wpqa serve: ", 1)[1].split("/ ", 1)[0]
            break
    threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True).start()
    if not url:
        raise SystemExit("wpqa serve did not start:\n" + "".join(lines))
    t0 = time.time()
    while time.time() - t0 < 600:
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return proc, url, lines
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit("wpqa serve exited:\n" + "".join(lines))
        time.sleep(0.5)
    raise SystemExit("wpqa serve never became ready")


def ask_page(url: str, question: str) -> dict:
    """One question through /api/ask: total, first quote, queue wait (seconds)."""
    t0 = time.perf_counter()
    first_quote = first_token = None
    waited = 0.0  # seconds spent behind other questions' generations
    waiting_since = None
    longest_wait_position = 0
    record = None
    with httpx.stream("POST", url + "/api/ask", json={"question": question}, timeout=None) as r:
        for event, data in sse_events(r.iter_lines()):
            now = time.perf_counter() - t0
            if event == "queue":
                longest_wait_position = max(longest_wait_position, data["position"])
                if data["position"] > 0 and waiting_since is None:
                    waiting_since = now
                elif data["position"] == 0 and waiting_since is not None:
                    waited += now - waiting_since
                    waiting_since = None
            elif event == "sources" and first_quote is None:
                first_quote = now
            elif event == "token" and first_token is None:
                first_token = now
            elif event == "answer":
                record = data
            elif event == "error":
                raise RuntimeError(data["message"])
    total = time.perf_counter() - t0
    return {"question": question, "total_s": round(total, 2), "first_quote_s": _r(first_quote),
            "first_token_s": _r(first_token), "queue_wait_s": _r(waited), "max_position": longest_wait_position,
            "abstained": record["abstained"] if record else None, "server_ms": record["timings_ms"] if record else None}


def _r(x):
    return None if x is None else round(x, 2)


def load_run(url: str, questions: list[str], clients: int) -> dict:
    todo = list(enumerate(questions))
    lock = threading.Lock()
    results: list[dict] = []

    def client() -> None:
        while True:
            with lock:
                if not todo:
                    return
                i, q = todo.pop(0)
            res = ask_page(url, q)
            res["i"] = i
            with lock:
                results.append(res)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    results.sort(key=lambda r: r["i"])

    def stats(key: str) -> dict:
        vals = [r[key] for r in results if r[key] is not None]
        return {"p50": _r(pct(vals, 50)), "p95": _r(pct(vals, 95)), "max": _r(max(vals)) if vals else None}

    return {"questions": len(questions), "clients": clients, "wall_s": round(wall, 1),
            "throughput_per_min": round(60 * len(questions) / wall, 2),
            "total_s": stats("total_s"), "first_quote_s": stats("first_quote_s"),
            "queue_wait_s": stats("queue_wait_s"), "first_token_s": stats("first_token_s"),
            "answered": sum(1 for r in results if r["abstained"] is False), "per_question": results}


def cli_ask(question: str, local: bool) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [PY, "-m", "wpqa.cli", "ask", "--json", *(["--local"] if local else []), question]
    t0 = time.perf_counter()
    p = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(p.stderr.strip().splitlines()[-1])
    rec = json.loads(p.stdout)
    served = any(f.startswith("served-by") for f in rec.get("flags", []))
    if served == local:
        raise RuntimeError(f"expected {'a local' if local else 'a served'} answer")
    return wall


def warm_vs_cold(questions: list[str]) -> dict:
    warm, cold = [], []
    for q in questions:  # alternating, so both see the same machine
        warm.append(round(cli_ask(q, local=False), 2))
        cold.append(round(cli_ask(q, local=True), 2))
    return {"questions": questions, "warm_s": warm, "cold_s": cold,
            "warm_median_s": round(statistics.median(warm), 2), "cold_median_s": round(statistics.median(cold), 2),
            "cold_over_warm": round(statistics.median(cold) / statistics.median(warm), 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--questions", type=int, default=24)
    ap.add_argument("--clients", type=int, default=6)
    ap.add_argument("--cold", type=int, default=4)
    ap.add_argument("--llm", default="llama-cpp")
    ap.add_argument("--report", action="store_true", help="Write REPORT section 7 from the last run.")
    a = ap.parse_args()
    if a.report:
        from .report_serve import write_section

        write_section(json.loads(OUT.read_text(encoding="utf-8")))
        return
    items = [json.loads(x) for x in TUNING.read_text(encoding="utf-8").splitlines() if x.strip()]
    questions = [it["question"] for it in items if it.get("kind") != "unanswerable"][: a.questions]
    load_before = os.getloadavg()
    proc, url, lines = start_server(a.llm)
    try:
        run = load_run(url, questions, a.clients)
        print(f"load: {run['questions']} questions, {run['clients']} clients, {run['wall_s']} s, "
              f"{run['throughput_per_min']}/min; total p50 {run['total_s']['p50']} s p95 {run['total_s']['p95']} s; "
              f"first quote p50 {run['first_quote_s']['p50']} s; queue wait p50 {run['queue_wait_s']['p50']} s",
              file=sys.stderr)
        wc = warm_vs_cold(questions[: a.cold])
        print(f"wpqa ask: warm (server) median {wc['warm_median_s']} s, cold median {wc['cold_median_s']} s "
              f"({wc['cold_over_warm']}x)", file=sys.stderr)
    finally:
        proc.terminate()
        proc.wait(30)
    result = {"date": time.strftime("%Y-%m-%d %H:%M"), "llm": a.llm, "cpus": os.cpu_count(),
              "loadavg_before": [round(x, 2) for x in load_before],
              "loadavg_after": [round(x, 2) for x in os.getloadavg()], "load": run, "warm_vs_cold": wc}
    OUT.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"→ {OUT.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
