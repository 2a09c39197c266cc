"""Answers, citations, abstention and question files, on a real index of the bundled corpus."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from qa.answer import numbers
from wpqa.batch import csv_safe, read_questions
from tests.helpers import EVAL, PROJECT_EVAL, ROOT, load_eval, wpqa, wpqa_json

RECORD_KEYS = {"id", "question", "answer", "abstained", "citations", "contexts", "timings_ms"}
CITATION_KEYS = {"n", "doc", "section", "page", "chunk_id", "quote"}
CONTEXT_KEYS = {"rank", "doc", "section", "page", "chunk_id", "score", "text"}


def test_numbers_are_normalised():
    assert numbers("6,814 devices; about 34% in 2019") == {"6814", "34", "2019"}
    assert numbers("联网工业设备数量共计6814个") == {"6814"}
    assert numbers("The G20, SDG16, COVID-19 and 5G; 1990s, 12bn and 20th") == {"1990", "12", "20"}


@pytest.mark.slow
def test_ask_json_record_extractive(corpus_index):
    rec = wpqa_json(*corpus_index["args"], "ask", "--llm", "extractive", "--json", "WTO电子商务诸边谈判的启动时间是哪年哪月？")
    assert RECORD_KEYS <= set(rec)
    assert rec["abstained"] is False and rec["citations"]
    assert all(CITATION_KEYS <= set(c) for c in rec["citations"])
    assert [c["rank"] for c in rec["contexts"]] == list(range(1, len(rec["contexts"]) + 1))
    assert all(CONTEXT_KEYS <= set(c) for c in rec["contexts"])
    top = rec["contexts"][0]
    assert top["doc"] == "全球数字治理白皮书(2020年).pdf"
    assert top["section"].endswith("（二）世界贸易组织：以诸边谈判推进电子商务全球合作")
    assert "76个WTO成员" in "".join(c["text"] for c in rec["contexts"]).replace(" ", "")


@pytest.mark.slow
def test_cross_lingual_without_llm(corpus_index):
    """An English question whose answer only the Chinese paper holds finds it with no translation."""
    for q in ["During the first six months of 2019, what number of internet-exposed industrial devices did "
              "monitoring turn up inside China?",
              "What count of exposed industrial control equipment connected to networks was reported for China in H1 2019?"]:
        rec = wpqa_json(*corpus_index["args"], "ask", "--llm", "extractive", "--json", q)
        docs = [c["doc"] for c in rec["contexts"]]
        assert "全球数字治理白皮书(2020年).pdf" in docs, (q, docs)
        assert any("6814" in c["text"] for c in rec["contexts"]), q


@pytest.mark.slow
def test_unanswerable_abstains(corpus_index):
    for q in ["《个人信息保护法》规定违法处理个人信息最高罚款多少？", "欧盟《数字市场法》对守门人平台设定了哪些义务？"]:
        rec = wpqa_json(*corpus_index["args"], "ask", "--llm", "extractive", "--json", q)
        assert rec["abstained"] is True and rec["citations"] == [], q
        assert "没有" in rec["answer"]  # said in the question's language


@pytest.mark.slow
def test_batch_formats_resume_and_bad_lines(corpus_index, tmp_path):
    qs = tmp_path / "q.jsonl"
    qs.write_text('{"id": "a", "question": "亚太经合组织的电子商务指导小组负责哪些工作？"}\n\n'
                  "{not json\n"
                  '{"id": "b", "question": "Where was the G20 summit that first put the digital economy on its agenda held?"}\n'
                  '{"id": "c"}\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    p = wpqa(*corpus_index["args"], "batch", str(qs), "-o", str(out), "--llm", "extractive")
    assert "q.jsonl:3" in p.stderr and "q.jsonl:5" in p.stderr  # malformed lines named by number
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in lines] == ["a", "b"]
    assert all(RECORD_KEYS <= set(r) for r in lines)
    # a rerun answers nothing again; a torn last line from a killed run is repaired
    with open(out, "a", encoding="utf-8") as f:
        f.write('{"id": "zz", "quest')
    p = wpqa(*corpus_index["args"], "batch", str(qs), "-o", str(out), "--llm", "extractive")
    assert [json.loads(x)["id"] for x in out.read_text(encoding="utf-8").splitlines()] == ["a", "b"]
    # .txt in, .csv and .md out
    txt = tmp_path / "q.txt"
    txt.write_text("=HYPERLINK(\"http://x\") Who runs the Global Symposium for Regulators (GSR)?\n\n"
                   "Which city hosted the 2016 G20 summit?\n", encoding="utf-8")
    csv_out = tmp_path / "a.csv"
    wpqa(*corpus_index["args"], "batch", str(txt), "-o", str(csv_out), "--llm", "extractive")
    body = csv_out.read_text(encoding="utf-8")
    assert "'=HYPERLINK" in body and "\n=HYPERLINK" not in body and ",=HYPERLINK" not in body
    md_out = tmp_path / "a.md"
    wpqa(*corpus_index["args"], "batch", str(txt), "-o", str(md_out), "--llm", "extractive")
    assert md_out.read_text(encoding="utf-8").count("## ") == 2


@pytest.mark.slow
def test_batch_killed_mid_run_ends_with_one_line_per_question(corpus_index, tmp_path):
    topics = ["data security", "digital trade", "e-commerce negotiations", "cross-border data flows", "digital taxation",
              "5G networks", "artificial intelligence", "platform governance", "the digital divide", "cybersecurity"]
    items = [{"id": f"k{i}", "question": q} for i, q in enumerate(
        [f"What does the report say about {t}?" for t in topics]
        + [f"Which organisations work on {t}?" for t in topics]
        + [f"白皮书如何看待{t}？" for t in ("数据安全", "数字贸易", "电子商务谈判", "数据跨境流动", "数字税",
                                       "5G网络", "人工智能", "平台治理", "数字鸿沟", "网络安全")])]
    qs = tmp_path / "questions.jsonl"
    qs.write_text("".join(json.dumps({"id": it["id"], "question": it["question"]}, ensure_ascii=False) + "\n"
                          for it in items), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    cmd = [sys.executable, "-m", "wpqa.cli", *corpus_index["args"], "batch", str(qs), "-o", str(out), "--llm", "extractive"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if out.exists() and out.read_text(encoding="utf-8").count("\n") >= 3:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = out.read_text(encoding="utf-8").count("\n")
    assert 3 <= done < len(items), "the kill should land mid-run"
    wpqa(*corpus_index["args"], "batch", str(qs), "-o", str(out), "--llm", "extractive")
    ids = [json.loads(x)["id"] for x in out.read_text(encoding="utf-8").splitlines()]
    assert sorted(ids) == sorted(it["id"] for it in items) and len(ids) == len(set(ids))


def test_question_file_formats(tmp_path):
    p = tmp_path / "q.csv"
    p.write_text("id,question\n1,第一个问题？\n2,\n3,Third question?\n", encoding="utf-8")
    qs, warnings = read_questions(p)
    assert [(q.id, q.question) for q in qs] == [("1", "第一个问题？"), ("3", "Third question?")]
    assert warnings and "q.csv:3" in warnings[0]
    g = tmp_path / "gbk.txt"
    g.write_bytes("数字治理是什么？\n\n跨境数据流动？\n".encode("gbk"))
    assert [q.question for q in read_questions(g)[0]] == ["数字治理是什么？", "跨境数据流动？"]


def test_csv_safe():
    assert csv_safe("=1+1") == "'=1+1" and csv_safe("-2") == "'-2" and csv_safe("@x") == "'@x"
    assert csv_safe("+x") == "'+x" and csv_safe("ok") == "ok"


@pytest.mark.slow
def test_eval_retrieval_only_json(corpus_index):
    res = wpqa_json(*corpus_index["args"], "eval", str(EVAL), "--retrieval-only", "--llm", "extractive", "--json")
    table = res["table"]
    items = load_eval()
    assert table["overall"]["n"] == len(items)
    assert table["overall"]["answerable"] == sum(bool(x["evidence"]) for x in items)
    assert len(res["questions"]) == len(items) and res["translate"] is False
    if EVAL != PROJECT_EVAL:
        return  # the figures below are the project set's
    # without an LLM (no translation) the hybrid retrieval finds most answers: measured 0.855
    # overall (71 of 83), 0.963 on zh-zh and 1.0 on numeric questions (the stock recipe: 0.57 on the dev set)
    assert table["overall"]["hit@5"] >= 0.78
    assert table["zh-zh"]["hit@5"] >= 0.9
    assert table["numeric"]["hit@5"] >= 0.9


@pytest.mark.slow
def test_zscore_statistics_are_exact_over_each_language_partition(corpus_index):
    """The mean and spread of q·v over a whole language partition, from its mean vector and
    covariance, equal the direct computation (for chunk vectors and for random unit vectors)."""
    import numpy as np

    from index.generation import open_generation
    from qa.retrieve import HybridSearcher

    with open_generation(corpus_index["index"]) as gen:
        s = HybridSearcher(gen, None)
        rng = np.random.default_rng(0)
        rand = rng.standard_normal((3, gen.vectors.shape[1])).astype(np.float32)
        queries = np.vstack([gen.vectors[:3], rand / np.linalg.norm(rand, axis=1, keepdims=True)])
        for lang in ("zh", "en"):
            rows = s.lang_rows[lang]
            assert len(rows) > 10
            for q in queries:
                direct = gen.vectors[rows] @ q
                mu, sd = s.partition_stats(lang).z(q)
                assert abs(mu - direct.mean()) < 1e-5 and abs(sd - direct.std()) < 1e-4


@pytest.mark.slow
def test_citation_gives_the_page_of_the_quote_when_a_chunk_runs_over_a_page_break(tmp_path):
    """A chunk that starts on page 1 and goes on to page 2: the answer quotes a page-2 sentence,
    so the citation says p.2 (the retrieved context, the whole chunk, still starts on p.1)."""
    from tests.helpers import write_config
    from tests.pdfgen import make_pdf

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    filler = "Harbour records from the northern coast describe tides, storms and the repair of the old pier in detail."
    make_pdf(corpus / "harbour.pdf", [["Harbour Records", "Background", filler, filler.replace("tides", "winds")],
                                      [filler.replace("tides", "fog"),
                                       "The lighthouse keeper counted 47 ships entering the harbour in 1911."]])
    args = ["--config", str(write_config(tmp_path / "config.toml")), "--corpus", str(corpus),
            "--index-dir", str(tmp_path / "index")]
    wpqa(*args, "index")
    rec = wpqa_json(*args, "ask", "--llm", "extractive", "--json", "How many ships did the lighthouse keeper count?")
    assert rec["contexts"][0]["doc"] == "harbour.pdf" and rec["contexts"][0]["page"] == 1
    assert not rec["abstained"] and "47" in rec["answer"]
    cit = next(c for c in rec["citations"] if "lighthouse" in c["quote"])
    assert cit["page"] == 2 and cit["section"] == "Background"


