#!/usr/bin/env python
"""Check eval sets against the corpus with wpqa's own ingest (the format is in eval/README.md).

    .venv/bin/python scripts/check_eval.py                      # eval/questions.jsonl
    .venv/bin/python scripts/check_eval.py FILE ... [--corpus DIR] [--json]

Every item: required fields and types, a unique id, a known kind, `lang` equal to the language
wpqa detects in the question (and in the answer), the document in the corpus and of the kind's
language, `section` one of that document's section titles (whitespace collapsed; null for the
untitled preamble, e.g. the news article), and each evidence string (whitespace removed from it
and from the document): found verbatim, exactly once in its document, in no other document,
inside the stated section and not across one of its page breaks; a non-structure evidence
string must sit in body text, not in a heading (a structure one may sit in the headings of the
section, or of the headings without text right below it, which wpqa reads as its outline).
Unanswerable items have doc and section null and no evidence.

Prints one line per problem (`FILE:LINE id: reason`), then a summary (items per kind, per
document, per chapter); exits 1 when there is any problem, 2 when a file or the corpus is missing.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ingest.model import ChunkSettings  # noqa: E402
from ingest.pipeline import ingest_corpus  # noqa: E402
from ingest.text import detect_lang  # noqa: E402
from wpqa.evaluate import eval_lines  # noqa: E402

KINDS = ("zh-zh", "en-zh", "en-en", "zh-en", "structure", "numeric", "unanswerable")
FIELDS = ("id", "lang", "kind", "question", "doc", "section", "evidence", "answer")
EVIDENCE_LEN = (6, 40)
EVIDENCE_COUNT = (1, 3)
_WS = re.compile(r"\s+")
_ID = re.compile(r"^[a-z]\d{3,}$")


def squash(s: str) -> str:
    return _WS.sub("", s)


def collapse(s: str) -> str:
    return " ".join(s.split())


@dataclass
class SectionText:
    title: str  # whitespace collapsed; "" for the untitled preamble
    chapter: str  # top-level heading above it (itself at level 1); "" for the preamble
    pieces: list[str]  # body text cut at its page breaks, whitespace removed
    titles: list[str] = field(default_factory=list)  # its title and its outline's titles, squashed
    outline: str = ""  # its title and body, then the titles of the text-less headings below it

    @property
    def body(self) -> str:
        return "".join(self.pieces)


@dataclass
class DocText:
    name: str
    lang: str  # the language most of its chunks are in
    text: str  # the cleaned document text, whitespace removed
    sections: list[SectionText]

    def section(self, title: str | None) -> SectionText | None:
        want = collapse(title) if title is not None else ""
        return next((s for s in self.sections if s.title == want), None)


def load_corpus(corpus_dir: Path) -> dict[str, DocText]:
    """The corpus as wpqa ingests it (default chunk settings); files it cannot read are named on stderr."""
    ingested, _, errors = ingest_corpus(corpus_dir, ChunkSettings())
    for e in errors:
        print(f"{e} (its items will name a document that is not in the corpus)", file=sys.stderr)
    docs: dict[str, DocText] = {}
    for d in ingested:
        langs = Counter(c.lang for c in d.chunks)
        secs: list[SectionText] = []
        for k, s in enumerate(d.sections):
            cuts = [o for o, _ in s.page_breaks if o > 0] + [len(s.text)]
            pieces, start = [], 0
            for cut in cuts:
                pieces.append(squash(s.text[start:cut]))
                start = cut
            # headings below it with no text of their own (a contents-only report) are read as
            # part of it: wpqa puts them into its chunk as an outline
            below = [s]
            for t in d.sections[k + 1:] if s.title else []:
                if t.level <= s.level or t.text.strip():
                    break
                below.append(t)
            secs.append(SectionText(
                title=collapse(s.title), chapter=collapse(s.path[0]) if s.path else "", pieces=pieces,
                titles=[squash(t.title) for t in below if t.title],
                outline="".join(squash(t.title) + squash(t.text) for t in below)))
        full = "".join(squash(s.title) + squash(s.text) for s in d.sections)
        docs[d.document.name] = DocText(d.document.name, langs.most_common(1)[0][0] if langs else "en", full, secs)
    return docs


def count(hay: str, needle: str) -> int:
    n, i = 0, hay.find(needle)
    while i >= 0:
        n, i = n + 1, hay.find(needle, i + 1)
    return n


def check_item(item: dict, docs: dict[str, DocText]) -> list[str]:
    """The problems of one item (an empty list when it is sound)."""
    missing = [k for k in FIELDS if k not in item]
    if missing:
        return [f"missing field(s) {', '.join(missing)}"]
    out: list[str] = []
    for k in ("id", "lang", "kind", "question", "answer"):
        if not isinstance(item[k], str) or not item[k].strip():
            out.append(f"'{k}' must be a non-empty string")
    for k in ("doc", "section"):
        if item[k] is not None and not (isinstance(item[k], str) and item[k].strip()):
            out.append(f"'{k}' must be a non-empty string or null")
    ev = item["evidence"]
    if not isinstance(ev, list) or not all(isinstance(e, str) for e in ev):
        out.append("'evidence' must be a list of strings")
    if out:
        return out
    if not _ID.match(item["id"]):
        out.append(f"id '{item['id']}' is not like q001")
    kind, lang, doc, section = item["kind"], item["lang"], item["doc"], item["section"]
    if kind not in KINDS:
        return out + [f"unknown kind '{kind}' (one of {', '.join(KINDS)})"]
    if lang not in ("zh", "en"):
        return out + [f"lang '{lang}' is not zh or en"]
    if detect_lang(item["question"]) != lang:
        out.append(f"lang is '{lang}' but the question reads as '{detect_lang(item['question'])}'")
    if detect_lang(item["answer"]) != lang:
        out.append(f"the answer reads as '{detect_lang(item['answer'])}', not the question's '{lang}'")
    if kind in ("zh-zh", "en-zh", "en-en", "zh-en") and kind[:2] != lang:
        out.append(f"kind {kind} needs a '{kind[:2]}' question, lang is '{lang}'")
    if kind == "unanswerable":
        if doc is not None or section is not None or ev:
            out.append("unanswerable items have doc null, section null and evidence []")
        return out
    if doc is None:
        return out + [f"kind {kind} needs a doc"]
    if doc not in docs:
        return out + [f"doc '{doc}' is not in the corpus"]
    d = docs[doc]
    if kind in ("zh-zh", "en-zh", "en-en", "zh-en") and d.lang != kind[3:]:
        out.append(f"kind {kind} needs a '{kind[3:]}' document, {doc} is '{d.lang}'")
    if kind == "numeric" and d.lang != "zh":
        out.append(f"numeric items ask for a figure from the Chinese paper, {doc} is '{d.lang}'")
    sec = d.section(section)
    if sec is None:
        return out + [f"section {section!r} is not a section of {doc}"
                      + (" (its text has no untitled preamble)" if section is None else "")]
    if kind == "structure" and section is None:
        out.append("a structure item names the chapter or section it asks about")
    if not EVIDENCE_COUNT[0] <= len(ev) <= EVIDENCE_COUNT[1]:
        out.append(f"{len(ev)} evidence strings (want {EVIDENCE_COUNT[0]}-{EVIDENCE_COUNT[1]})")
    for e in ev:
        out += [f"evidence {e!r}: {why}" for why in check_evidence(e, kind, doc, sec, docs)]
    return out


def check_evidence(e: str, kind: str, doc: str, sec: SectionText, docs: dict[str, DocText]) -> list[str]:
    if not EVIDENCE_LEN[0] <= len(e) <= EVIDENCE_LEN[1]:
        return [f"{len(e)} characters (want {EVIDENCE_LEN[0]}-{EVIDENCE_LEN[1]})"]
    s = squash(e)
    d = docs[doc]
    out = []
    n = count(d.text, s)
    if n == 0:
        return ["not found verbatim in the document"]
    if n > 1:
        out.append(f"occurs {n} times in the document")
    others = [name for name, o in docs.items() if name != doc and s in o.text]
    if others:
        out.append(f"also occurs in {', '.join(others)}")
    if any(s in p for p in sec.pieces):
        return out
    if kind == "structure" and s in sec.outline:
        return out
    where = [x.title or "(preamble)" for x in d.sections if s in x.body or any(s in t for t in x.titles[:1])]
    if s in sec.body:
        out.append("split by a page break")
    elif any(s in t for t in sec.titles):
        out.append("lies in a heading (only structure items may cite headings)")
    else:
        out.append(f"not inside section {sec.title or '(preamble)'!r} (found under {', '.join(where) or '?'})")
    return out


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    items: int = 0
    kinds: Counter = field(default_factory=Counter)
    docs: Counter = field(default_factory=Counter)
    chapters: dict[str, Counter] = field(default_factory=dict)
    langs: Counter = field(default_factory=Counter)

    def to_dict(self) -> dict:
        return {"items": self.items, "problems": self.problems, "kinds": dict(self.kinds),
                "docs": dict(self.docs), "langs": dict(self.langs),
                "chapters": {d: dict(c) for d, c in self.chapters.items()}}


def check_file(path: Path, docs: dict[str, DocText], report: Report) -> None:
    seen_ids: dict[str, int] = {}
    seen_q: dict[str, int] = {}
    for n, where, item, problem in eval_lines(path, path.read_text(encoding="utf-8")):
        if problem:
            report.problems.append(f"{where}: {problem}")
            continue
        qid = item.get("id", "?")
        report.items += 1
        problems = check_item(item, docs)
        if isinstance(qid, str) and qid in seen_ids:
            problems.append(f"duplicate id (first on line {seen_ids[qid]})")
        q = item.get("question")
        if isinstance(q, str) and q in seen_q:
            problems.append(f"same question as line {seen_q[q]}")
        seen_ids.setdefault(qid if isinstance(qid, str) else "?", n)
        if isinstance(q, str):
            seen_q.setdefault(q, n)
        report.problems += [f"{where} {qid}: {p}" for p in problems]
        report.kinds[str(item.get("kind"))] += 1
        report.langs[str(item.get("lang"))] += 1
        doc = item.get("doc")
        report.docs[str(doc)] += 1
        if isinstance(doc, str) and doc in docs:
            sec = docs[doc].section(item.get("section") if isinstance(item.get("section"), str) else None)
            if sec is not None:
                chapter = sec.chapter or "(preamble)"
                report.chapters.setdefault(doc, Counter())[chapter] += 1


def chapters_of(doc: DocText) -> list[str]:
    """The document's top-level headings, in order."""
    return list(dict.fromkeys(s.chapter for s in doc.sections if s.chapter))


