"""Milvus as the vector store, for real (Milvus Lite in a temp folder), against FAISS.

The whole pipeline (index, incremental add / change / delete with embedding counts, ask, eval)
runs once per vector store through the same body (tests/incremental.py); then the two runs must
agree: the same chunks, the same embedding counts, the same contexts and eval scores."""
from __future__ import annotations

from pathlib import Path

import pytest

from index.milvus import JOURNAL, MilvusStore
from index.store import current_name, open_generation, read_manifest
from wpqa.settings import ConfigError, load_settings
from tests.helpers import wpqa, wpqa_json, write_config
from tests.incremental import NOTE, ZH_NOTE, args, ask_json, check_store, chunk_ids, incremental_pipeline, make_work, \
    run_index, vector_store_config

BACKENDS = ["faiss", "milvus"]
RESULTS: dict[str, dict] = {}


@pytest.mark.parametrize("store", BACKENDS)
def test_incremental_pipeline(tmp_path, store):
    RESULTS[store] = incremental_pipeline(make_work(tmp_path, store))


def test_backends_agree():
    if set(RESULTS) != set(BACKENDS):
        pytest.skip("needs both runs of test_incremental_pipeline (run the whole file)")
    f, m = RESULTS["faiss"], RESULTS["milvus"]
    assert f["ids"] == m["ids"]
    assert f["embedded"] == m["embedded"]
    for key in ("ask", "ask_after_rebuild"):
        assert [cid for cid, _ in f[key]] == [cid for cid, _ in m[key]], key
        assert [s for _, s in f[key]] == pytest.approx([s for _, s in m[key]], abs=1e-3), key
    assert f["eval_rr"] == pytest.approx(m["eval_rr"], abs=1e-6)
    for kind, row in f["eval"].items():
        for col in ("hit@1", "hit@5", "mrr@10"):
            assert row[col] == pytest.approx(m["eval"][kind][col], abs=1e-6), (kind, col)


# ------------------------------------------------------------------ Milvus only, on a tiny corpus


