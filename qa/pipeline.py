"""The question-answering chain as LCEL runnables: retrieve -> evidence -> answer -> check.

Each step takes and returns a plain dict (the chain's state), so steps stay small and any of
them can be run or tested on its own; `QAPipeline.ask` runs the whole chain and returns the
batch record of DEVELOPERS.md.
"""
from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from typing import Callable

from langchain_core.runnables import RunnableLambda

from index.embeddings import CountingEmbeddings
from ingest.text import detect_lang

from . import defaults as D
from .answer import (
    ABSTAIN_TEXT,
    CitationChecker,
    build_messages,
    check_model_answer,
    extractive_answer,
    generate,
    is_not_found,
    source_quotes,
)
from .evidence import missing_titles, select_evidence
from .retrieve import HybridSearcher

LANG_LABEL = {"zh": "Chinese", "en": "English"}


@dataclass
class AnswerConfig:
    top_k: int = D.TOP_K
    max_evidence: int = D.MAX_EVIDENCE
    evidence_chars: int = D.EVIDENCE_CHARS
    abstain_threshold: float = D.ABSTAIN_THRESHOLD
    max_tokens: int = D.MAX_TOKENS


# One worked example per direction keeps a small model translating instead of answering.
_SHOT = {
    "en": ("白皮书如何看待数据跨境流动带来的风险？", "How does the white paper view the risks of cross-border data flows?"),
    "zh": ("Which organisations set up working groups on e-commerce?", "哪些组织设立了电子商务工作组？"),
}


def _translation(llm, messages: list[dict], target: str, max_tokens: int, one_line: bool) -> str | None:
    """The model's translation, or None when generation fails or the text comes back in another
    language (callers then go on with the untranslated text)."""
    try:
        out = generate(llm, messages, max_tokens).strip().strip('"“”')
    except Exception:  # noqa: BLE001 - a translation is always optional
        return None
    out = out.splitlines()[0].strip() if one_line and out else " ".join(out.split())
    return out if out and detect_lang(out) == target else None


class LLMTranslator:
    """Question translation with the answer model, for searching the other language."""

    def __init__(self, llm, max_tokens: int = 80):
        self.llm = llm
        self.max_tokens = max_tokens
        self._cache: dict[tuple[str, str], str | None] = {}

    def messages(self, text: str, target: str) -> list[dict]:
        source = "Chinese" if target == "en" else "English"
        ex_in, ex_out = _SHOT[target]
        return [
            {"role": "system", "content": f"You translate questions from {source} into {LANG_LABEL[target]}. "
                                          "Translate the question; never answer it. Output only the translation."},
            {"role": "user", "content": ex_in},
            {"role": "assistant", "content": ex_out},
            {"role": "user", "content": text},
        ]

    def __call__(self, text: str, target: str) -> str | None:
        key = (text, target)
        if key not in self._cache:  # retrieval goes on without a translation when there is none
            self._cache[key] = _translation(self.llm, self.messages(text, target), target, self.max_tokens, one_line=True)
        return self._cache[key]


class PassageTranslator:
    """A source sentence in the question's language, by the answer model (used only when the
    model's own answer came out empty and the best sentences are in the other language)."""

    def __init__(self, llm, max_tokens: int = 200):
        self.llm = llm
        self.max_tokens = max_tokens

    def __call__(self, text: str, target: str) -> str | None:
        source = "Chinese" if target == "en" else "English"
        msgs = [{"role": "system", "content": f"Translate the user's text from {source} into {LANG_LABEL[target]}. "
                                              "Keep every name and figure. Output only the translation."},
                {"role": "user", "content": text}]
        return _translation(self.llm, msgs, target, self.max_tokens, one_line=False)