def print_summary(report: Report, docs: dict[str, DocText]) -> None:
    print(f"{report.items} items, {len(report.problems)} problem(s)")
    print("per kind: " + ", ".join(f"{k} {report.kinds.get(k, 0)}" for k in KINDS)
          + "".join(f", {k} {v}" for k, v in report.kinds.items() if k not in KINDS))
    print("per lang: " + ", ".join(f"{k} {v}" for k, v in sorted(report.langs.items())))
    print("per document:")
    for name in [*docs, "None"]:
        if report.docs.get(name):
            print(f"  {report.docs[name]:3d}  {name if name != 'None' else '(none: unanswerable)'}")
    for name, doc in docs.items():
        got = report.chapters.get(name, Counter())
        chapters = chapters_of(doc)
        if not chapters:
            continue
        print(f"per chapter of {name}:")
        for ch in ["(preamble)", *chapters]:
            if ch in got or ch != "(preamble)":
                print(f"  {got.get(ch, 0):3d}  {ch}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="*", type=Path, default=[ROOT / "eval" / "questions.jsonl"])
    ap.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    ap.add_argument("--json", action="store_true", help="print the summary as JSON")
    a = ap.parse_args(argv)
    for f in a.files:
        if not f.is_file():
            print(f"{f}: no such file", file=sys.stderr)
            return 2
    docs = load_corpus(a.corpus)
    if not docs:
        print(f"{a.corpus}: no documents to check against", file=sys.stderr)
        return 2
    report = Report()
    for f in a.files:
        check_file(f, docs, report)
    if a.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=1))
    else:
        for p in report.problems:
            print(p)
        print_summary(report, docs)
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
