"""Scoring against an eval set in the format of eval/README.md: the one scorer of `wpqa eval` and `bench/`.

Retrieval (answerable questions): a retrieved chunk is a hit when its document is the gold `doc`
and one gold evidence string is a substring of its text once all whitespace is removed from
both; hit@1, hit@5 and the reciprocal rank of the first hit within the top 10.

Answers: whether a citation names the gold document (and the gold section heading, where the
set gives one), abstention, answer language, and the answer text against the reference
`answer` (rules of the reference answer-quality tool, question by question):
  ref_recall  share of the reference's content words found in the answer body (jieba words for
              Chinese, lower-cased words for English, stop words dropped);
  pure        the body is in the question's language: an English body holds no CJK character, a
              Chinese body is at least 60% CJK among its letters (text in quotes or brackets is
              left out of both counts);
  clean       no truncation mark (… or ...), no NOT_FOUND, not a bare figure (or nothing but
              markers), no copied heading numbering (（一） 一、 Chapter N:) outside structure questions;
  good        answered and pure and clean and ref_recall >= 0.5;
  copies      the body repeats a cited quote (`qa.checks.copies`: held in it word for word, or
              nearly the same text), so the reader would read it twice;
  length      the body's length over the reference answer's (characters without spaces and
              punctuation; the table gives the median).
The body is the answer up to the first quoted source line ("> [n]") or a Sources block, without
its [n] markers. An answerable question that was abstained on scores 0 on all of them.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import jieba

from common.errors import WpqaError
from ingest.text import detect_lang
from qa.checks import copies, squash_words

KINDS = ("zh-zh", "en-zh", "en-en", "zh-en", "structure", "numeric", "unanswerable")
CROSS_LINGUAL = ("en-zh", "zh-en")
GOOD_RECALL = 0.5
_WS = re.compile(r"\s+")


class EvalFormatError(WpqaError):
    """The eval set cannot be read: FILE:LINE: reason."""


# ------------------------------------------------------------------------------ the eval set


def eval_lines(path: Path, text: str) -> Iterator[tuple[int, str, dict | None, str | None]]:
    """(line number, "FILE:LINE", item, problem) for each non-blank line of an eval file: the
    item is the line's JSON object, or None with the problem (not JSON, not an object)."""
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            item = json.loads(line)
        except json.JSONDecodeError as e:
            yield n, where, None, f"not valid JSON ({e.msg})"
            continue
        if not isinstance(item, dict):
            yield n, where, None, "not a JSON object"
            continue
        yield n, where, item, None


