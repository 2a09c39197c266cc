"""Milvus as the vector store, for real (Milvus Lite in a temp folder), against FAISS.

The whole pipeline (index, incremental add / change / delete with embedding counts, ask, eval)
runs once per vector store through the same body (tests/incremental.py); then the two runs must
agree: the same chunks, the same embedding counts, the same contexts and eval scores."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

from index.build import build_index
from index.milvus import MilvusStore, generation_collection
from index.generation import current_name, open_generation, read_manifest
from ingest.text import LANGS
from wpqa.wiring import Ctx
from wpqa.settings import ConfigError, load_settings
from tests.helpers import wpqa, wpqa_json, write_config
from tests.incremental import NOTE, ZH_NOTE, args, ask_json, check_store, chunk_ids, incremental_pipeline, make_work, \
    run_index, vector_store_config


@pytest.mark.slow
def test_backends_agree(tmp_path):
    """The whole pipeline once on FAISS and once on Milvus Lite: the same chunks, the same embedding
    counts, the same contexts and eval scores."""
    results = {}
    for store in ("faiss", "milvus"):
        (tmp_path / store).mkdir()
        results[store] = incremental_pipeline(make_work(tmp_path / store, store))
    f, m = results["faiss"], results["milvus"]
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


def collections(w: dict) -> set[str]:
    """The Milvus collections of this index's configured collection name."""
    m = read_manifest(w["index"])["milvus"]
    store = MilvusStore(m["uri"], m["collection"])
    try:
        return {c for c in store.collections() if c.startswith(m["collection"] + "__")}
    finally:
        store.close()


def own_collections(w: dict) -> set[str]:
    """The collections of the generations on disk."""
    base = read_manifest(w["index"])["milvus"]["collection"]
    return {generation_collection(base, p.name) for p in w["index"].glob("gen-*")}


def add_note(w: dict, name: str, text: str = "The Osaka Track on data free flow with trust.") -> None:
    (w["corpus"] / name).write_text(f"# {name}\n\n{text}\n", encoding="utf-8")


@pytest.mark.slow
def test_killed_after_the_new_collection_is_written(small):
    """Killed once the new generation's collection is complete but before the publish: the old
    generation stays live with its own collection, whole; the next run replaces the leftover."""
    w = small
    run_index(w)
    before = check_store(w)
    gen_before = current_name(w["index"])
    add_note(w, "third.md")
    p = run_index(w, env={"WPQA_FAILPOINT": "after-write"}, check=False)
    assert p.returncode == -9, p.stderr
    assert current_name(w["index"]) == gen_before and check_store(w) == before
    assert len(collections(w)) == 2  # the live one and the unpublished one
    rec = ask_json(w, "Which initiative shapes privacy rules in APEC?")
    assert "note.md" in {c["doc"] for c in rec["contexts"]} and "third.md" not in {c["doc"] for c in rec["contexts"]}
    rep = run_index(w)
    assert rep["added"] == ["third.md"] and rep["embedded"] == 0  # embedded before the kill: in the cache
    assert check_store(w) == chunk_ids(w) == before | chunk_ids(w, "third.md")
    assert collections(w) == own_collections(w)


@pytest.mark.slow
def test_killed_before_retiring_old_collections(small):
    """Killed between the publish and the dropping of retired collections: the new generation is
    live and whole; the next build drops what the killed one left."""
    w = small
    run_index(w)
    add_note(w, "second.md")
    run_index(w)
    assert collections(w) == own_collections(w) and len(collections(w)) == 2  # the previous one stays for readers
    add_note(w, "third.md")
    p = run_index(w, env={"WPQA_FAILPOINT": "before-retire"}, check=False)
    assert p.returncode == -9, p.stderr
    assert chunk_ids(w, "third.md") and check_store(w, alias=False) == chunk_ids(w)  # published, whole
    m = read_manifest(w["index"])["milvus"]
    store = MilvusStore(m["uri"], m["collection"])
    try:  # the alias still names the previous generation's collection until the next build
        assert store.alias_target(m["collection"]) != m["generation_collection"]
    finally:
        store.close()
    assert len(collections(w)) == 3 and len(own_collections(w)) == 2  # gen-1's folder is gone, not its collection
    add_note(w, "fourth.md")
    rep = run_index(w)
    assert len(rep["milvus"]["dropped"]) == 2 and rep["milvus"]["inserted"] == rep["chunks_total"]
    assert collections(w) == own_collections(w)
    check_store(w)


