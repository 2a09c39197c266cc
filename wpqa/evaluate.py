"""Scoring against an eval set in the format of shared/eval/README.md.

Per question (answerable ones): hit@1, hit@5, reciprocal rank within the top 10 (a retrieved
chunk is a hit when one gold evidence string is a substring of it once all whitespace is
removed from both), and, for answered questions, whether a citation names the gold document and
(where the set gives one) the gold section heading. Unanswerable questions count
towards abstention. Answer language is checked for every answered question. Citation accuracy
counts an answer whose citations include the gold document (and the gold heading).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from ingest.text import detect_lang

_WS = re.compile(r"\s+")


class EvalFormatError(Exception):
    pass


def squash(text: str) -> str:
    return _WS.sub("", text)


def load_eval_set(path: Path) -> list[dict]:
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as e:
            raise EvalFormatError(f"{path}:{n}: not valid JSON ({e.msg})") from e
        for key in ("id", "question"):
            if key not in item:
                raise EvalFormatError(f"{path}:{n}: missing field '{key}'")
        item.setdefault("kind", "all")
        item.setdefault("evidence", [])
        item.setdefault("lang", detect_lang(item["question"]))
        items.append(item)
    return items


def is_hit(text: str, evidence: list[str]) -> bool:
    t = squash(text)
    return any(squash(e) and squash(e) in t for e in evidence)


def section_matches(cited: str, gold: str | None) -> bool:
    """The cited heading is the last element of the cited path ("a > b > c" cites "c")."""
    if gold is None:
        return True
    heading = cited.split(" > ")[-1] if cited else ""
    return _WS.sub(" ", heading).strip() == _WS.sub(" ", gold).strip()


@dataclass
class QuestionScore:
    id: str
    kind: str
    answerable: bool
    hit1: bool = False
    hit5: bool = False
    rr10: float = 0.0
    abstained: bool | None = None  # None: not answered (retrieval only)
    cited_doc: bool | None = None  # None: not applicable (abstained / no gold)
    cited_section: bool | None = None
    any_citation: bool | None = None
    lang_ok: bool | None = None


def score_question(item: dict, contexts: list[dict], record: dict | None) -> QuestionScore:
    answerable = bool(item.get("evidence")) and item.get("doc") is not None
    qs = QuestionScore(item["id"], item.get("kind", "all"), answerable)
    if answerable:
        ranks = [i for i, c in enumerate(contexts[:10], 1) if c["doc"] == item["doc"] and is_hit(c["text"], item["evidence"])]
        if ranks:
            qs.rr10 = 1.0 / ranks[0]
            qs.hit1 = ranks[0] == 1
            qs.hit5 = ranks[0] <= 5
    if record is not None:
        qs.abstained = bool(record.get("abstained"))
        if not qs.abstained:
            cites = record.get("citations") or []
            qs.any_citation = bool(cites)
            qs.lang_ok = detect_lang(_strip_quotes(record.get("answer", ""))) == item.get("lang")
            if answerable:
                qs.cited_doc = any(c["doc"] == item["doc"] for c in cites)
                qs.cited_section = any(c["doc"] == item["doc"] and section_matches(c["section"], item.get("section"))
                                       for c in cites)
    return qs


def _strip_quotes(answer: str) -> str:
    """The answer body without the source quotes printed under it (they may be in the other language)."""
    return answer.split("\n\n> ")[0].split("\n> ")[0]


def _mean(vals) -> float | None:
    vals = [v for v in vals if v is not None]
    return round(sum(vals) / len(vals), 3) if vals else None


def summarise(scores: list[QuestionScore]) -> dict:
    groups: dict[str, list[QuestionScore]] = {}
    for s in scores:
        groups.setdefault(s.kind, []).append(s)
    cross = [s for s in scores if s.kind in ("en-zh", "zh-en")]
    table = {}
    for name, group in [*sorted(groups.items()), ("cross-lingual", cross), ("overall", scores)]:
        if not group:
            continue
        ans = [s for s in group if s.answerable]
        table[name] = {
            "n": len(group),
            "hit@1": _mean(float(s.hit1) for s in ans),
            "hit@5": _mean(float(s.hit5) for s in ans),
            "mrr@10": _mean(s.rr10 for s in ans),
            "cite_doc": _mean(None if s.cited_doc is None else float(s.cited_doc) for s in ans),
            "cite_section": _mean(None if s.cited_section is None else float(s.cited_section) for s in ans),
            "cited_any": _mean(None if s.any_citation is None else float(s.any_citation) for s in group),
            "abstain_unanswerable": _mean(None if s.abstained is None else float(s.abstained)
                                          for s in group if not s.answerable),
            "abstain_answerable": _mean(None if s.abstained is None else float(s.abstained) for s in ans),
            "answer_lang": _mean(None if s.lang_ok is None else float(s.lang_ok) for s in group),
        }
    return table
