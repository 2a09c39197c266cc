"""The abstention decision on the model's NOT_FOUND: strong retrieval keeps the answer
(`answer.keep_above`), applied the same way in the pipeline and, offline, in bench/ablate.py."""
from __future__ import annotations

import math

import pytest

from bench.ablate import KEPT, decided, fit_keep_above
from qa.compose import Composer, LeadOutcome
from qa.lead import Pick

PICKS = [Pick(1, "The Harbour Forum met in Valmora in May 2023.", "en", 1.0, anchor="The Harbour Forum met in Valmora.")]
ALTS = [Pick(2, "Ministers from twelve countries came.", "en", 0.5)]


@pytest.mark.parametrize("keep", [True, False])
def test_a_not_found_abstains_unless_retrieval_keeps_the_answer(keep):
    flags: list[str] = []
    got = Composer(None)._overrule("Where did the forum meet?", "en", PICKS, ALTS, strong=False, flags=flags, keep=keep)
    if keep:
        assert got == (PICKS[0], None)
        assert flags == ["model-found-no-answer", KEPT]
    else:
        assert isinstance(got, LeadOutcome) and got.abstain and got.flags == ["model-found-no-answer"]


def _record(qid: str, score: float, kept: bool, lang: str = "en") -> dict:
    return {"id": qid, "question": "q", "lang": lang, "abstained": False, "answer": "An answer [1].\n\n> [1] quote",
            "citations": [{"n": 1, "doc": "d.pdf", "section": "1. A", "page": 1, "chunk_id": "c", "quote": "quote"}],
            "contexts": [{"rank": 1, "doc": "d.pdf", "section": "1. A", "page": 1, "chunk_id": "c", "score": score,
                          "text": "quote"}],
            "flags": [KEPT] if kept else []}


@pytest.mark.parametrize("score,bar,abstains", [(3.0, 4.0, True), (4.0, 4.0, False), (5.5, 4.0, False),
                                                (9.0, math.inf, True)])
def test_a_kept_answer_below_the_bar_becomes_an_abstention(score, bar, abstains):
    r = decided(_record("a", score, kept=True, lang="zh"), bar)
    assert r["abstained"] is abstains
    assert (r["citations"] == []) is abstains
    if abstains:
        assert "没有" in r["answer"]


def test_an_answer_the_model_confirmed_is_never_changed():
    r = _record("a", 0.5, kept=False)
    assert decided(r, math.inf) is r


def _item(qid: str, answerable: bool) -> dict:
    return {"id": qid, "lang": "en", "kind": "en-en" if answerable else "unanswerable", "question": "q",
            "doc": "d.pdf" if answerable else None, "section": None,
            "evidence": ["quote"] if answerable else [], "answer": "An answer" if answerable else None}


def test_the_bar_is_fitted_above_every_unanswerable_question_the_model_refused():
    items = [_item("u1", False), _item("a1", True), _item("a2", True), _item("a3", True)]
    recs = {"u1": _record("u1", 4.2, kept=True), "a1": _record("a1", 3.9, kept=True),
            "a2": _record("a2", 5.0, kept=True), "a3": _record("a3", 6.0, kept=False)}
    bar = fit_keep_above([("tuning", items, recs)])
    assert 4.2 < bar <= 5.0
    assert decided(recs["u1"], bar)["abstained"] and not decided(recs["a2"], bar)["abstained"]
    # nothing kept that is worth keeping: the model's word always abstains
    assert fit_keep_above([("tuning", items[:1], {"u1": recs["u1"]})]) == math.inf