def load_eval_set(path: Path) -> list[dict]:
    """The items of an eval set, each checked: id, question and a known kind; an answerable item
    (any kind but `unanswerable`) also has its gold `doc` and a non-empty `evidence` list."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise EvalFormatError(f"{path}: not UTF-8 text ({e.reason})") from None
    items, seen = [], {}
    for n, where, item, problem in eval_lines(path, text):
        if problem:
            raise EvalFormatError(f"{where}: {problem}")
        _check_item(item, where)
        if item["id"] in seen:
            raise EvalFormatError(f"{where}: id {item['id']!r} already used on line {seen[item['id']]}")
        seen[item["id"]] = n
        item.setdefault("evidence", [])
        item.setdefault("doc", None)
        item.setdefault("section", None)
        item.setdefault("lang", detect_lang(item["question"]))
        items.append(item)
    if not items:
        raise EvalFormatError(f"{path}: no questions")
    return items


def _check_item(item: dict, where: str) -> None:
    for key in ("id", "question", "kind"):
        if key not in item:
            raise EvalFormatError(f"{where}: missing field '{key}'")
        if not isinstance(item[key], str) or not item[key].strip():
            raise EvalFormatError(f"{where}: field '{key}' must be a non-empty string")
    if item["kind"] not in KINDS:
        raise EvalFormatError(f"{where}: unknown kind {item['kind']!r} (one of {', '.join(KINDS)})")
    if item.get("lang") is not None and item["lang"] not in ("zh", "en"):
        raise EvalFormatError(f"{where}: lang must be 'zh' or 'en', not {item['lang']!r}")
    evidence = item.get("evidence", [])
    if not isinstance(evidence, list) or not all(isinstance(e, str) for e in evidence):
        raise EvalFormatError(f"{where}: 'evidence' must be a list of strings")
    for key in ("doc", "section", "answer"):
        if item.get(key) is not None and not isinstance(item[key], str):
            raise EvalFormatError(f"{where}: field '{key}' must be a string or null")
    if item["kind"] != "unanswerable":
        if not item.get("doc"):
            raise EvalFormatError(f"{where}: missing field 'doc' (a {item['kind']} question needs its gold document)")
        if not any(e.strip() for e in evidence):
            raise EvalFormatError(f"{where}: missing field 'evidence' (a {item['kind']} question needs gold evidence)")
    elif item.get("doc") or evidence:
        raise EvalFormatError(f"{where}: an unanswerable question has no 'doc' and no 'evidence'")


def answerable(item: dict) -> bool:
    return item.get("kind") != "unanswerable" and bool(item.get("evidence")) and item.get("doc") is not None


# ------------------------------------------------------------------------------ retrieval


def squash(text: str) -> str:
    return _WS.sub("", text or "")


def is_hit(text: str, evidence: list[str]) -> bool:
    t = squash(text)
    return any(squash(e) and squash(e) in t for e in evidence)


def first_hit_rank(item: dict, contexts: list[dict], depth: int = 10) -> int | None:
    """1-based rank of the first hit among the top `depth` contexts ({"doc", "text"}), or None."""
    for rank, c in enumerate(contexts[:depth], 1):
        if c.get("doc") == item.get("doc") and is_hit(c.get("text", ""), item.get("evidence", [])):
            return rank
    return None


def section_matches(cited: str, gold: str | None) -> bool:
    """The cited heading is the last element of the cited path ("a > b > c" cites "c")."""
    if gold is None:
        return True
    heading = cited.split(" > ")[-1] if cited else ""
    return _WS.sub(" ", heading).strip() == _WS.sub(" ", gold).strip()


# ------------------------------------------------------------------------------ answer text

_CJK = re.compile(r"[\u3400-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")
_MARKER = re.compile(r"\[\d+\]")
_QUOTED = re.compile(r"“[^”]*”|\"[^\"]*\"|《[^》]*》|（[^）]*）|\([^)]*\)|「[^」]*」")
_BARE = re.compile(r"[\s\d.,，。%％个年月日亿万千百美元]*")  # nothing but a figure (or nothing at all)
_HEADING = re.compile(r"（[一二三四五六七八九十]+）|(^|[。\s])[一二三四五六七八九十]+、|Chapter \d+:")
_DEBRIS = re.compile(r"…|\.\.\.|NOT_FOUND")
EN_STOP = frozenset("""a an the of to in on for and or by with as at from that this these those is are was were be
been it its their his her which who what how why when where does do did not no can could should would will may
also more most than such into about over under between both each other any all some there they them we our
white paper papers report document says say according""".split())
ZH_STOP = frozenset("的 了 和 与 及 是 在 为 对 等 中 也 而 并 将 以 其 之 或 有 由 于 把 被 这 那 一 个 上 下 我 们 你 他 它 "
                    "白皮书 认为 指出 提到 称".split())
_jieba: jieba.Tokenizer | None = None  # a private tokenizer: words added elsewhere never change a score


def answer_body(answer: str) -> str:
    """The answer text up to the first quoted source line or Sources block, without [n] markers."""
    lines = []
    for line in (answer or "").splitlines():
        s = line.strip()
        if s.startswith(">") or s.lower().startswith(("sources:", "来源")):
            break
        lines.append(line)
    return _MARKER.sub("", "\n".join(lines)).strip()


def content_words(text: str, lang: str) -> list[str]:
    """Jieba words (Chinese) or lower-cased words (English), stop words and punctuation dropped."""
    global _jieba
    if lang == "zh":
        if _jieba is None:
            _jieba = jieba.Tokenizer()
        return [w for w in _jieba.lcut(text) if w.strip() and re.search(r"\w", w) and w not in ZH_STOP]
    return [w for w in re.findall(r"[a-z0-9]+(?:[-'][a-z0-9]+)*", text.lower()) if w not in EN_STOP]


def ref_recall(body: str, reference: str, lang: str) -> float:
    ref = set(content_words(reference, lang))
    return len(ref & set(content_words(body, lang))) / max(1, len(ref))


def is_pure(body: str, lang: str) -> bool:
    """Names in quotes or brackets may keep their own language; the rest must be the question's."""
    rest = _QUOTED.sub(" ", body)
    cjk, latin = len(_CJK.findall(rest)), len(_LATIN.findall(rest))
    if lang == "en":
        return cjk == 0
    return cjk >= 0.6 * max(1, cjk + latin)


def is_clean(body: str, kind: str) -> bool:
    """A structure question is answered with section titles, so it may keep their numbering."""
    return (not _DEBRIS.search(body) and not _BARE.fullmatch(body)
            and (kind == "structure" or not _HEADING.search(body)))


# ------------------------------------------------------------------------------ per question


@dataclass
class QuestionScore:
    id: str
    kind: str
    answerable: bool
    rank: int | None = None  # first hit within the top 10
    hit1: bool = False
    hit5: bool = False
    rr10: float = 0.0
    abstained: bool | None = None  # None: not answered (retrieval only)
    cited_doc: bool | None = None  # None: not applicable (abstained / no gold)
    cited_section: bool | None = None
    any_citation: bool | None = None
    lang_ok: bool | None = None
    answered: bool | None = None  # answer text: answerable questions with a record only
    ref_recall: float | None = None  # None also where the item has no reference answer
    pure: bool | None = None
    clean: bool | None = None
    good: bool | None = None
    copies: bool | None = None
    length: float | None = None