class QAPipeline:
    def __init__(self, searcher: HybridSearcher, embeddings: CountingEmbeddings, llm=None,
                 config: AnswerConfig | None = None, backend_name: str = "extractive"):
        self.searcher = searcher
        self.llm = llm
        self.cfg = config or AnswerConfig()
        self.checker = CitationChecker(embeddings)
        self.backend_name = backend_name if llm is not None else "extractive"
        self.chain = (RunnableLambda(self._retrieve, name="retrieve")
                      | RunnableLambda(self._evidence, name="select_evidence")
                      | RunnableLambda(self._answer, name="answer")
                      | RunnableLambda(self._check, name="check_citations"))

    # ---------------------------------------------------------------- steps
    def _retrieve(self, state: dict) -> dict:
        t = time.perf_counter()
        res = self.searcher.search(state["question"], k=max(self.cfg.top_k, state.get("k", 0)))
        state["retrieval"] = res
        state["lang"] = res.lang
        state["timings"]["retrieve"] = (time.perf_counter() - t) * 1000
        if "translate" in res.timings_ms:
            state["timings"]["translate"] = res.timings_ms["translate"]
        return state

    def _evidence(self, state: dict) -> dict:
        res = state["retrieval"]
        state["evidence"] = select_evidence(res.hits[: self.cfg.top_k], state["question"], res.translation,
                                            self.cfg.max_evidence, self.cfg.evidence_chars)
        best = res.hits[0].score if res.hits else float("-inf")
        state["best_score"] = best
        # z-scores cannot grow past sqrt(n-1) in a partition of n chunks, so a tiny corpus gets a
        # proportionally lower bar (the configured one holds from ~35 chunks up)
        n = max(len(self.searcher.lang_rows.get(res.lang, [])), 2)
        threshold = min(self.cfg.abstain_threshold, 0.35 * math.sqrt(n - 1))
        state["abstain"] = not res.hits or best < threshold
        if state["abstain"]:
            state["flags"].append("weak-evidence")
        missing = missing_titles(state["question"], res.translation, [h.chunk.text for h in res.hits])
        if missing and not state["abstain"]:
            state["abstain"] = True
            state["flags"].append("not-in-corpus: " + ", ".join(missing))
        return state

    def _answer(self, state: dict) -> dict:
        t = time.perf_counter()
        lang, ev = state["lang"], state["evidence"]
        if state["abstain"]:
            state["raw"] = ""
        elif self.llm is None:
            state["raw"] = extractive_answer(state["question"], lang, ev)[0]
        else:
            msgs = build_messages(state["question"], lang, ev)
            state["raw"] = generate(self.llm, msgs, self.cfg.max_tokens, on_token=state.get("on_token"))
            if is_not_found(state["raw"]):
                state["abstain"] = True
                state["flags"].append("model-found-no-answer")
        state["timings"]["generate"] = (time.perf_counter() - t) * 1000
        return state

    def _check(self, state: dict) -> dict:
        t = time.perf_counter()
        lang, ev = state["lang"], state["evidence"]
        cited: list[int] = []
        text = ""
        if not state["abstain"]:
            raw = state["raw"]
            if self.llm is not None and detect_lang(_plain(raw)) != lang:
                state["flags"].append("answer-language-mismatch")
            if self.llm is not None:
                text, cited, flags = check_model_answer(self.checker, raw, state["question"], lang, ev,
                                                        translate=PassageTranslator(self.llm))
            else:  # extractive answers too: a quoted sentence may itself carry "[9]"-like text
                text, cited, flags = self.checker.check(raw, ev)
            state["flags"].extend(flags)
            if any(f.startswith("dropped") or f == "replaced-citation" for f in flags):
                state["flags"].append("citations-corrected")
            if not cited:
                state["abstain"] = True
                state["flags"].append("no-supported-citation")
        if state["abstain"]:
            text, cited = ABSTAIN_TEXT[lang], []
        else:
            quotes = source_quotes(ev, cited, lang)
            if quotes:
                text = f"{text}\n\n{quotes}"
        state["answer"] = text
        state["cited"] = cited
        state["timings"]["check"] = (time.perf_counter() - t) * 1000
        return state

    # ---------------------------------------------------------------- entry point
    def ask(self, question: str, qid: str | None = None, on_token: Callable[[str], None] | None = None,
            k: int = 0) -> dict:
        t0 = time.perf_counter()
        state = {"question": question, "timings": {}, "flags": [], "on_token": on_token, "k": k}
        state = self.chain.invoke(state)
        res = state["retrieval"]
        by_n = {e.n: e for e in state["evidence"]}
        state["timings"]["total"] = (time.perf_counter() - t0) * 1000
        return {
            "id": qid,
            "question": question,
            "answer": state["answer"],
            "abstained": bool(state["abstain"]),
            "citations": [by_n[n].citation() for n in state["cited"]],
            "contexts": [
                {"rank": i + 1, "doc": h.chunk.doc, "section": h.chunk.section, "page": h.chunk.page,
                 "chunk_id": h.chunk.id, "score": round(float(h.score), 4), "text": h.chunk.text}
                for i, h in enumerate(res.hits)
            ],
            "timings_ms": {k_: round(v, 1) for k_, v in state["timings"].items()},
            "lang": state["lang"],
            "translation": res.translation,
            "backend": self.backend_name,
            "flags": state["flags"],
        }


def _plain(text: str) -> str:
    return re.sub(r"\[\d+\]", "", text)
