"""Repairs of what OCR misreads in ways that matter to sections and search: heading numbers
and the spaces between English words.

Heading numbers: PP-OCRv4 reads the Roman numeral "III." as "lIl." or "Ill." and "(iii)" as
"(ili)", and drops the space in "(ii)With" or "Chapter 4:Bilateral"; a misread number hides the
heading from the section tree (the 2022 white paper's chapters II and III merged into chapter I).
`repair_heading_numbers` rewrites such a number at the start of a line when the result is a
Roman numeral.

Glued words: PP-OCRv4 reads a tightly set English line as one run of letters now and then
("Dilemmaunder theGlobalMultilateralFramework", "LighthouseSurvey"): about 1.4% of the English
words of the scanned corpus came back glued, and a glued word is lost to the lexical index and
to a reader. A run of letters that is neither an English word (wordninja's 126k-word list) nor a
word the document itself uses is split at its case changes and by wordninja's word model with
the document's own words added, and the split is kept only when every part is a word.

Needs the `ocr` extra (wordninja comes with it); without it text is left as it is.
"""
from __future__ import annotations

import re
from collections import Counter
from math import log

from .headings import canonical_roman

_LINE_NUMERAL = re.compile(r"^([IlVX|]{1,5})\.(?=\s*[A-Z])")  # "lIl. New Circumstances"
_LINE_PAREN_NUMERAL = re.compile(r"^\(([ivxl]{1,5})\)")  # "(ili) The exploration"
_GLUED_AFTER_NUMBER = re.compile(r"^(\((?:[ivx]{1,5}|\d{1,2})\)|Chapter \d{1,2}\s*[:：])(?=[A-Za-z])")


