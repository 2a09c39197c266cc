"""The question-answering pipeline: the typed LCEL chain of `qa.chain`, wired to wpqa's parts.

    chain = retrieve | ground | answer          (RunnableLambdas over typed dataclasses)

`retrieve` goes through `WpqaRetriever` (a LangChain retriever); `ground` picks the evidence,
decides abstention (weak retrieval, a quoted title the corpus does not hold) and answers
structure questions from the heading tree; `answer` is a generator: the checked source quotes
first, then the lead as the model writes it, then the checked record. `QAPipeline.ask` returns
the batch record; `QAPipeline.stream` yields the chain's events for the CLI and the chat.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

from langchain_core.runnables import RunnableLambda

from index.embeddings import CountingEmbeddings
from ingest.text import detect_lang

from . import defaults as D
from .answer import ABSTAIN_TEXT, generate, restate_figures
from .chain import Answered, Ask, Draft, Grounded, Retrieved, Sources
from .compose import Composer
from .evidence import Evidence, quote_page, select_evidence
from .lead import Pick, alternative_picks, pick_sentences, translation_messages
from .retrieve import Hit, HybridSearcher, WpqaRetriever, document_to_hit
from .select import IdfOverlap, SelectorConfig, SentenceSelector, core_of, idf_tables
from .structure import find_outline, parse as parse_structure, wants_parts, wants_title
from .titles import TitleIndex
from .sentences import flat, quote_line

LANG_LABEL = {"zh": "Chinese", "en": "English"}


@dataclass
class AnswerConfig:
    top_k: int = D.TOP_K
    max_evidence: int = D.MAX_EVIDENCE
    evidence_chars: int = D.EVIDENCE_CHARS
    abstain_threshold: float = D.ABSTAIN_THRESHOLD
    keep_above: float = D.KEEP_ABOVE  # a NOT_FOUND at or above this best score does not abstain
    max_tokens: int = D.MAX_TOKENS
    strong_margin: float = 1.0  # a NOT_FOUND above abstain_threshold + this is asked again
    dense_pick: bool = False  # the answer sentence is chosen with e5 similarity besides shared words
    pick_rank_weight: float = 0.2  # a lower-ranked chunk's sentences lose this much per rank
    same_language: str = D.SAME_LANGUAGE  # see qa.compose.Composer
    # the sentences an answer rests on: the selector's windows, or (None) the pick heuristics
    select: SelectorConfig | None = field(default_factory=SelectorConfig)
    cross_lingual: str = D.CROSS_LINGUAL


# One worked example per direction keeps a small model translating instead of answering.
_TRANSLATION_EXAMPLE = {
    "en": ("白皮书如何看待数据跨境流动带来的风险？", "How does the white paper view the risks of cross-border data flows?"),
    "zh": ("Which organisations set up working groups on e-commerce?", "哪些组织设立了电子商务工作组？"),
}


def _translation(llm, messages: list[dict], target: str, max_tokens: int, one_line: bool) -> str | None:
    """The model's translation, or None when generation fails or the text comes back in another
    language (callers flag it and go on with the untranslated text)."""
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
        ex_in, ex_out = _TRANSLATION_EXAMPLE[target]
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
    """A source sentence in the question's language, by the answer model."""

    def __init__(self, llm, max_tokens: int = 200):
        self.llm = llm
        self.max_tokens = max_tokens

    def __call__(self, text: str, target: str) -> str | None:
        return _translation(self.llm, translation_messages(restate_figures(text, target), target), target,
                            self.max_tokens, one_line=False)


