"""Writing the answer body over the picked sentences, or a structure answer from the heading
tree, or (no model) the picked sentences themselves.

With a model: sentences in the question's language are the body, once the model confirms they
answer ("sentences"); sentences in the other language are translated by the model and the
translation is the body ("translate": answer in the evidence's language, then translate). A
table, a translation that fails its checks, or the "lead" setting go to a lead the model writes
from the sentences, checked and retried once. The body is always in the question's language: a
sentence in the other language is never pasted into it; it is quoted under the answer.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterator

from ingest.chunking import has_table_block

from . import defaults as D
from .answer import is_not_found, restate_figures
from .chain import Draft
from .lead import (Pick, clean_lead, lead_messages, lead_problems, repair_mixed, retry_messages,
                   term_messages, translation_messages)
from .sentences import join_sentences
from .structure import Outline

QUOTE_LABEL = {"en": "The source answers this in Chinese (see the quote)",
               "zh": "资料以英文回答了这个问题（见引文）"}


@dataclass
class LeadOutcome:
    body: str
    picks: list[Pick]
    abstain: bool = False
    flags: list[str] = field(default_factory=list)


def with_marker(text: str, n: int) -> str:
    """'text.' -> 'text [1].'; '文本。' -> '文本[1]。'. A footnote mark the source printed ("…”[2]")
    goes, so the only marker is the citation; a sentence that ends on a clause mark (；) ends."""
    text = re.sub(r"\[\d{1,3}\]", "", text).strip()
    zh = bool(re.search(r"[\u3400-\u9fff]", text))
    text = re.sub(r"[；;，,：:、]+$", "。" if zh else ".", text)
    m = re.search(r"[。！？!?.]+$", text)
    mark = f"[{n}]" if zh else f" [{n}]"
    return text[: m.start()] + mark + text[m.start():] if m else text + mark


def asked_in(question: str, lang: str, translation: str | None, source_lang: str) -> tuple[str, str]:
    """The question and the language of the prompt that asks whether a source in `source_lang`
    answers it. In one language, that language. Across languages, English: asked in Chinese
    whether an English sentence answers a Chinese question, the bundled model said no to a plain
    answer, and asked in Chinese about a Chinese source with the translated question, it
    said no to a third of the English questions on the Chinese paper it had confirmed in English
    (eval/questions.jsonl). The question goes in English too, when its translation is a question:
    the model translates a question into a statement at times ("This news summary suggests that
    secure cross-border data flows can bring benefits to …"), and no source answers a statement."""
    if source_lang == lang or lang == "en":
        return question, lang
    if translation and translation.rstrip().endswith(("?", "？")):
        return translation, "en"
    return question, "en"


CHECK_TOKENS = 4  # enough to see NOT_FOUND (2 tokens; "**NOT_FOUND" 3) or the start of an answer
TRANSLATE_TOKENS = 320  # a whole pick translated (210 Chinese characters come to about 150 English tokens)


class Composer:
    def __init__(self, llm, max_tokens: int = D.MAX_TOKENS, translate=None, cross_lingual: str = D.CROSS_LINGUAL,
                 same_language: str = D.SAME_LANGUAGE):
        self.llm = llm
        self.max_tokens = max_tokens
        self.translate = translate  # (text, target_lang) -> text | None
        # "lead": the model writes the lead from the other-language sentences; "translate": the
        # picked sentences are translated and stand as the body (answer in the evidence's
        # language, then translate it)
        self.cross_lingual = cross_lingual
        # "lead": the model writes a lead over sentences in the question's language too;
        # "sentences": those sentences are the body, the model only confirms they answer
        self.same_language = same_language

    # ---------------------------------------------------------------- lead over picked sentences
    def _generate(self, messages: list[dict], max_tokens: int | None = None) -> Iterator[str]:
        from llm.stream import stream_text

        yield from stream_text(self.llm, messages, max_tokens=max_tokens or self.max_tokens, temperature=0.0)

    def _answers(self, question: str, lang: str, source: str, max_tokens: int | None = None) -> str | None:
        """The model's lead over `source`, or None when it says the source does not answer."""
        raw = "".join(self._generate(lead_messages(question, lang, source), max_tokens))
        return None if is_not_found(raw) else raw

    def _recheck(self, question: str, lang: str, picks: list[Pick], alternatives: list[Pick],
                 translation: str | None, as_body: bool) -> tuple[Pick, str] | None:
        """Strong retrieval and a NOT_FOUND: before it becomes an abstention, the whole pick
        (when the model saw only its core), then the `alternatives` (the best pick of other
        passages), each with a whole lead that must pass the checks. `as_body`: the
        pick will be the body (translated when in the other language), so it is asked about as
        the first check asks (`asked_in`); else the lead is written in the question's language."""
        first = picks[0]
        # the whole first pick when only its core was asked about, then the other passages
        tries = [(first, first.text)] if first.asked != first.text else []
        tries += [(alt, alt.asked) for alt in alternatives]
        for alt, text in tries:
            q, qlang = asked_in(question, lang, translation, alt.lang) if as_body else (question, lang)
            # a whole lead, checked: the model "finds" an answer in almost any long passage (a
            # cover page once), so a lead that restates the question or is no sentence does not
            # count as one (one in mixed languages does, when the question was not translated)
            raw = self._answers(q, qlang, text)
            if raw is None:
                continue
            problems = lead_problems(clean_lead(raw), qlang, alt.text, q)
            if q is question and qlang != lang:
                problems = [p for p in problems if p != "mixed-language"]
            if not problems:
                return alt, raw
        return None

    def _checked(self, text: str, lang: str, source: str, question: str | None = None) -> tuple[str, list[str]]:
        """`text` and what keeps it from standing (`lead_problems`); an English text with
        Chinese words left in it has them translated one by one first (cheaper and surer than
        asking for the whole text again)."""
        problems = lead_problems(text, lang, source, question)
        if "mixed-language" in problems and lang == "en":
            fixed = repair_mixed(text, lambda term: "".join(self._generate(term_messages(term), 16)))
            if fixed is not None:
                text, problems = fixed, lead_problems(fixed, lang, source, question)
        return text, problems

    def _stream(self, messages: list[dict], max_tokens: int | None = None) -> Iterator[Draft]:
        """Yields the model's pieces as Drafts; returns the whole text."""
        parts: list[str] = []
        for piece in self._generate(messages, max_tokens):
            parts.append(piece)
            yield Draft(piece)
        return "".join(parts)

    def _overrule(self, question: str, lang: str, picks: list[Pick], alternatives: list[Pick], strong: bool,
                  flags: list[str], translation: str | None = None,
                  as_body: bool = False, keep: bool = False) -> tuple[Pick, str | None] | LeadOutcome:
        """A NOT_FOUND: the pick and lead a recheck found (strong retrieval only); else, when
        `keep` (the best passage scores at or above `answer.keep_above`), the first pick with no
        lead: retrieval that strong outweighs the model's word; else the abstention."""
        found = self._recheck(question, lang, picks, alternatives, translation, as_body) if strong else None
        if found is None and keep:
            flags.extend(f for f in ("model-found-no-answer", "kept-for-retrieval-score") if f not in flags)
            return picks[0], None
        if found is None:
            return LeadOutcome("", [], abstain=True,
                               flags=["model-found-no-answer"] + (["rechecked-other-passages"] if strong else []))
        flags.append("not-found-overruled")
        return found

    def lead(self, question: str, lang: str, picks: list[Pick], alternatives: list[Pick],
             strong: bool, translation: str | None = None, keep: bool = False) -> Iterator[Draft | LeadOutcome]:
        """The answer body over `picks` (Drafts as the model writes, then one LeadOutcome).
        `translation`: the question in the other language, for sentences in that language (the
        model reads one language at a time)."""
        flags: list[str] = []
        if self.llm is None:
            yield self._extractive(lang, picks, flags)
            return
        source = join_sentences([p.text for p in picks])
        same = picks[0].lang == lang
        # a table is no answer sentence: the model reads its row and writes one (the lead path)
        tabular = any(has_table_block(p.text) for p in picks)
        if not tabular and ((same and self.same_language == "sentences")
                            or (not same and self.cross_lingual == "translate")):
            # the picked sentences are the answer (translated when they are in the other
            # language); the model only confirms that they answer
            if self._answers(*asked_in(question, lang, translation, picks[0].lang), picks[0].asked,
                             CHECK_TOKENS) is None:
                found = self._overrule(question, lang, picks, alternatives, strong, flags, translation, True, keep)
                if isinstance(found, LeadOutcome):
                    yield found
                    return
                picks, source = [found[0]], found[0].text
            if picks[0].lang == lang:
                flags.append("answer-is-the-source")
                yield self._extractive(lang, picks, flags)
                return
            # answer in the evidence's language (the sentences), then translate that answer (its
            # figures written the target's way first: the model copies figures, it misconverts them)
            moved = clean_lead((yield from self._stream(translation_messages(restate_figures(source, lang), lang),
                                                        TRANSLATE_TOKENS)))
            moved, problems = self._checked(moved, lang, source)
            if not problems:
                flags.append("answer-is-the-source-translated")
                yield LeadOutcome(with_marker(moved, picks[0].n), picks, flags=flags)
                return
            flags.append("translation-replaced-by-lead: " + ",".join(problems))
        given = _as_read(source, picks[0].lang, lang)
        raw = yield from self._stream(lead_messages(question, lang, given))
        if is_not_found(raw):
            found = self._overrule(question, lang, picks, alternatives, strong, flags, keep=keep)
            if isinstance(found, LeadOutcome):
                yield found
                return
            if found[1] is None:  # kept for its retrieval score: the sentences, no lead
                yield self._fallback(lang, [found[0]], flags)
                return
            picks, source, raw = [found[0]], found[0].text, found[1]
            given = _as_read(source, picks[0].lang, lang)
        lead, problems = self._checked(clean_lead(raw), lang, source, question)
        if problems:
            flags.append("lead-retried: " + ",".join(problems))
            lead = clean_lead("".join(self._generate(retry_messages(question, lang, given, problems))))
            lead, problems = self._checked(lead, lang, source, question)
        if problems:
            flags.append("lead-replaced: " + ",".join(problems))
            yield self._fallback(lang, picks, flags)
            return
        yield LeadOutcome(with_marker(lead, picks[0].n), picks, flags=flags)

    def _fallback(self, lang: str, picks: list[Pick], flags: list[str]) -> LeadOutcome:
        """The picked sentence as the body (translated when it is in the other language)."""
        p = picks[0]
        if p.lang != lang and self.translate is not None:
            moved = self.translate(p.text, lang)
            if moved and not lead_problems(moved, lang, p.text):
                flags.append("translated-source")
                return LeadOutcome(with_marker(moved, p.n), picks, flags=flags)
        return self._extractive(lang, picks, flags)

    @staticmethod
    def _extractive(lang: str, picks: list[Pick], flags: list[str]) -> LeadOutcome:
        p = picks[0]
        if p.lang == lang:
            return LeadOutcome(with_marker(p.text, p.n), picks, flags=flags)
        flags.append("quoted-other-language")
        return LeadOutcome(with_marker(QUOTE_LABEL[lang] + ("." if lang == "en" else "。"), p.n), picks, flags=flags)

    # ---------------------------------------------------------------- structure
    def structure(self, question: str, lang: str, outline: Outline) -> tuple[str, str]:
        """A chapter's parts from the heading tree, in the question's language; and the quote
        (the chapter's subsection titles as printed)."""
        children = outline.children
        quote = "; ".join(children) if outline.lang == "en" else "；".join(children)
        moved = None
        if outline.lang != lang and self.translate is not None:
            out = self.translate("; ".join(children) if outline.lang == "en" else "；".join(children), lang)
            items = [x.strip(" 。.") for x in re.split(r"[;；]", out or "") if x.strip(" 。.")]
            moved = items if len(items) == len(children) else None
        if moved is not None:
            children = moved
        elif outline.lang != lang:  # titles kept in their own language are quoted as names
            children = [f"“{c}”" for c in children]
        name = _strip_number(outline.title)
        n = len(children)
        which = _chapter_label(outline.path[0] if len(outline.path) == 1 else None, lang)
        if lang == "zh":
            body = f"{which}“{name}”包括{_zh_count(n)}部分：{'；'.join(children)}[1]。"
        else:
            body = f"{which}, \"{name}\", covers {n} parts: {'; '.join(children)} [1]."
        return body, quote

    def title(self, question: str, lang: str, outline: Outline) -> tuple[str, str]:
        """A chapter's (or its summary's) title from the heading tree, in the question's
        language; and the quote (the heading as printed)."""
        summary = len(outline.path) > 1
        name = _strip_number(outline.title)
        if summary:  # "小结：双诸边治理重塑…": the answer says it is the summary
            name = re.sub(r"^(?:小结|总结|summary|conclusion)\s*[:：]\s*", "", name, flags=re.I) or name
        if outline.lang != lang and self.translate is not None:
            moved = (self.translate(name, lang) or "").strip().strip(" 。.\"“”《》")
            name = moved if moved and not lead_problems(moved, lang, name) else name
        which = _chapter_label(outline.path[0], lang)
        if lang == "zh":
            body = f"{which}{'的小结' if summary else ''}题为“{name}”[1]。"
        else:
            body = f"{'The summary of ' + which if summary else which} is titled \"{name}\" [1]."
        return body, outline.title


def _as_read(source: str, source_lang: str, lang: str) -> str:
    """The sentences as the model reads them for a lead in `lang`: from the other language, with
    their figures written the target's way (`restate_figures`)."""
    return source if source_lang == lang else restate_figures(source, lang)


def _chapter_label(heading: str | None, lang: str) -> str:
    """'第三章' / 'Chapter 3' for a chapter heading with a number, else '该部分' / 'This section'."""
    from ingest.headings import chapter_number, int_to_zh

    num = chapter_number(heading) if heading else None
    if lang == "zh":
        return f"第{int_to_zh(num)}章" if num else "该部分"
    return f"Chapter {num}" if num else "This section"


def _strip_number(title: str) -> str:
    from .structure import strip_numbering

    return strip_numbering(title)


def _zh_count(n: int) -> str:
    return "一两三四五六七八九十"[n - 1] + "个" if 0 < n <= 10 else f"{n}个"
