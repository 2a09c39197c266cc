"""Answer strategies: each turns the selector's windows (or a heading outline) into a body.

- `ModelAnswer` (a model is configured): the model sees the first few windows, numbered, and
  replies with the number of the one that answers and a short answer in the question's
  language, or 0. The abstention decision (`qa.decide`) weighs that reply with retrieval and
  selector scores; the model chooses, it does not veto. The body is checked (`qa.checks`); a
  body that fails is written once more from the chosen window with a note of what was wrong,
  and if that fails too the answer says so in one line and shows the quote once.
- `ExtractiveAnswer` (no model): the best window's anchor sentence, or a label when it is in
  the other language.
- `StructureAnswer`: a chapter's parts or title from the heading tree.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterator

from . import defaults as D
from .answer import is_not_found, restate_figures
from .chain import Draft
from .checks import Problem, body_problems, clean_body, repair_mixed
from .decide import AbstentionModel, Signals
from .prompts import NONE, answer_messages, choose_messages, term_messages
from .select import Window
from .structure import Outline

QUOTE_LABEL = {"en": "The source answers this in Chinese (see the quote)",
               "zh": "资料以英文回答了这个问题（见引文）"}
UNCHECKED = {"en": "No short answer passed the checks; the source's own words are quoted below",
             "zh": "未能写出通过核对的简短回答，资料原文见下方引文"}


@dataclass
class Outcome:
    body: str
    window: Window | None  # the window the body rests on (quoted under it)
    n: int = 1  # its number among the windows shown (the body's citation marker)
    abstain: bool = False
    flags: list[str] = field(default_factory=list)
    p_answerable: float | None = None
    said_none: bool = False


def with_marker(text: str, n: int) -> str:
    """'text.' -> 'text [1].'; '文本。' -> '文本[1]。'. A footnote mark the source printed ("…”[2]")
    goes, so the only marker is the citation; a sentence that ends on a clause mark (；) ends."""
    text = re.sub(r"\[\d{1,3}\]", "", text).strip()
    zh = bool(re.search(r"[\u3400-\u9fff]", text))
    text = re.sub(r"[；;，,：:、]+$", "。" if zh else ".", text)
    m = re.search(r"[。！？!?.]+$", text)
    mark = f"[{n}]" if zh else f" [{n}]"
    return text[: m.start()] + mark + text[m.start():] if m else text + mark


def as_read(window: Window, lang: str) -> str:
    """A window as the model reads it for an answer in `lang`: from the other language, with its
    figures written the target's way (the model copies figures well and converts them badly)."""
    return window.text if window.lang == lang else restate_figures(window.text, lang)


_CHOICE = re.compile(r"^\s*(?:passage\s*|段落\s*)?(?:\[(\d{1,2})\]\s*[:：.、]?|(\d{1,2})\s*(?:[:：.、)）]|$))", re.I)


def parse_choice(raw: str, shown: int) -> tuple[int | None, str]:
    """The model's reply "2: answer" as (1-based choice or None, the answer text). "0", NOT_FOUND,
    a number out of range, or no number at all (a reply that forgot it) are told apart: no number
    means the first window with the reply as its answer."""
    head = raw.strip().strip("`*_ ")
    if is_not_found(head) or re.fullmatch(r"0\s*[.。]?|none\.?|无", head, re.I):
        return None, ""
    m = _CHOICE.match(head)
    if not m:
        return 1, head
    k = int(m.group(1) or m.group(2))
    text = head[m.end():].strip()
    if k == 0 or k > shown:
        return None, text
    return k, text


