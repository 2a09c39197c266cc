"""Hit judging exactly as /work/shared/eval/README.md says, the same for every system.

A retrieved chunk is a hit when its document equals the gold `doc` and one gold evidence
string is a substring of the chunk text once all whitespace is removed from both. Scores are
over answerable questions (non-empty evidence and a gold doc): hit@1, hit@5, and reciprocal
rank of the first hit within the top 10 (MRR@10). Cross-lingual = en-zh + zh-en.
"""
from __future__ import annotations

import re

_WS = re.compile(r"\s+")
KINDS = ["zh-zh", "en-zh", "en-en", "zh-en", "structure", "numeric"]
GROUPS = KINDS + ["cross-lingual", "overall"]


def squash(text: str) -> str:
    return _WS.sub("", text or "")


def answerable(item: dict) -> bool:
    return bool(item.get("evidence")) and item.get("doc") is not None


def first_hit(item: dict, contexts: list[dict], depth: int = 10) -> int | None:
    """1-based rank of the first hit among the top `depth` contexts ({"doc", "text"}), or None."""
    ev = [squash(e) for e in item.get("evidence", []) if squash(e)]
    for rank, c in enumerate(contexts[:depth], 1):
        if c.get("doc") == item.get("doc"):
            t = squash(c.get("text", ""))
            if any(e in t for e in ev):
                return rank
    return None


def score(items: list[dict], contexts: dict[str, list[dict]]) -> dict:
    """Per-question ranks and a table {group: {n, hit@1, hit@5, mrr@10}} over answerable questions."""
    per_q = []
    for it in items:
        if not answerable(it):
            continue
        r = first_hit(it, contexts.get(it["id"], []))
        per_q.append({"id": it["id"], "kind": it["kind"], "rank": r})
    table = {}
    for g in GROUPS:
        if g == "overall":
            rows = per_q
        elif g == "cross-lingual":
            rows = [q for q in per_q if q["kind"] in ("en-zh", "zh-en")]
        else:
            rows = [q for q in per_q if q["kind"] == g]
        if not rows:
            continue
        n = len(rows)
        table[g] = {
            "n": n,
            "hit@1": round(sum(1 for q in rows if q["rank"] == 1) / n, 3),
            "hit@5": round(sum(1 for q in rows if q["rank"] and q["rank"] <= 5) / n, 3),
            "mrr@10": round(sum(1 / q["rank"] for q in rows if q["rank"]) / n, 3),
        }
    return {"table": table, "per_question": per_q}
