"""The answer benchmark: wpqa's answers on the eval set, how soon a reader sees something, the
bundled model's speed with and without OpenMP, and the stock LangChain recipe beside wpqa.

    .venv/bin/python -m bench.answers                       # everything (about 35 min on 2 idle cores)
    .venv/bin/python -m bench.answers --only tokens --omp-build DIR
    .venv/bin/python -m bench.answers --limit 10 --stock 10 # fewer wpqa questions (the stock ones always run)

Options: --eval-set FILE (default: WPQA_EVAL_SET, else eval/questions.jsonl), --index-dir DIR (an
existing index of corpus/ with the default configuration; default: build one in a temp folder),
--omp-build DIR (a llama-cpp-python built with OpenMP, installed with `pip install --target DIR`;
without it the OpenMP rows are left out). Writes bench/results/answers.json and the "Answers"
section of bench/REPORT.md (and bench/README.md's numbers are taken from there by hand).
Steps run one after another, each in its own process: tokens, screen, wpqa, stock.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from .common import BENCH, DEV_SET, PY, ROOT, loadavg, machine, read_json, run_child, snapshot_config, write_json

STEPS = ["tokens", "screen", "wpqa", "stock"]
SCREEN_QUESTIONS = ["世贸组织框架下关于电子商务的诸边谈判是何时正式启动的？",
                    "What view on data-governance rules was put forward at ITU's Global Symposium for Regulators in 2020?",
                    "What does the white paper say about digital taxation?"]


def stock_ids(items: list[dict], n: int) -> list[str]:
    """n questions spread over the kinds: the first of each kind, then the second of each, ..."""
    by_kind: dict[str, list[str]] = {}
    for it in items:
        by_kind.setdefault(it["kind"], []).append(it["id"])
    out: list[str] = []
    while len(out) < min(n, len(items)):
        for ids in by_kind.values():
            taken = [i for i in ids if i not in out]
            if taken and len(out) < n:
                out.append(taken[0])
    return out


class Bench:
    def __init__(self, a):
        self.a = a
        self.work = Path(tempfile.mkdtemp(prefix="wpqa-answers-"))
        self.results = BENCH / "results"
        self.out_path = self.results / "answers.json"
        self.data = read_json(self.out_path) if self.out_path.exists() and a.only else {}
        self.ran: set[str] = set()  # the steps of this invocation (--only: the others' results are kept)
        self.corpus = ROOT / "corpus"
        self.config, real = snapshot_config(self.work)
        from llm.bundled import bundled_model_path

        self.model = str(bundled_model_path(real.data_dir))
        self.index = Path(a.index_dir).resolve() if a.index_dir else None
        from wpqa.evaluate import load_eval_set

        self.eval_set = Path(a.eval_set).resolve()
        self.items = load_eval_set(self.eval_set)

    def child(self, name: str, cmd: list[str], env: dict | None = None) -> dict:
        print(f"[{time.strftime('%H:%M:%S')}] {name} (load {loadavg()[0]}) ...", flush=True)
        res = run_child(cmd, log=self.work / f"{name}.log", env=env)
        print(f"    exit {res['exit']} in {res['wall_s']} s", flush=True)
        if res["exit"] != 0:
            raise RuntimeError(f"{name}: exit {res['exit']}: {res.get('stderr', '')[-1500:]}")
        return res

    def ensure_index(self) -> Path:
        if self.index is None:
            self.index = self.work / "index"
            self.child("index", [PY, "-m", "wpqa.cli", "--config", str(self.config), "--corpus", str(self.corpus),
                                 "--index-dir", str(self.index), "index"])
        return self.index

    def wpqa_args(self) -> list[str]:
        return ["--config", str(self.config), "--corpus", str(self.corpus), "--index-dir", str(self.ensure_index())]

    # ------------------------------------------------------------------ steps
    def tokens(self) -> None:
        builds = [("no OpenMP (as installed)", None)]
        if self.a.omp_build:
            if (Path(self.a.omp_build) / "llama_cpp" / "__init__.py").is_file():
                builds.append(("OpenMP", str(Path(self.a.omp_build).resolve())))
            else:
                print(f"    {self.a.omp_build}: no llama_cpp package there (pip install --target it first); "
                      "OpenMP rows left out", flush=True)
        rows = []
        for label, path in builds:
            for policy in ("PASSIVE", "ACTIVE"):
                out = self.work / f"tokens-{len(rows)}.json"
                env = {"OMP_WAIT_POLICY": policy}
                if path:
                    env["PYTHONPATH"] = path + os.pathsep + os.environ.get("PYTHONPATH", "")
                self.child(f"tokens {label} {policy}", [PY, "-m", "bench.tokens", "--model", self.model, "--out", str(out)],
                           env)
                rows.append({"build": label, "policy": policy, **read_json(out)})
        self.data["tokens"] = rows

    def screen(self) -> None:
        qfile = self.work / "screen_questions.json"
        qfile.write_text(json.dumps(SCREEN_QUESTIONS, ensure_ascii=False), encoding="utf-8")
        out = self.work / "screen.json"
        self.child("screen", [PY, "-m", "bench.answer_wpqa", "screen", *self.wpqa_args(), "--questions-from", str(qfile),
                              "--out", str(out)])
        self.data["screen"] = read_json(out)

    def wpqa(self) -> None:
        ids = [it["id"] for it in self.items[: self.a.limit]] if self.a.limit else []
        if ids:
            ids += [i for i in stock_ids(self.items, self.a.stock) if i not in ids]
        out = self.work / "wpqa.json"
        try:
            self.child("wpqa", [PY, "-m", "bench.answer_wpqa", "answers", *self.wpqa_args(), "--eval-set",
                                str(self.eval_set), "--ids", ",".join(ids), "--out", str(out)])
        finally:  # a stopped step still gives the questions it answered ("partial": true)
            if out.exists():
                self.data["wpqa"] = read_json(out)

    def stock(self) -> None:
        out = self.work / "stock.json"
        ids = stock_ids(self.items, self.a.stock)
        try:
            self.child("stock", [PY, "-m", "bench.stock_rag", "--model", self.model, "--corpus", str(self.corpus),
                                 "--eval-set", str(self.eval_set), "--ids", ",".join(ids), "--out", str(out)])
        finally:
            if out.exists():
                self.data["stock"] = read_json(out)

    def run(self) -> None:
        t0 = time.time()
        steps = self.a.only.split(",") if self.a.only else STEPS
        self.data.setdefault("steps", {})
        try:
            for name in steps:
                a = time.time()
                load_a = loadavg()
                self.ran.add(name)
                try:
                    getattr(self, name)()
                    ok = True
                except Exception as e:  # noqa: BLE001 - one failing step never stops the others
                    print(f"    FAILED: {e}", flush=True)
                    ok = False
                self.data["steps"][name] = {"ok": ok, "seconds": round(time.time() - a, 1), "loadavg_start": load_a,
                                            "loadavg_end": loadavg(), "at": time.strftime("%Y-%m-%d %H:%M")}
                self.save()
        finally:
            if not self.a.keep:
                shutil.rmtree(self.work, ignore_errors=True)
        print(f"done in {time.time() - t0:.0f} s -> {self.out_path}", flush=True)

    def save(self) -> None:
        if self.a.only and self.out_path.exists():  # keep what another step run wrote meanwhile
            disk = read_json(self.out_path)
            steps = {**disk.get("steps", {}), **{k: v for k, v in self.data["steps"].items() if k in self.ran}}
            self.data = {**disk, **{k: self.data[k] for k in self.ran if k in self.data}, "steps": steps}
        self.data["run"] = {"eval_set": str(self.eval_set.relative_to(ROOT)) if self.eval_set.is_relative_to(ROOT)
                            else self.eval_set.name, "questions": len(self.items), "machine": machine(),
                            "stock_ids": stock_ids(self.items, self.a.stock)}
        write_json(self.out_path, self.data)
        from .answers_report import update_report

        update_report(self.data)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--eval-set", default=str(DEV_SET))
    ap.add_argument("--index-dir")
    ap.add_argument("--omp-build", help="a llama-cpp-python built with OpenMP (pip install --target DIR)")
    ap.add_argument("--limit", type=int, default=0, help="wpqa: only the first N questions (and the stock ones)")
    ap.add_argument("--stock", type=int, default=20, help="questions for the stock recipe (about 40 s each here)")
    ap.add_argument("--only", default="", help="comma-separated steps of " + ",".join(STEPS))
    ap.add_argument("--keep", action="store_true", help="keep the temp folder (logs, index)")
    Bench(ap.parse_args()).run()


if __name__ == "__main__":
    main()