def score_question(item: dict, contexts: list[dict], record: dict | None) -> QuestionScore:
    """Scores of one question from its retrieved contexts and (unless retrieval only) its answer record."""
    qs = QuestionScore(item["id"], item.get("kind", ""), answerable(item))
    if qs.answerable:
        qs.rank = first_hit_rank(item, contexts)
        if qs.rank:
            qs.rr10, qs.hit1, qs.hit5 = 1.0 / qs.rank, qs.rank == 1, qs.rank <= 5
    if record is None:
        return qs
    qs.abstained = bool(record.get("abstained"))
    if not qs.abstained:
        cites = record.get("citations") or []
        qs.any_citation = bool(cites)
        qs.lang_ok = detect_lang(answer_body(record.get("answer", ""))) == item.get("lang")
        if qs.answerable:
            qs.cited_doc = any(c["doc"] == item["doc"] for c in cites)
            qs.cited_section = any(c["doc"] == item["doc"] and section_matches(c["section"], item.get("section"))
                                   for c in cites)
    if qs.answerable:
        _score_text(qs, item, record)
    return qs


def _score_text(qs: QuestionScore, item: dict, record: dict) -> None:
    qs.answered = not qs.abstained and bool(record.get("answer"))
    has_ref = bool(item.get("answer"))
    if not qs.answered:
        qs.pure = qs.clean = False
        qs.ref_recall, qs.good = (0.0, False) if has_ref else (None, None)
        return
    body, lang = answer_body(record["answer"]), item["lang"]
    qs.pure, qs.clean = is_pure(body, lang), is_clean(body, item["kind"])
    qs.copies = any(copies(body, c.get("quote") or "") for c in record.get("citations") or [])
    if has_ref:
        qs.ref_recall = ref_recall(body, item["answer"], lang)
        qs.good = qs.pure and qs.clean and qs.ref_recall >= GOOD_RECALL
        qs.length = round(len(squash_words(body)) / max(1, len(squash_words(item["answer"]))), 3)


def score_retrieval(items: list[dict], contexts: dict[str, list[dict]]) -> list[QuestionScore]:
    """Retrieval scores of every item from {id: contexts} (bench systems that only retrieve)."""
    return [score_question(it, contexts.get(it["id"], []), None) for it in items]


# ------------------------------------------------------------------------------ the table


def _mean(vals) -> float | None:
    vals = [float(v) for v in vals if v is not None]
    return round(sum(vals) / len(vals), 3) if vals else None


def _median(vals) -> float | None:
    vals = sorted(float(v) for v in vals if v is not None)
    if not vals:
        return None
    mid = len(vals) // 2
    return round(vals[mid] if len(vals) % 2 else (vals[mid - 1] + vals[mid]) / 2, 3)


def groups(scores: list[QuestionScore]) -> list[tuple[str, list[QuestionScore]]]:
    """Each kind present (in KINDS order), then cross-lingual (en-zh + zh-en) and overall."""
    out = [(k, [s for s in scores if s.kind == k]) for k in KINDS]
    out += [("cross-lingual", [s for s in scores if s.kind in CROSS_LINGUAL]), ("overall", scores)]
    return [(name, g) for name, g in out if g]


def summarise(scores: list[QuestionScore]) -> dict:
    """{group: {column: value}}; a column is None where nothing in the group applies to it."""
    table = {}
    for name, group in groups(scores):
        ans = [s for s in group if s.answerable]
        table[name] = {
            "n": len(group),
            "answerable": len(ans),
            "hit@1": _mean(s.hit1 for s in ans),
            "hit@5": _mean(s.hit5 for s in ans),
            "mrr@10": _mean(s.rr10 for s in ans),
            "cite_doc": _mean(s.cited_doc for s in ans),
            "cite_section": _mean(s.cited_section for s in ans),
            "cited_any": _mean(s.any_citation for s in group),
            "abstain_unanswerable": _mean(s.abstained for s in group if not s.answerable),
            "abstain_answerable": _mean(s.abstained for s in ans),
            "answer_lang": _mean(s.lang_ok for s in group),
            "answered": _mean(s.answered for s in ans),
            "ref_recall": _mean(s.ref_recall for s in ans),
            "pure": _mean(s.pure for s in ans),
            "clean": _mean(s.clean for s in ans),
            "good": _mean(s.good for s in ans),
            "copies_quote": _mean(s.copies for s in ans),
            "length_ratio": _median(s.length for s in ans),
        }
    return table
