"""The whole pipeline on a small corpus, the same for every vector store: index, incremental add /
change / delete with embedding counts from `wpqa index --json`, ask, eval. `tests/test_index.py`
runs it on FAISS, `tests/test_milvus.py` on FAISS and Milvus Lite, so the two cannot drift."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from index.generation import open_generation
from tests.helpers import CORPUS, load_eval, wpqa, wpqa_json, write_config

ITU = "ITU Contribution - Global Consensus on Digital Governance.pdf"
NEWS = "Leading the Development of International Rules for the Digital Economy.pdf"
NOTE = "# Test note\n\nThe Pathfinder Initiative shapes privacy rules in APEC.\n"
NOTE_CHANGED = NOTE + "\nA new paragraph about digital taxation and the OECD.\n"
ZH_NOTE = "# 数字治理测试文件\n\n这是一个关于跨境数据流动的测试文件。各国对跨境数据流动的安全顾虑日益上升。\n"

# questions on the final corpus (note.md, zh.md, NEWS): our own, which must hit, and the eval set's on NEWS
OWN_ITEMS = [
    {"id": "t1", "lang": "en", "kind": "en-en", "question": "Which initiative shapes privacy rules in APEC?",
     "doc": "note.md", "section": None, "evidence": ["Pathfinder Initiative shapes privacy rules"]},
    {"id": "t2", "lang": "en", "kind": "en-en", "question": "What does the note say about digital taxation?",
     "doc": "note.md", "section": None, "evidence": ["digital taxation and the OECD"]},
    {"id": "t3", "lang": "zh", "kind": "zh-zh", "question": "各国对跨境数据流动有什么顾虑？",
     "doc": "zh.md", "section": None, "evidence": ["安全顾虑日益上升"]},
    {"id": "t4", "lang": "en", "kind": "en-zh", "question": "What security concerns do countries have about cross-border data flows?",
     "doc": "zh.md", "section": None, "evidence": ["安全顾虑日益上升"]},
]


def eval_items() -> list[dict]:
    return OWN_ITEMS + [x for x in load_eval() if x.get("doc") == NEWS]


def vector_store_config(store: str) -> str:
    """The config text for `store`: Milvus Lite in a file beside the config (a relative uri)."""
    if store == "faiss":
        return '[index]\nvector_store = "faiss"\n'
    return '[index]\nvector_store = "milvus"\n\n[index.milvus]\nuri = "milvus/wpqa.db"\ncollection = "wpqa_test"\n'


def make_work(tmp: Path, store: str = "faiss") -> dict:
    corpus = tmp / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS / ITU, corpus / ITU)
    (corpus / "note.md").write_text(NOTE, encoding="utf-8")
    (corpus / "zh.md").write_text(ZH_NOTE, encoding="utf-8")
    cfg = write_config(tmp / "config.toml", vector_store_config(store))
    return {"tmp": tmp, "corpus": corpus, "index": tmp / "index", "cfg": cfg, "store": store}


def args(w: dict) -> list[str]:
    return ["--config", str(w["cfg"]), "--corpus", str(w["corpus"]), "--index-dir", str(w["index"])]


def run_index(w: dict, *extra: str, env: dict | None = None, check: bool = True):
    p = wpqa(*args(w), "index", "--json", *extra, env=env, check=check)
    return json.loads(p.stdout) if check else p


def ask_json(w: dict, question: str) -> dict:
    return wpqa_json(*args(w), "ask", "--llm", "extractive", "--json", question)


def chunk_ids(w: dict, doc: str | None = None) -> set[str]:
    with open_generation(w["index"]) as gen:
        return {c.id for c in gen.chunks if doc is None or c.doc == doc}


def check_store(w: dict, alias: bool = True) -> set[str]:
    """The vector store holds exactly the live generation's chunks, once each; returns their ids.
    `alias`: with Milvus, the configured collection name is an alias of the live generation's collection."""
    with open_generation(w["index"]) as gen:
        ids = [c.id for c in gen.chunks]
        assert len(ids) == len(set(ids)) == gen.vectors.shape[0]
        for lang in ("zh", "en"):
            assert gen.dense.count(lang) == sum(c.lang == lang for c in gen.chunks), lang
        assert gen.manifest.get("vector_store", "faiss") == w["store"]
        if w["store"] == "milvus":
            assert gen.dense.store.ids() == set(ids)  # the generation's own collection: its chunks, nothing else
            assert gen.dense.store.collection == gen.manifest["milvus"]["generation_collection"]
            if alias:
                assert gen.dense.store.alias_target(gen.manifest["milvus"]["collection"]) == gen.dense.store.collection
            # every chunk finds itself first through the store's own search
            for row in range(0, len(ids), max(1, len(ids) // 5)):
                hits = gen.dense.search(gen.vectors[row], gen.chunks[row].lang, 3)
                assert hits and hits[0][0] == row and abs(hits[0][1] - 1.0) < 1e-3, (row, hits)
        else:
            assert any(w["index"].glob("*/faiss-en.index"))
    return set(ids)


def incremental_pipeline(w: dict) -> dict:
    """The shared body. Returns what the backends must agree on (see test_milvus)."""
    first = run_index(w)
    assert sorted(first["added"]) == sorted([ITU, "note.md", "zh.md"])
    assert first["embedded"] == first["chunks_new"] == first["chunks_total"] > 0
    check_store(w)

    again = run_index(w)
    assert again["wrote"] is False and again["embedded"] == 0 and again["embed_calls"] == 0
    assert sorted(again["unchanged"]) == sorted([ITU, "note.md", "zh.md"])

    # adding one PDF embeds only its chunks (and upserts only them)
    shutil.copy(CORPUS / NEWS, w["corpus"] / NEWS)
    before = chunk_ids(w)
    added = run_index(w)
    assert added["added"] == [NEWS]
    news_ids = chunk_ids(w, NEWS)
    assert added["embedded"] == added["chunks_new"] == len(news_ids) > 0
    assert chunk_ids(w) == before | news_ids
    assert check_store(w) == before | news_ids
    if w["store"] == "milvus":  # each generation writes its own collection, whole
        assert added["milvus"]["inserted"] == added["chunks_total"]

    # changing a document replaces its chunks (and only embeds the changed text)
    old_note = chunk_ids(w, "note.md")
    (w["corpus"] / "note.md").write_text(NOTE_CHANGED, encoding="utf-8")
    changed = run_index(w)
    assert changed["changed"] == ["note.md"]
    new_note = chunk_ids(w, "note.md")
    assert new_note and not (new_note & old_note)
    assert changed["embedded"] <= len(new_note)
    assert chunk_ids(w) == (before - old_note) | news_ids | new_note
    check_store(w)
    if w["store"] == "milvus":  # the collection of the generation before the previous one is dropped
        assert changed["milvus"]["inserted"] == changed["chunks_total"] and len(changed["milvus"]["dropped"]) == 1

    # deleting a document removes its chunks
    itu_ids = chunk_ids(w, ITU)
    (w["corpus"] / ITU).unlink()
    removed = run_index(w)
    assert removed["removed"] == [ITU] and removed["embedded"] == 0 and removed["embed_calls"] == 0
    with open_generation(w["index"]) as gen:
        assert {c.doc for c in gen.chunks} == {"note.md", "zh.md", NEWS}
    ids = check_store(w)
    assert not (ids & itu_ids)
    if w["store"] == "milvus":
        assert removed["milvus"]["inserted"] == removed["chunks_total"] and len(removed["milvus"]["dropped"]) == 1

    # ask, and eval, on the updated index
    rec = ask_json(w, "Which initiative shapes privacy rules in APEC?")
    assert rec["contexts"][0]["doc"] == "note.md", rec["contexts"][:2]
    assert ITU not in {c["doc"] for c in rec["contexts"]}
    eval_file = w["tmp"] / "eval.jsonl"
    eval_file.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in eval_items()), encoding="utf-8")
    ev = wpqa_json(*args(w), "eval", str(eval_file), "--retrieval-only", "--llm", "extractive", "--json")
    hits = {q["id"]: q["hit5"] for q in ev["questions"]}
    assert all(hits[x["id"]] for x in OWN_ITEMS), hits
    assert ev["table"]["overall"]["n"] == len(eval_items()) > len(OWN_ITEMS)

    # --rebuild starts from nothing but the embedding cache skips text it has seen
    rebuilt = run_index(w, "--rebuild")
    assert rebuilt["wrote"] and rebuilt["embedded"] == 0 and rebuilt["chunks_total"] == len(ids)
    assert check_store(w) == ids
    if w["store"] == "milvus":
        assert rebuilt["milvus"]["inserted"] == len(ids)

    rec_after = ask_json(w, "Which initiative shapes privacy rules in APEC?")
    return {"ids": ids, "ask": [(c["chunk_id"], c["score"]) for c in rec["contexts"]],
            "ask_after_rebuild": [(c["chunk_id"], c["score"]) for c in rec_after["contexts"]],
            "eval": ev["table"], "eval_rr": {q["id"]: q["rr10"] for q in ev["questions"]}, "embedded": [r["embedded"] for r in (first, again, added, changed, removed, rebuilt)]}
