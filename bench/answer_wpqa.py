"""wpqa's answers on the eval set, timed as a reader sees them (run by `bench.answers`).

    python -m bench.answer_wpqa answers --config C --corpus D --index-dir I --out FILE [--ids a,b] [--eval-set F]
    python -m bench.answer_wpqa screen  --config C --corpus D --index-dir I --out FILE --questions-from F

`answers`: one process, the default configuration (answer backend, question translation as
config.toml says), two warm-up questions, then every question through the pipeline's stream:
time to the first checked source quote (the `Sources` event), to the first piece of the answer
(a `Draft` piece, or the checked answer where nothing is drafted), and the whole answer
(translation included); each record scored by wpqa/evaluate.py.
`screen`: whole `wpqa ask` processes in a pseudo-terminal, as a user starts them: time to the
first visible text (what wpqa is doing), to the first quoted source line, and to the end.
"""
from __future__ import annotations

import argparse
import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

from .common import DEV_SET, PY, ROOT, loadavg, summary_ms, write_json

WARMUP = ["数据跨境流动面临哪些治理难题？", "Which bodies discuss rules for cross-border e-commerce?"]


def timed_answer(pipe, question: str, qid: str) -> tuple[dict, dict]:
    """The record and {first_quote_ms, first_answer_ms, total_ms} of one question, through
    `pipe.stream` (events Sources / Draft / Answered) where the pipeline has it."""
    t0 = time.perf_counter()
    marks: dict[str, float | None] = {"first_quote_ms": None, "first_answer_ms": None}

    def mark(key: str) -> None:
        if marks[key] is None:
            marks[key] = round((time.perf_counter() - t0) * 1000, 1)

    record = None
    if hasattr(pipe, "stream"):
        for ev in pipe.stream(question, qid=qid, k=10):
            kind = type(ev).__name__
            if kind == "Sources" and ev.quotes:
                mark("first_quote_ms")
            elif kind == "Draft" and ev.text.strip():
                mark("first_answer_ms")
            elif kind == "Answered":
                record = ev.record
    else:  # an older pipeline: tokens through a callback, quotes only with the record
        record = pipe.ask(question, qid=qid, k=10, on_token=lambda piece: piece.strip() and mark("first_answer_ms"))
    total = round((time.perf_counter() - t0) * 1000, 1)
    if record is not None and not record.get("abstained"):
        if marks["first_answer_ms"] is None:
            marks["first_answer_ms"] = total  # nothing drafted: the checked answer is the first answer text
        if marks["first_quote_ms"] is None and record.get("citations"):
            marks["first_quote_ms"] = total
    return record, {**marks, "total_ms": total}


def run_answers(a) -> None:
    from wpqa.evaluate import load_eval_set, score_question
    from wpqa.wiring import Ctx

    items = load_eval_set(Path(a.eval_set))
    if a.ids:
        wanted = set(a.ids.split(","))
        items = [it for it in items if it["id"] in wanted]
    ctx = Ctx(Path(a.config), Path(a.corpus), Path(a.index_dir))
    pipe = ctx.pipeline()
    for q in WARMUP:
        timed_answer(pipe, q, "warmup")
    load0 = loadavg()
    records, marks, scores = [], [], []
    for it in items:
        rec, m = timed_answer(pipe, it["question"], it["id"])
        scores.append(score_question(it, rec["contexts"], rec))
        records.append({k: rec.get(k) for k in ("id", "question", "answer", "abstained", "citations", "timings_ms",
                                                "lang", "translation", "flags")} | {"marks": m, "kind": it["kind"]})
        marks.append(m)
        print(f"{it['id']} quote {m['first_quote_ms']} answer {m['first_answer_ms']} total {m['total_ms']} ms",
              file=sys.stderr, flush=True)
        write_json(Path(a.out), _result(pipe, records, marks, scores, load0, partial=len(records) < len(items)))
    if not items:
        write_json(Path(a.out), _result(pipe, records, marks, scores, load0, partial=False))


