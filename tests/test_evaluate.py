"""The eval scorer (wpqa/evaluate.py): answer-text scores agree with the reference answer-quality
tool question by question, the eval file is checked line by line, and `wpqa eval` reports both.

The expected values below were computed once with the reference tool (answer_quality.py of the
shared eval kit) on exactly these records; the test does not read it.
"""
from __future__ import annotations

import json

import pytest

from common.errors import WpqaError
from tests.helpers import EVAL, wpqa, wpqa_json
from wpqa.evaluate import (
    EvalFormatError,
    answer_body,
    load_eval_set,
    score_question,
    summarise,
)

ZH_DOC = "全球数字治理白皮书(2020年).pdf"
EN_DOC = "ITU.pdf"
REF_ZH = "经济全球化遭遇逆流，保护主义、单边主义上升，国际贸易和投资大幅萎缩。"
REF_EN = "Plurilateral talks on e-commerce were launched by 76 WTO members in January 2019."


def _item(qid, lang, kind, question, ref, doc=ZH_DOC):
    answerable = kind != "unanswerable"
    return {"id": qid, "lang": lang, "kind": kind, "question": question, "doc": doc if answerable else None,
            "section": None, "evidence": ["x"] if answerable else [], "answer": ref}


def _rec(qid, answer, abstained=False):
    cites = [] if abstained else [{"n": 1, "doc": ZH_DOC, "section": "一、数字全球化", "page": 3, "chunk_id": "c1",
                                   "quote": "q"}]
    return {"id": qid, "answer": answer, "abstained": abstained, "citations": cites, "timings_ms": {"total": 1000}}


# (item, record, expected (answered, ref_recall, pure, clean, good)) -- one rule each
CASES = [
    (_item("z-good", "zh", "zh-zh", "2020年全球化遭遇了哪些冲击？", REF_ZH),
     _rec("z-good", "经济全球化遭遇逆流，保护主义和单边主义上升，国际贸易和投资大幅萎缩[1]。\n\n"
                    "> [1] 全球数字治理白皮书 › 一、数字全球化（第3页）\n> 国际贸易和投资大幅萎缩。"),
     (True, 11 / 11, True, True, True)),
    # the quoted source under an English answer is Chinese: it is not part of the body
    (_item("e-good", "en", "en-zh", "When were the e-commerce talks launched?", REF_EN),
     _rec("e-good", "In January 2019, 76 WTO members launched plurilateral talks on e-commerce [1].\n\n"
                    "> [1] 世贸组织电子商务诸边谈判于2019年1月启动，共有76个成员参加。"),
     (True, 9 / 9, True, True, True)),
    (_item("e-mixed", "en", "en-zh", "When were the e-commerce talks launched?", REF_EN),
     _rec("e-mixed", "In January 2019, WTO members launched 电子商务 plurilateral talks [1]."),
     (True, 7 / 9, False, True, False)),
    (_item("z-english", "zh", "zh-en", "电子商务谈判何时启动？", "2019年1月，76个世贸组织成员启动了电子商务诸边谈判。", EN_DOC),
     _rec("z-english", "In January 2019, 76 WTO members launched the e-commerce plurilateral negotiations [1]。"),
     (True, 2 / 11, False, True, False)),
    # a name in quotes may keep its language
    (_item("z-named", "zh", "zh-en", "哪个倡议塑造了隐私规则？", "“Pathfinder Initiative”（探路者倡议）塑造了亚太经合组织的隐私规则。", EN_DOC),
     _rec("z-named", "“Pathfinder Initiative”（探路者倡议）塑造了亚太经合组织的隐私规则[1]。"),
     (True, 8 / 8, True, True, True)),
    (_item("z-trunc", "zh", "zh-zh", "2020年全球化遭遇了哪些冲击？", REF_ZH),
     _rec("z-trunc", "经济全球化遭遇逆流，保护主义、单边主义上升，国际贸易和投资…[1]"),
     (True, 9 / 11, True, False, False)),
    (_item("z-heading", "zh", "zh-zh", "电子商务谈判何时启动？", "2019年1月，世贸组织成员启动了电子商务诸边谈判。"),
     _rec("z-heading", "2019年1月，世贸组织框架下的数字治理创新案例（二）世界贸易组织：成员启动了电子商务诸边谈判[1]。"),
     (True, 10 / 10, True, False, False)),
    # a structure question may list numbered section titles
    (_item("s-heading", "zh", "structure", "第四章包括哪些部分？", "第四章包括（一）二十国集团和（二）世界贸易组织等部分。"),
     _rec("s-heading", "第四章包括（一）二十国集团和（二）世界贸易组织两部分[1]。"),
     (True, 6 / 6, True, True, True)),
    (_item("e-notfound", "en", "en-en", "When were the e-commerce talks launched?", REF_EN, EN_DOC),
     _rec("e-notfound", "Plurilateral talks on e-commerce were launched by 76 WTO members in January 2019 [1]. NOT_FOUND"),
     (True, 9 / 9, True, False, False)),
    (_item("n-bare", "zh", "numeric", "哪一年启动了谈判？", "2017年，成员启动了谈判。"),
     _rec("n-bare", "2017年[1]"),
     (True, 2 / 5, True, False, False)),
    (_item("z-markers", "zh", "zh-zh", "2020年全球化遭遇了哪些冲击？", REF_ZH),
     _rec("z-markers", "[1][2]"),
     (True, 0.0, False, False, False)),
    # abstaining on an answerable question is not good
    (_item("e-abstain", "en", "en-en", "When were the e-commerce talks launched?", REF_EN, EN_DOC),
     _rec("e-abstain", "The documents do not contain the answer.", abstained=True),
     (False, 0.0, False, False, False)),
    (_item("e-short", "en", "en-en", "When were the e-commerce talks launched?", REF_EN, EN_DOC),
     _rec("e-short", "The talks matter for trade [1]."),
     (True, 1 / 9, True, True, False)),
    # an unanswerable question takes no part in the answer-text scores
    (_item("u-abstain", "en", "unanswerable", "On which day did DEPA enter into force?", "The documents do not say."),
     _rec("u-abstain", "The documents do not contain the answer.", abstained=True),
     (None, None, None, None, None)),
]


