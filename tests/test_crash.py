"""Crash safety and concurrent use (issue 6): `wpqa index` killed with SIGKILL at any point
leaves the previous index answering and the next run completing (clearing the stale lock and the
half-built generation); readers answering while `wpqa index --rebuild` runs never fail and never
see half of one generation and half of another.

Kills use the failpoints of index/build.py and index/store.py (`WPQA_FAILPOINT=name`); one module
index is built once and every point adds two small documents to it, so each point is a real
incremental build over a live index.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from index.generation import current_name, open_generation
from qa.retrieve import FusionParams, HybridSearcher
from tests.helpers import OTHERS, ROOT, SMALL_CORPUS, Reader, wpqa, wpqa_json, write_config

pytestmark = pytest.mark.slow  # every test here builds an index and kills or races `wpqa index`

POINTS = ["after-lock", "after-read-old", "mid-ingest", "mid-embed", "after-embed", "mid-write", "after-write",
          "before-publish", "mid-publish", "after-publish"]
PUBLISHED = {"mid-publish", "after-publish"}  # killed once CURRENT names the new generation
ASK_BY_SUBPROCESS = {"before-publish"}  # the others answer in-process: the same CLI wiring, minus 8 s of start-up
WORDS = ["amber", "birch", "cobalt", "dune", "ember", "fjord", "garnet", "heath", "indigo", "juniper", "kelp"]
BASE = "# Beacon rules\n\nThe Harlow beacon is lit at dusk by the harbour master.\n"
QUESTION = "Who lights the Harlow beacon, and when?"


def write_base(corpus: Path) -> None:
    (corpus / "base.md").write_text(BASE, encoding="utf-8")
    for name, text in OTHERS.items():
        (corpus / name).write_text(text, encoding="utf-8")


def args(w: dict) -> list[str]:
    return ["--config", str(w["cfg"]), "--corpus", str(w["corpus"]), "--index-dir", str(w["index"])]


def index_run(w: dict, *extra: str, failpoint: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("WPQA_FAILPOINT", None)
    if failpoint:
        env["WPQA_FAILPOINT"] = failpoint
    return subprocess.run([sys.executable, "-m", "wpqa.cli", *args(w), "index", "--json", *extra], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


def check_generation(index: Path):
    """The live generation opens and is whole: every file agrees on the chunks, every chunk on
    the manifest."""
    gen = open_generation(index)
    n = len(gen.chunks)
    assert n == gen.vectors.shape[0] == gen.manifest["stats"]["chunks"] == gen.dense.count("zh") + gen.dense.count("en")
    docs = gen.manifest["documents"]
    assert {c.doc for c in gen.chunks} == set(docs)
    for c in gen.chunks:
        assert c.doc_sha256 == docs[c.doc]["sha256"], c.id
    assert sum(d["chunks"] for d in docs.values()) == n
    return gen


def assert_answers(rec: dict) -> None:
    assert rec["contexts"] and rec["contexts"][0]["doc"] == "base.md", rec["contexts"][:2]
    assert not rec["abstained"] and rec["citations"] and rec["citations"][0]["doc"] == "base.md"


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("crash")
    corpus = root / "corpus"
    corpus.mkdir()
    write_base(corpus)
    w = {"corpus": corpus, "index": root / "index", "cfg": write_config(root / "config.toml", SMALL_CORPUS)}
    p = index_run(w)
    assert p.returncode == 0, p.stderr
    w["reader"] = Reader(w)
    return w


@pytest.mark.parametrize("point", POINTS)
def test_sigkill_keeps_the_index_answering_and_the_next_run_completes(live, point):
    w = live
    i = POINTS.index(point)
    before = current_name(w["index"])
    before_ids = {c.id for c in check_generation(w["index"]).chunks}
    new = [f"new-{i:02d}-a.md", f"new-{i:02d}-b.md"]
    for n, name in enumerate(new):
        (w["corpus"] / name).write_text(f"# {WORDS[i].title()} note {n}\n\nThe {WORDS[i]} survey counted "
                                        f"{'seals' if n else 'terns'} on the {WORDS[i]} shoal.\n", encoding="utf-8")

    t = time.monotonic()
    p = index_run(w, failpoint=point)
    killed_after = time.monotonic() - t
    assert p.returncode == -9, f"{point}: not killed (exit {p.returncode})\n{p.stderr}"
    lock = (w["index"] / "index.lock").read_text(encoding="utf-8")
    assert lock.startswith("pid="), lock  # the dead process's claim is still in the lock file

    # the live index is the previous one (or, once CURRENT moved, the complete new one) and answers
    gen = check_generation(w["index"])
    ids = {c.id for c in gen.chunks}
    if point in PUBLISHED:
        assert current_name(w["index"]) != before and ids > before_ids
        assert {c.doc for c in gen.chunks} >= set(new)
    else:
        assert current_name(w["index"]) == before and ids == before_ids
    assert_answers(w["reader"].ask(QUESTION))
    if point in ASK_BY_SUBPROCESS:
        assert_answers(wpqa_json(*args(w), "ask", "--llm", "extractive", "--json", QUESTION))

    # the next run completes, says it cleared the dead run's lock, and leaves nothing half-built
    p = index_run(w)
    assert p.returncode == 0, f"{point}: next run failed\n{p.stderr}"
    rep = json.loads(p.stdout)
    assert rep["stale_lock"] == lock, rep["stale_lock"]
    if point in PUBLISHED:
        assert rep["wrote"] is False and set(new) <= set(rep["unchanged"])
    else:
        assert rep["wrote"] is True and sorted(rep["added"]) == new, rep
    gen = check_generation(w["index"])
    assert {c.doc for c in gen.chunks} >= {"base.md", *new}
    left = sorted(p.name for p in w["index"].iterdir())
    assert not [x for x in left if x.startswith(("building-", ".")) or x.endswith(".tmp")], left
    assert all((w["index"] / x / "manifest.json").exists() for x in left if x.startswith("gen-")), left
    assert (w["index"] / "index.lock").read_text(encoding="utf-8") == ""  # released cleanly
    print(f"{point}: killed after {killed_after:.1f} s")


# ------------------------------------------------------------------------------ concurrent readers

COLOUR_QUESTION = "What colour did the Harlow beacon burn?"
COLOURS = ["red", "green", "violet", "orange"]  # the index at epoch 0, then three rebuilds


def epoch_texts(k: int) -> dict[str, str]:
    c = COLOURS[k]
    return {"epoch-a.md": f"# Beacon log A\n\nIn the {c} season the Harlow beacon burned {c}.\n",
            "epoch-b.md": f"# Beacon log B\n\nDuring the {c} watch the keepers wore {c} coats.\n"}


def test_readers_never_see_a_half_written_index(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_base(corpus)
    w = {"corpus": corpus, "index": tmp_path / "index", "cfg": write_config(tmp_path / "config.toml", SMALL_CORPUS)}
    # chunk ids start with the document's sha256: they tell which epoch a chunk comes from
    epoch_of = {hashlib.sha256(t.encode()).hexdigest()[:12]: k
                for k in range(len(COLOURS)) for t in epoch_texts(k).values()}

    def write_epoch(k: int) -> None:
        for name, text in epoch_texts(k).items():
            (corpus / name).write_text(text, encoding="utf-8")

    def epochs(chunks) -> set[int]:
        """Epochs of the epoch documents among (doc, chunk_id, text) triples; checks each text too."""
        seen = set()
        for doc, cid, text in chunks:
            if doc.startswith("epoch-"):
                k = epoch_of[cid[:12]]
                assert COLOURS[k] in text, (cid, text)
                seen.add(k)
        return seen

    write_epoch(0)
    assert index_run(w).returncode == 0
    errors: list[str] = []
    done = threading.Event()
    asked: list[int] = []

    def writer() -> None:
        try:
            for k in range(1, len(COLOURS)):
                write_epoch(k)
                p = index_run(w, "--rebuild")
                if p.returncode != 0:
                    errors.append(f"rebuild {k} failed: {p.stderr}")
        finally:
            done.set()

    def subprocess_asker() -> None:
        while not done.is_set():
            p = wpqa(*args(w), "ask", "--llm", "extractive", "--json", COLOUR_QUESTION, check=False)
            if p.returncode != 0:
                errors.append(f"ask failed: {p.stderr}")
                continue
            rec = json.loads(p.stdout)
            try:
                seen = epochs((c["doc"], c["chunk_id"], c["text"]) for c in rec["contexts"])
                assert len(seen) <= 1, f"one answer mixes epochs {seen}"
                asked.append(1)
            except AssertionError as e:
                errors.append(f"ask: {e}")

    threads = [threading.Thread(target=writer), threading.Thread(target=subprocess_asker)]
    for t in threads:
        t.start()
    reader = Reader(w)
    searcher_emb = None
    reads, seen_epochs = 0, set()
    try:
        while not done.is_set():
            gen = check_generation(w["index"])
            k = epochs((c.doc, c.id, c.text) for c in gen.chunks)
            assert len(k) == 1, f"generation {gen.folder.name} mixes epochs {k}"
            seen_epochs |= k
            if searcher_emb is None:
                reader.ask(QUESTION)  # loads the model once through the CLI wiring
                searcher_emb = reader.emb
            res = HybridSearcher(gen, searcher_emb, None, FusionParams()).search(COLOUR_QUESTION, k=5)
            assert res.hits and {h.chunk.id for h in res.hits} <= {c.id for c in gen.chunks}
            assert_answers(reader.ask(QUESTION))  # the full answer path, opening the index afresh
            reads += 1
    finally:
        done.wait(600)
        for t in threads:
            t.join(600)
    assert not errors, "\n".join(errors)
    assert reads >= 5 and len(seen_epochs) >= 2, (reads, seen_epochs)  # the reads really overlapped the rebuilds
    assert asked, "no subprocess ask finished during the rebuilds"
    gen = check_generation(w["index"])
    assert epochs((c.doc, c.id, c.text) for c in gen.chunks) == {len(COLOURS) - 1}