class QAPipeline:
    def __init__(self, searcher: HybridSearcher, embeddings: CountingEmbeddings, llm=None,
                 config: AnswerConfig | None = None, backend_name: str = "extractive"):
        self.searcher = searcher
        self.llm = llm
        self.cfg = config or AnswerConfig()
        self.emb = embeddings
        self.backend_name = backend_name if llm is not None else "extractive"
        self.retriever = WpqaRetriever(searcher=searcher, k=self.cfg.top_k)
        self._selector: SentenceSelector | None = None
        self._titles: TitleIndex | None = None
        self._headings: dict[str, list[str]] | None = None
        self.composer = Composer(llm, self.cfg.max_tokens, PassageTranslator(llm) if llm is not None else None,
                                 cross_lingual=self.cfg.cross_lingual, same_language=self.cfg.same_language)
        self.chain = (RunnableLambda(self._retrieve, name="retrieve")
                      | RunnableLambda(self._ground, name="ground")
                      | RunnableLambda(self._answer, name="answer"))

    @property
    def titles(self) -> TitleIndex:
        if self._titles is None:
            gen = self.searcher.gen
            self._titles = TitleIndex(gen.chunks, gen.documents(), self.emb)
        return self._titles

    @property
    def selector(self) -> SentenceSelector:
        """Built at its first question (IDF tables from the lexical index), not at start-up."""
        if self._selector is None:
            self._selector = SentenceSelector(self.emb, IdfOverlap(idf_tables(self.searcher.gen.lexical)),
                                              self.cfg.select or SelectorConfig())
        return self._selector

    @property
    def headings(self) -> dict[str, list[str]]:
        """Every section title of each document (a body may restate any of them)."""
        if self._headings is None:
            out: dict[str, set[str]] = {}
            for c in self.searcher.gen.chunks:
                out.setdefault(c.doc, set()).update(c.section_path)
            self._headings = {d: sorted(t) for d, t in out.items()}
        return self._headings

    # ---------------------------------------------------------------- steps
    def _retrieve(self, ask: Ask) -> Retrieved:
        t = time.perf_counter()
        docs = self.retriever.invoke(ask.question, k=max(self.cfg.top_k, ask.k))
        hits = [document_to_hit(d) for d in docs]
        meta = docs[0].metadata if docs else {}
        r = Retrieved(ask, meta.get("question_lang") or detect_lang(ask.question), meta.get("translation"), hits)
        r.timings["retrieve"] = (time.perf_counter() - t) * 1000
        if "translate" in meta.get("timings_ms", {}):
            r.timings["translate"] = meta["timings_ms"]["translate"]
        if meta.get("translation_failed"):
            r.flags.append("translation-failed")
        return r

    def _threshold(self, lang: str) -> float:
        # z-scores cannot grow past sqrt(n-1) in a partition of n chunks, so a tiny corpus gets a
        # proportionally lower bar (the configured one holds from ~35 chunks up)
        n = max(len(self.searcher.lang_rows.get(lang, [])), 2)
        return min(self.cfg.abstain_threshold, 0.35 * math.sqrt(n - 1))

    def _ground(self, r: Retrieved) -> Grounded:
        t = time.perf_counter()
        q = r.ask.question
        hits = r.hits[: self.cfg.top_k]
        evidence = self._evidence(r, hits)
        best = r.hits[0].score if r.hits else float("-inf")
        g = Grounded(r, evidence, [], None, False, best, flags=list(r.flags))
        if not r.hits or best < self._threshold(r.lang):
            g.abstain = True
            g.flags.append("weak-evidence")
        missing = self.titles.missing(q, r.translation) if not g.abstain else []
        if missing:
            g.abstain = True
            g.flags.append("not-in-corpus: " + ", ".join(missing))
        sq = parse_structure(q) if not g.abstain else None
        if sq is not None:
            outline = find_outline(q, sq, hits, self.searcher.gen.chunks)
            if outline is not None and wants_title(q):
                g.outline, g.outline_title = outline, True
                g.flags.append("structure-title")
            elif outline is not None and outline.children and wants_parts(q):
                g.outline = outline
                g.flags.append("structure-answer")
            elif outline is not None:  # a fact inside the named section: its own chunk comes first
                hit = self._hit_for(outline.chunk, hits)
                g.evidence = self._evidence(r, [hit] + [h for h in hits if h.chunk.id != hit.chunk.id])
                g.flags.append("structure-section")
        if not g.abstain and g.outline is None:
            g.picks, g.alternatives = self._picks(r, g.evidence, self.cfg.select)
            if not g.picks:
                g.abstain = True
                g.flags.append("no-answer-sentence")
        g.timings["ground"] = (time.perf_counter() - t) * 1000
        return g

    def _evidence(self, r: Retrieved, hits: list[Hit]) -> list[Evidence]:
        """The evidence passages of `hits` (in that order) for the question of `r`."""
        return select_evidence(hits, r.ask.question, r.translation, self.cfg.max_evidence, self.cfg.evidence_chars,
                               self.headings, self.searcher.gen.chunks)

    def _picks(self, r: Retrieved, evidence: list[Evidence],
               select: SelectorConfig | None) -> tuple[list[Pick], list[Pick]]:
        """The first pick and the alternatives a NOT_FOUND is rechecked in: with `select`, the
        selector's best window and the best window of each other passage; with None, the pick
        heuristics (`pick_sentences`, `alternative_picks`)."""
        q = r.ask.question
        if select is None:
            picks = pick_sentences(q, r.translation, evidence, embeddings=self.emb if self.cfg.dense_pick else None,
                                   rank_weight=self.cfg.pick_rank_weight)
            return picks, (alternative_picks(q, r.translation, evidence, picks[0]) if picks else [])
        by_hit = {id(e.hit): e for e in evidence}
        windows = self.selector.select(q, r.lang, r.translation, [e.hit for e in evidence],
                                       self.headings, self.searcher.gen.chunks, select)
        picks: list[Pick] = []
        seen: set[int] = set()
        for w in windows:  # the best window of each passage, best first
            if id(w.hit) in seen:
                continue
            seen.add(id(w.hit))
            e = by_hit[id(w.hit)]
            picks.append(Pick(e.n, w.text, w.lang, w.score, core_of(w, select.core), w.anchor))
        return picks[:1], picks[1:3]

    def picks_for(self, r: Retrieved, select: SelectorConfig | None = None):
        """(evidence, first pick, alternatives) of a retrieval, for bench/selector.py."""
        evidence = self._evidence(r, r.hits[: self.cfg.top_k])
        picks, alts = self._picks(r, evidence, select)
        return evidence, picks, alts

    def _hit_for(self, chunk, hits: list[Hit]) -> Hit:
        """The hit of `chunk` among `hits`, else a new hit for it scored like the best one."""
        for h in hits:
            if h.chunk.id == chunk.id:
                return h
        row = next(i for i, c in enumerate(self.searcher.gen.chunks) if c.id == chunk.id)
        return Hit(row, chunk, hits[0].score if hits else 0.0, {"structure": 1.0})

    def _answer(self, g: Grounded) -> Iterator[Sources | Draft | Answered]:
        t = time.perf_counter()
        lang = g.retrieved.lang
        if g.abstain:
            yield Answered(self._record(g, ABSTAIN_TEXT[lang], [], True, t))
            return
        if g.outline is not None:
            structure = self.composer.title if g.outline_title else self.composer.structure
            body, cite = structure(g.retrieved.ask.question, lang, g.outline)
            quote = {"n": 1, "doc": g.outline.doc, "section": " > ".join(g.outline.path),
                     "page": g.outline.chunk.page, "chunk_id": g.outline.chunk.id, "quote": cite}
            yield Sources([quote], lang)
            yield Answered(self._record(g, body, [quote], False, t))
            return
        yield Sources([_citation(g.evidence, p) for p in g.picks], lang)
        outcome = None
        strong = g.best_score >= self._threshold(lang) + self.cfg.strong_margin
        keep = g.best_score >= self.cfg.keep_above
        for ev in self.composer.lead(g.retrieved.ask.question, lang, g.picks, g.alternatives, strong,
                                     g.retrieved.translation, keep=keep):
            if isinstance(ev, Draft):
                yield ev
            else:
                outcome = ev
        g.flags.extend(outcome.flags)
        if outcome.abstain:
            yield Answered(self._record(g, ABSTAIN_TEXT[lang], [], True, t))
            return
        cites = [_citation(g.evidence, p) for p in outcome.picks]
        yield Answered(self._record(g, outcome.body, cites, False, t))

    # ---------------------------------------------------------------- record
    def _record(self, g: Grounded, body: str, cites: list[dict], abstained: bool, t_answer: float) -> dict:
        r = g.retrieved
        quotes = "\n".join(quote_line(c["n"], c["quote"]) for c in cites)
        timings = {**r.timings, **g.timings, "answer": (time.perf_counter() - t_answer) * 1000}
        return {
            "id": r.ask.qid,
            "question": r.ask.question,
            "answer": f"{body}\n\n{quotes}" if quotes else body,
            "abstained": abstained,
            "citations": cites,
            "contexts": [
                {"rank": i + 1, "doc": h.chunk.doc, "section": h.chunk.section, "page": h.chunk.page,
                 "chunk_id": h.chunk.id, "score": round(float(h.score), 4), "text": h.chunk.text}
                for i, h in enumerate(r.hits)
            ],
            "timings_ms": {k: round(v, 1) for k, v in timings.items()},
            "lang": r.lang,
            "translation": r.translation,
            "backend": self.backend_name,
            "flags": g.flags,
        }

    # ---------------------------------------------------------------- entry points
    def stream(self, question: str, qid: str | None = None, k: int = 0) -> Iterator[Sources | Draft | Answered]:
        """The chain's events: Sources, then Draft pieces, then one Answered."""
        t0 = time.perf_counter()
        for ev in self.chain.stream(Ask(question, k, qid)):
            if isinstance(ev, Answered):
                ev.record["timings_ms"]["total"] = round((time.perf_counter() - t0) * 1000, 1)
            yield ev

    def ask(self, question: str, qid: str | None = None, on_token: Callable[[str], None] | None = None,
            k: int = 0) -> dict:
        record = None
        for ev in self.stream(question, qid, k):
            if isinstance(ev, Draft) and on_token is not None:
                on_token(ev.text)
            elif isinstance(ev, Answered):
                record = ev.record
        return record


def _citation(evidence: list[Evidence], pick: Pick) -> dict:
    """The citation of a pick: its passage's document and section, the pick as the quote, and the
    page of the pick's best-matching sentence (a pick may start with the sentence before it, on
    the page before)."""
    e = next(e for e in evidence if e.n == pick.n)
    c = e.citation()
    c["quote"] = flat(pick.text)
    c["page"] = quote_page(e.hit.chunk, pick.anchor or pick.text, e.sentences)
    return c