class ModelAnswer:
    name = "model"

    def __init__(self, llm, decide: AbstentionModel, choices: int = D.CHOICES, max_tokens: int = D.MAX_TOKENS):
        self.llm = llm
        self.decide = decide
        self.choices = choices
        self.max_tokens = max_tokens

    def _generate(self, messages: list[dict], max_tokens: int) -> Iterator[str]:
        from llm.stream import stream_text

        yield from stream_text(self.llm, messages, max_tokens=max_tokens, temperature=0.0)

    def _choose(self, question: str, lang: str, shown: list[Window]) -> Iterator[Draft]:
        """Streams the answer part of the model's reply as Drafts; returns (choice, text)."""
        raw, started = "", False
        for piece in self._generate(choose_messages(question, lang, [as_read(w, lang) for w in shown]),
                                    self.max_tokens):
            raw += piece
            if started:
                yield Draft(piece)
            elif re.search(r"[:：]", raw) or len(raw) > 6:
                started = True
                _, text = parse_choice(raw, len(shown))
                if text:
                    yield Draft(text)
        return parse_choice(raw, len(shown))

    def _write(self, question: str, lang: str, window: Window, problems: list[str] = ()) -> Iterator[Draft]:
        parts = []
        for piece in self._generate(answer_messages(question, lang, as_read(window, lang), problems), self.max_tokens):
            parts.append(piece)
            yield Draft(piece)
        return "".join(parts)

    def _checked(self, body: str, lang: str, window: Window, question: str) -> tuple[str, list[Problem]]:
        """The body and what keeps it from standing; an English body with Chinese words left in it
        has them translated one by one first (cheaper and surer than writing it again)."""
        source = as_read(window, lang)
        problems = body_problems(body, lang, source, question)
        if Problem.MIXED_LANGUAGE in problems and lang == "en":
            fixed = repair_mixed(body, lambda term: "".join(self._generate(term_messages(term), 16)))
            if fixed is not None:
                body, problems = fixed, body_problems(fixed, lang, source, question)
        return body, problems

    def answer(self, question: str, lang: str, windows: list[Window], retrieval: float) -> Iterator[Draft | Outcome]:
        shown = windows[: self.choices]
        flags: list[str] = []
        k, text = yield from self._choose(question, lang, shown)
        signals = Signals(retrieval, shown[0].score, said_none=k is None)
        p = self.decide.p_answerable(signals)
        if p < 0.5:
            yield Outcome("", None, abstain=True, flags=["model-chose-none"], p_answerable=p, said_none=k is None)
            return
        if k is None:  # retrieval and selector outweigh the model's "none": the best window answers
            flags.append("none-outweighed")
            n, window = 1, shown[0]
            text = yield from self._write(question, lang, window)
        else:
            n, window = k, shown[k - 1]
            flags.append(f"chose-{k}-of-{len(shown)}")
        body, problems = self._checked(clean_body(text), lang, window, question)
        if problems:
            flags.append("rewritten: " + ",".join(map(str, problems)))
            text = yield from self._write(question, lang, window, [str(x) for x in problems])
            body, problems = self._checked(clean_body(text), lang, window, question)
        if problems:
            flags.append("unchecked: " + ",".join(map(str, problems)))
            yield Outcome(with_marker(UNCHECKED[lang] + ("." if lang == "en" else "。"), n), window, n, flags=flags,
                          p_answerable=p, said_none=k is None)
            return
        yield Outcome(with_marker(body, n), window, n, flags=flags, p_answerable=p, said_none=k is None)


class ExtractiveAnswer:
    """No model: the best window's anchor sentence is the body (the window is quoted under it)."""

    name = "extractive"

    def answer(self, question: str, lang: str, windows: list[Window], retrieval: float) -> Iterator[Outcome]:
        w = windows[0]
        if w.lang == lang:
            yield Outcome(with_marker(w.anchor, 1), w)
        else:
            yield Outcome(with_marker(QUOTE_LABEL[lang] + ("." if lang == "en" else "。"), 1), w,
                          flags=["quoted-other-language"])


class StructureAnswer:
    """A chapter's parts or title from the heading tree, in the question's language."""

    def __init__(self, translate=None):
        self.translate = translate  # (text, target_lang) -> text | None

    def parts(self, question: str, lang: str, outline: Outline) -> tuple[str, str]:
        """A chapter's parts, and the quote (the subsection titles as printed)."""
        children = outline.children
        sep = "; " if outline.lang == "en" else "；"
        quote = sep.join(children)
        moved = None
        if outline.lang != lang and self.translate is not None:
            out = self.translate(quote, lang)
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
        """A chapter's (or its summary's) title, and the quote (the heading as printed)."""
        from .checks import body_problems

        summary = len(outline.path) > 1
        name = _strip_number(outline.title)
        if summary:  # "小结：双诸边治理重塑…": the answer says it is the summary
            name = re.sub(r"^(?:小结|总结|summary|conclusion)\s*[:：]\s*", "", name, flags=re.I) or name
        if outline.lang != lang and self.translate is not None:
            moved = (self.translate(name, lang) or "").strip().strip(" 。.\"“”《》")
            name = moved if moved and not body_problems(moved, lang, name) else name
        which = _chapter_label(outline.path[0], lang)
        if lang == "zh":
            body = f"{which}{'的小结' if summary else ''}题为“{name}”[1]。"
        else:
            body = f"{'The summary of ' + which if summary else which} is titled \"{name}\" [1]."
        return body, outline.title


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


__all__ = ["ExtractiveAnswer", "ModelAnswer", "NONE", "Outcome", "StructureAnswer", "with_marker"]
