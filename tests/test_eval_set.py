"""The project's evaluation set (eval/questions.jsonl), checked by scripts/check_eval.py with
wpqa's own ingest of corpus/: sound, and covering every kind, document and Chinese chapter."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.helpers import CORPUS, ROOT

CHECK = ROOT / "scripts" / "check_eval.py"
PROJECT_EVAL = ROOT / "eval" / "questions.jsonl"
ZH = "全球数字治理白皮书(2020年).pdf"
KINDS = ("zh-zh", "en-zh", "en-en", "zh-en", "structure", "numeric", "unanswerable")
ZH_CHAPTERS = ["前言", "一、数字全球化与全球治理新挑战", "二、数字时代的全球治理新图景",
               "三、全球性多边框架下的数字治理创新与困境", "四、双边和区域性机制塑造数字治理规则模板",
               "五、私营部门日益成为全球数字治理的重要力量", "六、全球数字治理展望"]


def run_check(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CHECK), *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


def project_items() -> list[dict]:
    return [json.loads(x) for x in PROJECT_EVAL.read_text(encoding="utf-8").splitlines() if x.strip()]


@pytest.mark.slow  # reads the whole corpus (about 5-8 s)
def test_project_eval_set_is_sound_and_covers_the_corpus():
    p = run_check(str(PROJECT_EVAL), "--json")
    report = json.loads(p.stdout)
    assert report["problems"] == [] and p.returncode == 0, "\n".join(report["problems"]) + p.stderr
    items = project_items()
    assert report["items"] == len(items) >= 60
    assert [x["id"] for x in items] == [f"q{n:03d}" for n in range(1, len(items) + 1)]
    assert all(report["kinds"].get(k, 0) >= 3 for k in KINDS), report["kinds"]
    assert report["kinds"]["unanswerable"] >= 4
    assert set(report["docs"]) == {p.name for p in CORPUS.iterdir() if p.suffix == ".pdf"} | {"None"}
    assert all(report["chapters"][ZH].get(ch, 0) >= 2 for ch in ZH_CHAPTERS), report["chapters"][ZH]
    # sections below the chapters are spread too: most （一）-level sections of the Chinese paper have a question
    zh_sections = {x["section"] for x in items if x["doc"] == ZH and x["section"].startswith("（")}
    assert len(zh_sections) >= 20
    # structure questions on the Chinese paper and on English documents, asked in both languages
    structure = [x for x in items if x["kind"] == "structure"]
    assert {x["doc"] == ZH for x in structure} == {True, False}
    assert {x["lang"] for x in structure} == {"zh", "en"}
    # both languages ask numeric questions
    assert {x["lang"] for x in items if x["kind"] == "numeric"} == {"zh", "en"}


@pytest.mark.slow  # reads the whole corpus (about 5-8 s)
def test_checker_reports_each_broken_item_with_its_line(tmp_path):
    items = project_items()
    good = next(x for x in items if x["kind"] == "zh-zh" and x["section"] == "（五）小结：共识匮乏导致多边框架举步维艰")
    other_section = next(x["section"] for x in items if x["doc"] == ZH and x["section"] != good["section"])
    news = next(x for x in items if x["kind"] == "en-en" and x["section"] is None)
    broken = [
        (dict(good, id="b001", evidence=[good["evidence"][0] + "的"]), "not found verbatim"),
        (dict(good, id="b002", section=other_section), f"not inside section '{other_section}'"),
        (dict(good, id="b003", section="（九）没有这一节"), "is not a section of"),
        (dict(good, id="b004", evidence=["全球数字治理"]), "times in the document"),
        (dict(good, id="b005", lang="en"), "the question reads as 'zh'"),
        (dict(good, id="b006", kind="unanswerable"), "unanswerable items have doc null"),
        (dict(good, id="b007", doc="missing.pdf"), "is not in the corpus"),
        (dict(news, id="b008", kind="zh-en"), "kind zh-en needs a 'zh' question"),
        (dict(good, id="b009", evidence=[good["section"]]), "lies in a heading"),
        ({k: v for k, v in good.items() if k != "answer"} | {"id": "b010"}, "missing field(s) answer"),
        (dict(good, id="b001"), "duplicate id"),
    ]
    f = tmp_path / "broken.jsonl"
    lines = [json.dumps(dict(good, id="b000"), ensure_ascii=False)]
    lines += [json.dumps(item, ensure_ascii=False) for item, _ in broken]
    lines.append("{not json")
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    p = run_check(str(f))
    assert p.returncode == 1, p.stdout + p.stderr
    out = p.stdout.splitlines()
    assert not [x for x in out if x.startswith(f"{f}:1 ")], out  # the sound item
    for n, (item, reason) in enumerate(broken, 2):
        mine = [x for x in out if x.startswith(f"{f}:{n} {item['id']}: ")]
        assert any(reason in x for x in mine), (n, reason, mine)
    assert f"{f}:{len(lines)}: not valid JSON" in p.stdout
    assert f"{len(broken) + 1} items" in p.stdout  # the summary counts every item it could read


def test_checker_names_a_missing_file(tmp_path):
    p = run_check(str(tmp_path / "nope.jsonl"))
    assert p.returncode == 2 and p.stderr.strip() == f"{tmp_path / 'nope.jsonl'}: no such file"