@pytest.mark.parametrize("item,record,expected", CASES, ids=[c[0]["id"] for c in CASES])
def test_answer_text_scores_agree_with_the_reference_tool(item, record, expected):
    s = score_question(item, [], record)
    answered, recall, pure, clean, good = expected
    assert (s.answered, s.pure, s.clean, s.good) == (answered, pure, clean, good)
    assert s.ref_recall == pytest.approx(recall) if recall is not None else s.ref_recall is None


def test_overall_answer_text_scores_agree_with_the_reference_tool():
    """The reference tool's summary of the same 14 records (13 answerable)."""
    row = summarise([score_question(i, [], r) for i, r, _ in CASES])["overall"]
    assert (row["n"], row["answerable"]) == (14, 13)
    assert row["answered"] == 0.923
    assert row["ref_recall"] == 0.638
    assert row["pure"] == 0.692
    assert row["clean"] == 0.538
    assert row["good"] == 0.308
    assert row["abstain_unanswerable"] == 1.0


def test_the_body_stops_at_the_quoted_sources_and_drops_markers():
    assert answer_body("A sentence [1]. Another [2].\n\n> [1] doc › sec\n> quote") == "A sentence . Another ."
    assert answer_body("要点[1]。\nSources:\n[1] x") == "要点。"


def test_retrieval_only_leaves_answer_columns_empty():
    item = CASES[0][0] | {"evidence": ["国际贸易和投资大幅萎缩"]}
    contexts = [{"doc": EN_DOC, "text": "国际贸易和投资大幅萎缩"},  # right text, wrong document
                {"doc": ZH_DOC, "text": "……国际贸易和 投资大幅\n萎缩……"}]
    s = score_question(item, contexts, None)
    assert (s.rank, s.hit1, s.hit5, s.rr10) == (2, False, True, 0.5)
    row = summarise([s])["overall"]
    assert row["hit@5"] == 1.0 and row["mrr@10"] == 0.5
    for col in ("answered", "ref_recall", "pure", "clean", "good", "cite_doc", "answer_lang"):
        assert row[col] is None, col


# ------------------------------------------------------------------------------ the eval file


def _write(tmp_path, lines: list[str]):
    p = tmp_path / "set.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