def _result(pipe, records: list[dict], marks: list[dict], scores: list, load0, partial: bool) -> dict:
    """The step's JSON (written after every question, so a stopped run keeps what it measured)."""
    from wpqa.evaluate import summarise

    translated = [r for r in records if (r["timings_ms"] or {}).get("translate")]
    return {
        "partial": partial,
        "system": f"wpqa ({pipe.backend_name}, translation {'on' if pipe.searcher.translator else 'off'})",
        "streaming": hasattr(pipe, "stream"), "loadavg_start": load0, "loadavg_end": loadavg(),
        "latency_ms": {
            "answer": summary_ms(m["total_ms"] for m in marks),
            "first_quote": summary_ms(m["first_quote_ms"] for m in marks if m["first_quote_ms"] is not None),
            "first_quote_translated": summary_ms(m["marks"]["first_quote_ms"] for m in translated
                                                 if m["marks"]["first_quote_ms"] is not None),
            "first_quote_untranslated": summary_ms(r["marks"]["first_quote_ms"] for r in records if r not in translated
                                                   and r["marks"]["first_quote_ms"] is not None),
            "first_answer": summary_ms(m["first_answer_ms"] for m in marks if m["first_answer_ms"] is not None),
            "translate": summary_ms(r["timings_ms"]["translate"] for r in translated),
        },
        "table": summarise(scores), "questions": [s.__dict__ for s in scores], "records": records,
    }


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\x1b[()][A-Z0-9]|[\x00-\x08\x0b-\x1f]")


def screen_times(cmd: list[str], timeout: float = 300) -> dict:
    """Run `cmd` on a pseudo-terminal: seconds to the first visible text, to the first quoted
    source line ("> [n]" or "[n] doc"), and to exit; the first text seen."""
    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40", "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, cwd=str(ROOT), env=env, close_fds=True)
    os.close(slave)
    first = quote = None
    first_text, seen = "", ""
    while time.perf_counter() - t0 < timeout:
        r, _, _ = select.select([master], [], [], 0.05)
        if r:
            try:
                data = os.read(master, 65536).decode("utf-8", "replace")
            except OSError:
                break
            if not data:
                break
            now = time.perf_counter() - t0
            seen += _ANSI.sub("", data)
            if first is None and seen.strip():
                first, first_text = now, seen.strip()[:80]
            if quote is None and re.search(r"(^|\n)\s*(> )?\[\d+\]", seen):
                quote = now
        elif p.poll() is not None:
            break
    p.wait(timeout=10)
    os.close(master)
    return {"first_text_s": round(first, 3) if first is not None else None, "first_text": first_text,
            "first_quote_s": round(quote, 3) if quote is not None else None,
            "exit_s": round(time.perf_counter() - t0, 3), "exit": p.returncode}


def run_screen(a) -> None:
    questions = json.loads(Path(a.questions_from).read_text(encoding="utf-8"))
    base = [PY, "-m", "wpqa.cli", "--config", a.config, "--corpus", a.corpus, "--index-dir", a.index_dir]
    runs = []
    for q in questions:
        res = screen_times([*base, "ask", q])
        res["question"] = q
        runs.append(res)
        print(f"screen: first text {res['first_text_s']} s ({res['first_text']!r}), first quote {res['first_quote_s']} s, "
              f"exit {res['exit_s']} s", file=sys.stderr, flush=True)
    write_json(Path(a.out), {"runs": runs, "first_text_s": summary_ms(r["first_text_s"] for r in runs
                                                                     if r["first_text_s"] is not None),
                             "loadavg_end": loadavg()})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["answers", "screen"])
    ap.add_argument("--config", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--index-dir", required=True)
    ap.add_argument("--eval-set", default=str(DEV_SET))
    ap.add_argument("--ids", default="")
    ap.add_argument("--questions-from")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    (run_answers if a.what == "answers" else run_screen)(a)


if __name__ == "__main__":
    main()
