"""Helpers shared by the benchmark steps: child processes with peak RSS, timing, JSON."""
from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the wpqa checkout
BENCH = ROOT / "bench"
# the question set every quality figure is measured on: the project's own (eval/README.md);
# WPQA_EVAL_SET (or the older WPQA_DEV_SET) points at another set in the same format
DEV_SET = Path(os.environ.get("WPQA_EVAL_SET") or os.environ.get("WPQA_DEV_SET") or ROOT / "eval" / "questions.jsonl")
PY = sys.executable


def rss_mb() -> float:
    """Current resident set size of this process (MB)."""
    return _status_kb("VmRSS") / 1024


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (MB)."""
    return _status_kb("VmHWM") / 1024


def _status_kb(key: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return float(line.split()[1])
    return 0.0


def smaps_mb() -> dict:
    """This process's memory from /proc/self/smaps_rollup (MB): Rss, Pss (shared pages split among
    their users), Anonymous (private heap, not backed by a file), and file-backed Rss."""
    out = {}
    try:
        with open("/proc/self/smaps_rollup") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[0].rstrip(":") in ("Rss", "Pss", "Anonymous", "Pss_File", "Pss_Anon"):
                    out[parts[0].rstrip(":")] = round(float(parts[1]) / 1024, 1)
    except OSError:
        pass
    return out


def pct(values, q: float) -> float | None:
    """Percentile with linear interpolation (numpy's default); None for no values."""
    vals = sorted(float(v) for v in values)
    if not vals:
        return None
    if len(vals) == 1:
        return vals[0]
    pos = (len(vals) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(vals) - 1)
    return vals[lo] + (vals[hi] - vals[lo]) * (pos - lo)


def summary_ms(values) -> dict:
    vals = [float(v) for v in values]
    if not vals:
        return {"n": 0}
    return {"n": len(vals), "p50": round(pct(vals, 50), 2), "p95": round(pct(vals, 95), 2),
            "mean": round(statistics.fmean(vals), 2), "min": round(min(vals), 2), "max": round(max(vals), 2)}


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def shown_path(p) -> str:
    """A path as results record it: relative to the checkout when inside it (results are committed,
    and no machine's absolute path belongs in the repository)."""
    s = str(p)
    try:
        return str(Path(s).relative_to(ROOT)) if s.startswith("/") else s
    except ValueError:
        return s


def run_child(cmd: list[str], log: Path | None = None, env: dict | None = None, timeout: float | None = None,
              cwd: Path = ROOT) -> dict:
    """Run a whole process; return wall seconds, its peak RSS (from wait4), exit code and output."""
    out_path = log or Path(os.devnull)
    full_env = {**os.environ, **(env or {})}
    full_env.pop("WPQA_FAILPOINT", None)
    with open(out_path, "w") as out, open(str(out_path) + ".err" if log else os.devnull, "w") as errf:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=errf, stdin=subprocess.DEVNULL, cwd=str(cwd), env=full_env)
        deadline = None if timeout is None else t0 + timeout
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if deadline and time.perf_counter() > deadline:
                p.kill()
                pid, status, ru = os.wait4(p.pid, 0)
                break
            time.sleep(0.01)
        wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    res = {"cmd": [shown_path(c) for c in cmd], "wall_s": round(wall, 3), "peak_rss_mb": round(ru.ru_maxrss / 1024, 1),
           "user_s": round(ru.ru_utime, 2), "sys_s": round(ru.ru_stime, 2), "exit": p.returncode}
    if log:
        res["stdout"] = log.read_text(errors="replace")
        res["stderr"] = Path(str(log) + ".err").read_text(errors="replace")[-3000:]
    return res


def snapshot_config(work: Path) -> tuple[Path, object]:
    """A copy of config.toml in `work`, so edits made by others during a run change nothing; its
    relative data_dir (.wpqa/data, the assembled answer model) is linked to the real one.
    Returns the copy's path and the real settings."""
    import shutil

    from wpqa.settings import load_settings

    config = work / "config.toml"
    shutil.copy(ROOT / "config.toml", config)
    real, snap = load_settings(ROOT / "config.toml"), load_settings(config)
    if snap.data_dir != real.data_dir:
        snap.data_dir.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(real.data_dir, snap.data_dir)
    return config, real


def write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def read_json(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def load_dev(limit: int = 0) -> list[dict]:
    items = [json.loads(line) for line in DEV_SET.read_text(encoding="utf-8").splitlines() if line.strip()]
    return items[:limit] if limit else items


def machine() -> dict:
    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem_gb = round(float(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "nproc_cmd": subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip(),
            "cpu_model": cpu, "mem_gb": mem_gb, "kernel": platform.release(), "python": platform.python_version()}


# Every system is judged by wpqa's own scorer (wpqa/evaluate.py, the one `wpqa eval` uses), as
# eval/README.md says: gold doc + an evidence string inside the chunk once whitespace is removed.
GROUPS = ["zh-zh", "en-zh", "en-en", "zh-en", "structure", "numeric", "cross-lingual", "overall"]


def judged(items: list[dict], contexts: dict[str, list[dict]], records: dict[str, dict] | None = None) -> dict:
    """{"table": {group: {n, hit@1, hit@5, mrr@10, ...}}, "per_question": [{id, kind, rank}]} over the
    answerable questions (n counts them), from {id: contexts ({"doc", "text"})} and, where given,
    {id: answer record} (adds citation, abstention and answer-text columns)."""
    from wpqa.evaluate import score_question, summarise

    scores = [score_question(it, contexts.get(it["id"], []), (records or {}).get(it["id"])) for it in items]
    ans = [s for s in scores if s.answerable]
    return {"table": summarise(ans),
            "per_question": [{"id": s.id, "kind": s.kind, "rank": s.rank} for s in ans]}