@pytest.mark.slow
def test_lost_collection_asks_for_a_rebuild_and_the_next_build_writes_a_new_one(small):
    w = small
    run_index(w)
    ids = chunk_ids(w)
    store = MilvusStore(read_manifest(w["index"])["milvus"]["uri"], read_manifest(w["index"])["milvus"]["collection"])
    try:
        store.drop_collection(read_manifest(w["index"])["milvus"]["generation_collection"])
    finally:
        store.close()
    p = wpqa(*args(w), "ask", "--llm", "extractive", "anything", check=False)
    assert p.returncode != 0 and "wpqa index --rebuild" in p.stderr and "Traceback" not in p.stderr
    add_note(w, "third.md", "The Osaka Track.")
    rep = run_index(w)
    assert rep["embedded"] == 1 and rep["milvus"]["inserted"] == rep["chunks_total"]
    assert check_store(w) == ids | chunk_ids(w, "third.md")


@pytest.mark.slow
def test_reader_asks_while_a_rebuild_runs_on_milvus_lite(small):
    """Milvus Lite serves one process per file, so the reader is a thread of the process that runs
    `--rebuild` (a real build, the real model). It reads all the time; at the moment the new
    collection is complete and not yet published, it still gets the old generation, whole."""
    w = small
    run_index(w)
    gen_before = current_name(w["index"])
    ctx = Ctx(w["cfg"], w["corpus"], w["index"])
    query = ctx.embeddings().queries(["Which initiative shapes privacy rules in APEC?"])[0]
    seen: list[str] = []
    errors: list[str] = []

    def read_once() -> str:
        with open_generation(w["index"]) as gen:
            for lang in LANGS:
                assert gen.dense.count(lang) == sum(c.lang == lang for c in gen.chunks), lang
            hits = gen.dense.search(query, "en", 10)
            assert len(hits) == sum(c.lang == "en" for c in gen.chunks) and gen.chunks[hits[0][0]].doc == "note.md"
            seen.append(gen.folder.name)
            return gen.folder.name

    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            try:
                read_once()
            except Exception as e:  # noqa: BLE001 - collected and reported below
                errors.append(repr(e))
            stop.wait(0.05)

    at_publish: list[str] = []

    def events(kind: str, **kw) -> None:
        if kind == "vectors-written":  # the new collection is whole, CURRENT still names the old generation
            at_publish.append(read_once())

    t = threading.Thread(target=reader)
    t.start()
    try:
        s = ctx.settings
        rep = build_index(s.corpus, s.index_dir, ctx.build_settings(), ctx.embeddings, rebuild=True, events=events)
    finally:
        stop.set()
        t.join(60)
    assert not errors, errors[:3]
    assert at_publish == [gen_before] and rep.generation != gen_before
    assert rep.milvus["inserted"] == rep.chunks_total and rep.embedded == 0
    assert read_once() == rep.generation and gen_before in seen
    assert collections(w) == own_collections(w)


@pytest.mark.slow
def test_switching_vector_store_asks_for_rebuild(small):
    w = small
    write_config(w["cfg"], vector_store_config("faiss"))
    run_index(w)
    write_config(w["cfg"], vector_store_config("milvus"))
    for cmd in (["ask", "--llm", "extractive", "anything"], ["index"]):
        p = wpqa(*args(w), *cmd, check=False)
        assert p.returncode != 0 and "vector store" in p.stderr and "wpqa index --rebuild" in p.stderr, p.stderr
    rep = run_index(w, "--rebuild")
    assert rep["wrote"] and rep["embedded"] == 0 and rep["milvus"]["inserted"] == rep["chunks_total"]
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


@pytest.mark.slow
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