@pytest.fixture()
def small(tmp_path: Path) -> dict:
    """Two Markdown notes (three chunks' worth of embedding) on Milvus Lite."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "note.md").write_text(NOTE, encoding="utf-8")
    (corpus / "zh.md").write_text(ZH_NOTE, encoding="utf-8")
    cfg = write_config(tmp_path / "config.toml", vector_store_config("milvus"))
    return {"tmp": tmp_path, "corpus": corpus, "index": tmp_path / "index", "cfg": cfg, "store": "milvus"}


def milvus_ids(w: dict) -> set[str]:
    m = read_manifest(w["index"])["milvus"]
    store = MilvusStore(m["uri"], m["collection"])
    try:
        return store.ids()
    finally:
        store.close()


def test_killed_between_upsert_and_publish(small):
    """The old generation stays live and ignores the new ids; the next run removes them, then
    completes the update."""
    w = small
    run_index(w)
    before = check_store(w)
    (w["corpus"] / "third.md").write_text("# Third\n\nThe Osaka Track on data free flow with trust.\n", encoding="utf-8")
    gen_before = current_name(w["index"])
    p = run_index(w, env={"WPQA_FAILPOINT": "after-milvus-upsert"}, check=False)
    assert p.returncode == -9, p.stderr
    assert current_name(w["index"]) == gen_before and chunk_ids(w) == before
    assert (w["index"] / JOURNAL).exists()
    orphans = milvus_ids(w) - before
    assert orphans  # third.md is in Milvus, unknown to the live generation
    with open_generation(w["index"]) as gen:
        row = next(i for i, c in enumerate(gen.chunks) if c.doc == "note.md")
        hits = gen.dense.search(gen.vectors[row], "en", 10)
        assert hits and all(0 <= r < len(gen.chunks) for r, _ in hits)  # unknown ids ignored
        assert len(hits) == sum(c.lang == "en" for c in gen.chunks)
    rec = ask_json(w, "Which initiative shapes privacy rules in APEC?")
    assert "note.md" in {c["doc"] for c in rec["contexts"]} and "third.md" not in {c["doc"] for c in rec["contexts"]}
    rep = run_index(w)
    assert rep["added"] == ["third.md"] and rep["embedded"] == 0  # embedded before the kill: in the cache
    assert check_store(w) == chunk_ids(w) == before | chunk_ids(w, "third.md")


def test_killed_between_publish_and_delete(small):
    """The new generation is live with stale ids still in Milvus; the next run, with nothing to
    index, deletes them without embedding anything."""
    w = small
    run_index(w)
    note_ids = chunk_ids(w, "note.md")
    (w["corpus"] / "note.md").unlink()
    p = run_index(w, env={"WPQA_FAILPOINT": "before-milvus-delete"}, check=False)
    assert p.returncode == -9, p.stderr
    assert chunk_ids(w, "note.md") == set()  # published
    assert note_ids <= milvus_ids(w)
    rep = run_index(w)
    assert rep["wrote"] is False and rep["embed_calls"] == 0
    assert rep["milvus"] == {"deleted": len(note_ids), "upserted": 0, "reconciled": True}
    assert check_store(w) == chunk_ids(w)


def test_lost_collection_is_rebuilt_from_the_generation(small):
    w = small
    run_index(w)
    ids = chunk_ids(w)
    m = read_manifest(w["index"])["milvus"]
    store = MilvusStore(m["uri"], m["collection"])
    try:
        store.drop()
    finally:
        store.close()
    p = wpqa(*args(w), "ask", "--llm", "extractive", "anything", check=False)
    assert p.returncode != 0 and "wpqa index --rebuild" in p.stderr and "Traceback" not in p.stderr
    (w["corpus"] / "third.md").write_text("# Third\n\nThe Osaka Track.\n", encoding="utf-8")
    rep = run_index(w)
    assert rep["milvus"]["reconciled"] is False and rep["embedded"] == 1
    assert check_store(w) == ids | chunk_ids(w, "third.md")


def test_switching_vector_store_asks_for_rebuild(small):
    w = small
    write_config(w["cfg"], vector_store_config("faiss"))
    run_index(w)
    write_config(w["cfg"], vector_store_config("milvus"))
    for cmd in (["ask", "--llm", "extractive", "anything"], ["index"]):
        p = wpqa(*args(w), *cmd, check=False)
        assert p.returncode != 0 and "vector store" in p.stderr and "wpqa index --rebuild" in p.stderr, p.stderr
    rep = run_index(w, "--rebuild")
    assert rep["wrote"] and rep["embedded"] == 0 and rep["milvus"]["upserted"] == rep["chunks_total"]
    st = wpqa_json(*args(w), "status", "--json")
    assert st["vector_store"] == "milvus" and st["milvus"]["uri"] == str((w["tmp"] / "milvus" / "wpqa.db").resolve())
    assert not any(w["index"].glob(f"{current_name(w['index'])}/faiss-*"))
    check_store(w)
    # another collection is another store, too
    write_config(w["cfg"], vector_store_config("milvus").replace("wpqa_test", "other"))
    p = wpqa(*args(w), "ask", "--llm", "extractive", "anything", check=False)
    assert p.returncode != 0 and "collection=other" in p.stderr


def test_milvus_settings(tmp_path):
    cfg = tmp_path / "sub" / "config.toml"
    cfg.parent.mkdir()
    cfg.write_text('[index]\nvector_store = "milvus"\n[index.milvus]\nuri = "data/m.db"\n', encoding="utf-8")
    s = load_settings(cfg)
    assert s.index.milvus.model_dump() == {"uri": str(cfg.parent / "data" / "m.db"), "collection": "wpqa_chunks",
                              "token_env": "MILVUS_TOKEN"}
    cfg.write_text('[index]\nvector_store = "milvus"\n[index.milvus]\nuri = "http://milvus.internal:19530"\n'
                   'token_env = "WPQA_MILVUS_TOKEN"\ncollection = "reports"\n', encoding="utf-8")
    s = load_settings(cfg)
    assert s.index.milvus.model_dump() == {"uri": "http://milvus.internal:19530", "collection": "reports",
                              "token_env": "WPQA_MILVUS_TOKEN"}
    assert load_settings(None).index.vector_store == "faiss"
    for bad in ('vector_store = "qdrant"', '[index.milvus]\nuri = "no-suffix"',
                '[index.milvus]\ncollection = "a-b"', '[index.milvus]\nuser = "x"'):
        cfg.write_text(f"[index]\n{bad}\n" if not bad.startswith("[") else bad + "\n", encoding="utf-8")
        with pytest.raises(ConfigError):
            load_settings(cfg)


def test_reader_and_writer_take_turns_on_milvus_lite(small):
    """`wpqa ask` after `wpqa index` in separate processes, and a reader in this process that
    closes its generation lets the next writer in."""
    w = small
    run_index(w)
    with open_generation(w["index"]) as gen:
        assert gen.dense.count("en") + gen.dense.count("zh") == len(gen.chunks)
    (w["corpus"] / "third.md").write_text("# Third\n\nThe Osaka Track.\n", encoding="utf-8")
    assert run_index(w)["added"] == ["third.md"]
    rec = ask_json(w, "各国对跨境数据流动有什么顾虑？")
    assert rec["contexts"][0]["doc"] == "zh.md"
