"""Shared helpers for tests that drive the real `wpqa` command in a subprocess."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
# the project's evaluation set over corpus/ (eval/README.md); another set in the same format via
# WPQA_EVAL_SET (tests that assert figures of the project set skip on another one)
PROJECT_EVAL = ROOT / "eval" / "questions.jsonl"
EVAL = Path(os.environ.get("WPQA_EVAL_SET") or PROJECT_EVAL).resolve()


def load_eval() -> list[dict]:
    """The items of the evaluation set (EVAL), in file order."""
    return [json.loads(x) for x in EVAL.read_text(encoding="utf-8").splitlines() if x.strip()]


def wpqa(*args: str, cwd: Path | None = None, env: dict | None = None, check: bool = True,
         timeout: float = 900) -> subprocess.CompletedProcess:
    """Run `python -m wpqa.cli ARGS` (the same code as the `wpqa` console script)."""
    e = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200", **(env or {})}
    e.pop("WPQA_FAILPOINT", None) if not (env and "WPQA_FAILPOINT" in env) else None
    p = subprocess.run([sys.executable, "-m", "wpqa.cli", *args], cwd=cwd or ROOT, env=e, capture_output=True,
                       text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"wpqa {' '.join(args)} exited {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


def wpqa_json(*args: str, **kw) -> dict:
    p = wpqa(*args, **kw)
    return json.loads(p.stdout)


DATA_DIR = Path(os.environ.get("WPQA_DATA_DIR", ROOT / ".wpqa" / "data"))


def write_config(path: Path, text: str = "") -> Path:
    """A config file in a temp dir (relative paths in it resolve against that dir). The answer
    model is assembled once into the checkout's data dir and shared by every test."""
    if "[paths]" not in text:
        text = f'[paths]\ndata_dir = "{DATA_DIR}"\n\n' + text
    path.write_text(text, encoding="utf-8")
    return path
