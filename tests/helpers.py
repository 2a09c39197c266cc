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
# WPQA_EVAL_SET (tests that assert the project set's own figures check only counts on another one)
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


# A few short notes: retrieval scores are calibrated against the rest of the index, so a small test
# corpus gives the document under test a few neighbours.
OTHERS = {
    "tides.md": "# Tide tables\n\nSpring tides at Harlow reach four metres in March.\n",
    "orchard.md": "# Orchard levy\n\nApple growers in Vellmark pay a levy for irrigation canals.\n",
    "trams.md": "# Tram timetable\n\nThe Lindholm tram runs every twenty minutes on Sundays.\n",
}
# The abstention threshold is calibrated on the real corpus; a corpus of a few lines scores lower,
# and tests on one need answers that go all the way through citation checking.
SMALL_CORPUS = "[answer]\nabstain_threshold = 0.5\n"


def small_corpus(tmp: Path, config: str = SMALL_CORPUS) -> tuple[Path, list[str]]:
    """The OTHERS notes in `tmp`/corpus, indexed with `config`: (corpus folder, the global options
    naming the config, the corpus and the index)."""
    corpus = tmp / "corpus"
    corpus.mkdir()
    for name, text in OTHERS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    cfg = write_config(tmp / "config.toml", config)
    args = ["--config", str(cfg), "--corpus", str(corpus), "--index-dir", str(tmp / "index")]
    wpqa(*args, "index")
    return corpus, args


class Reader:
    """`wpqa ask --llm extractive --json`, in-process: the CLI's own wiring, the model loaded once.
    `w` holds the paths "cfg", "corpus" and "index"."""

    def __init__(self, w: dict):
        self.w = w
        self.emb = None

    def ask(self, question: str) -> dict:
        from wpqa.wiring import Ctx

        ctx = Ctx(self.w["cfg"], self.w["corpus"], self.w["index"])
        ctx._emb = self.emb
        rec = ctx.pipeline("extractive").ask(question, qid="ask")
        self.emb = ctx._emb
        return rec