GOOD = json.dumps({"id": "a", "lang": "en", "kind": "en-en", "question": "Q?", "doc": "d.pdf", "section": None,
                   "evidence": ["e"], "answer": "A."})


@pytest.mark.parametrize("bad,reason", [
    ("{not json", "not valid JSON"),
    (json.dumps({"id": "b", "kind": "en-en", "doc": "d.pdf", "evidence": ["e"]}), "missing field 'question'"),
    (json.dumps({"id": "b", "question": "Q?", "doc": "d.pdf", "evidence": ["e"]}), "missing field 'kind'"),
    (json.dumps({"id": "b", "question": "Q?", "kind": "trivia", "doc": "d.pdf", "evidence": ["e"]}), "unknown kind 'trivia'"),
    (json.dumps({"id": "b", "question": "Q?", "kind": "zh-zh", "evidence": ["e"]}), "missing field 'doc'"),
    (json.dumps({"id": "b", "question": "Q?", "kind": "zh-zh", "doc": "d.pdf", "evidence": "e"}), "list of strings"),
    (json.dumps({"id": "a", "question": "Q?", "kind": "en-en", "doc": "d.pdf", "evidence": ["e"]}), "already used on line 1"),
    ("[1, 2]", "not a JSON object"),
])
def test_a_malformed_eval_file_names_file_line_and_reason(tmp_path, bad, reason):
    path = _write(tmp_path, [GOOD, "", bad])
    with pytest.raises(EvalFormatError) as e:
        load_eval_set(path)
    assert isinstance(e.value, WpqaError)
    assert str(e.value).startswith(f"{path}:3: ") and reason in str(e.value)


def test_the_project_eval_set_loads():
    items = load_eval_set(EVAL)
    assert items and all(it["lang"] in ("zh", "en") for it in items)


def test_wpqa_eval_rejects_a_bad_file_and_an_unwritable_records_path_in_one_line(tmp_path):
    bad = _write(tmp_path, [GOOD, json.dumps({"id": "b", "question": "Q?", "kind": "essay"})])
    p = wpqa("eval", str(bad), "--llm", "extractive", check=False)
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and f"{bad}:2: unknown kind 'essay'" in p.stderr
    good = _write(tmp_path, [GOOD])
    folder = tmp_path / "records"
    folder.mkdir()
    for target in (folder, tmp_path / "file.txt" / "records.jsonl"):
        (tmp_path / "file.txt").write_text("x")
        p = wpqa("eval", str(good), "--llm", "extractive", "--records", str(target), check=False)
        assert p.returncode == 1 and "Traceback" not in p.stderr, p.stderr
        assert len(p.stderr.strip().splitlines()) == 1 and str(target) in p.stderr


@pytest.mark.slow
def test_wpqa_eval_scores_answers_as_the_scorer_does_from_its_records(corpus_index, tmp_path):
    """`wpqa eval --llm extractive --records F`: the table's answer columns are the scorer's over the
    written records, and `--retrieval-only` gives the same retrieval columns with empty answer columns."""
    items = [json.loads(x) for x in EVAL.read_text(encoding="utf-8").splitlines() if x.strip()]
    picked = [next(it for it in items if it["kind"] == k) for k in ("zh-zh", "en-en", "numeric", "unanswerable")]
    path = _write(tmp_path, [json.dumps(it, ensure_ascii=False) for it in picked])
    records = tmp_path / "out" / "records.jsonl"
    full = wpqa_json(*corpus_index["args"], "eval", str(path), "--llm", "extractive", "--records", str(records), "--json")
    recs = {r["id"]: r for r in map(json.loads, records.read_text(encoding="utf-8").splitlines())}
    assert set(recs) == {it["id"] for it in picked}
    again = summarise([score_question(it, recs[it["id"]]["contexts"], recs[it["id"]]) for it in load_eval_set(path)])
    assert full["table"] == again
    assert full["table"]["overall"]["good"] is not None
    ronly = wpqa_json(*corpus_index["args"], "eval", str(path), "--llm", "extractive", "--retrieval-only", "--json")
    for col in ("hit@1", "hit@5", "mrr@10"):
        assert ronly["table"]["overall"][col] == full["table"]["overall"][col]
    for col in ("answered", "ref_recall", "pure", "clean", "good"):
        assert ronly["table"]["overall"][col] is None