def _to_roman(n: int) -> str:
    out = ""
    for v, r in ((10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        while n >= v:
            out, n = out + r, n - v
    return out


def _repaired(seen: str, last: int) -> tuple[str, int] | None:
    """A misread Roman numeral (upper case, l and | for I) as printed: the next number after
    `last` when the misreading is one letter off it ("lIl" after I is II), else the numeral it
    reads as. None when it is no Roman numeral or nothing was misread."""
    if not any(c in seen for c in "l|"):
        return None
    fixed = seen.replace("l", "I").replace("|", "I")
    expected = _to_roman(last + 1)
    if fixed != expected and abs(len(fixed) - len(expected)) <= 1 and set(expected) <= set(fixed):
        fixed = expected
    value = canonical_roman(fixed)
    return (fixed, value) if value else None


def repair_heading_numbers(pages: list[str]) -> list[str]:
    """Heading numbers at the start of lines as the pages printed them, read in order through the
    document: "lIl." -> "II." after chapter I, "(ili)" -> "(iii)" after (ii), "(ii)With" -> "(ii) With",
    "Chapter 4:Bilateral" -> "Chapter 4: Bilateral"."""
    chapter = part = 0
    part_capital = False
    out = []
    for text in pages:
        lines = []
        for line in text.split("\n"):
            m = _LINE_NUMERAL.match(line)
            if m:
                got = _repaired(m.group(1), chapter)
                value = got[1] if got else canonical_roman(m.group(1))
                if got:
                    line = got[0] + line[m.end(1):]
                if value:
                    chapter, part, part_capital = value, 0, False
            m = _LINE_PAREN_NUMERAL.match(line)
            if m:
                got = _repaired(m.group(1).replace("l", "|").upper(), part)
                value = got[1] if got else canonical_roman(m.group(1).upper())
                head = f"({got[0].lower()})" if got else m.group(0)
                rest = line[m.end():]
                word = rest.lstrip()
                # "(iii) with growing importance": the next item of a list whose items start
                # capitalised had its capital misread
                if value and value == part + 1 and part_capital and word[:1].islower():
                    word = word[0].upper() + word[1:]
                    rest = rest[: len(rest) - len(word)] + word
                line = head + rest
                if value:
                    part, part_capital = value, word[:1].isupper()
            lines.append(_GLUED_AFTER_NUMBER.sub(lambda g: g.group(1).rstrip() + " ", line))
        out.append("\n".join(lines))
    return out


# Short words a glued run may hold; any other part must have three letters or more, so that
# a word the dictionary lacks ("plurilateral") is not cut into dictionary debris ("pl uri lateral").
SHORT = frozenset("a an as at be by do he if in is it me my no of on or so to up us we".split())
# A run without a case change inside is split only when one of its parts is a function word:
# "Dilemmaunder", "Governmentand", "ofkeyrules" are glued; "cybersecurity", "blockchain",
# "Paperless" are words the dictionary lacks, and their parts are content words.
FUNCTION = SHORT | frozenset(
    "and are but for from has have into its not our over some than that the their this under was "
    "which while with".split())
MIN_RUN = 5  # shorter runs are left alone
LONG_RUN = 20  # a run this long is no word: split without a function word among its parts
DOC_WORD_MIN_COUNT = 3  # a word the document uses this often counts as a word
_RUN = re.compile(r"(?<![A-Za-z])[A-Za-z]{%d,}(?![A-Za-z])" % MIN_RUN)
_POSSESSIVE_GLUED = re.compile(r"(?<=[A-Za-z]['’]s)(?=[A-Z])")  # "People'sRepublic"
_AMPERSAND_GLUED = re.compile(r"(?<=[a-z]{2})&(?=[A-Z][a-z])")  # "Dual&Plurilateral", not "AT&T"
_AI_MISREAD = re.compile(r"\(Al\)")  # "(AI)" read with a lower-case L
_WORD = re.compile(r"[A-Za-z]+")
_CASE_PARTS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+")


class WordSplitter:
    """Splits glued English words in the text of one document, knowing that document's words."""

    def __init__(self, texts: list[str]):
        import wordninja

        base = wordninja.DEFAULT_LANGUAGE_MODEL
        counts = Counter(w.lower() for t in texts for w in _WORD.findall(t))
        self._doc_words = {w for w, n in counts.items() if n >= DOC_WORD_MIN_COUNT and len(w) >= 3}
        self._model = wordninja.LanguageModel.__new__(wordninja.LanguageModel)
        cost = dict(base._wordcost)
        common = log(1000 * log(len(cost)))  # the document's own words cost as much as a common word
        for w in self._doc_words:
            cost[w] = min(cost.get(w, common), common)
        self._model._wordcost = cost
        self._model._maxword = max(base._maxword, max(map(len, self._doc_words), default=0))
        self._dictionary = base._wordcost

    def known(self, word: str) -> bool:
        w = word.lower()
        return w in self._dictionary or w in self._doc_words

    def _part_ok(self, part: str) -> bool:
        # a two-letter part only as a lower-case function word: "ofkeyrules", "theUnited", but
        # "WeChat" and "LinkedIn" stay whole
        return self.known(part) and (len(part) >= 3 or part in SHORT)

    def split_run(self, run: str) -> str:
        """One run of letters, with spaces put back where it holds several words."""
        pieces = _CASE_PARTS.findall(run)
        # "thePeople", "ofGlobal": a function word glued to a capitalised word is never one word,
        # whatever the word list holds (wordninja's has "thepeople")
        glued_function = len(pieces) > 1 and pieces[0].lower() in FUNCTION and pieces[0].islower()
        if self.known(run) and not glued_function:
            return run
        out = []
        for piece in pieces:
            if self.known(piece) or piece.isupper():
                out.append(piece)
                continue
            parts = list(self._model.split(piece))
            if (len(parts) > 1 and all(map(self._part_ok, parts))
                    and (len(piece) >= LONG_RUN or any(p.lower() in FUNCTION for p in parts))):
                out.extend(parts)
            else:
                out.append(piece)
        # every part a word, an acronym, or a long piece cut off at a case change ("the National
        # Internet Information Officereleased": "Officereleased" is glued too, but not by a
        # function word); "McDonald" stays whole
        if len(out) < 2 or not all(p.isupper() or self._part_ok(p) or (p in pieces and len(p) >= MIN_RUN)
                                   for p in out):
            return run
        return " ".join(out)

    def fix(self, text: str) -> str:
        text = _POSSESSIVE_GLUED.sub(" ", text)
        text = _AMPERSAND_GLUED.sub(" & ", _AI_MISREAD.sub("(AI)", text))
        return _RUN.sub(lambda m: self.split_run(m.group(0)), text)


def splitter_for(texts: list[str]) -> WordSplitter | None:
    """A WordSplitter for a document's texts, or None without wordninja (the `ocr` extra)."""
    try:
        return WordSplitter(texts)
    except ImportError:
        return None
