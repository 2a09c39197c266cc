"""Put back the spaces the OCR recogniser drops between English words.

PP-OCRv4 reads a tightly set English line as one run of letters now and then
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
DOC_WORD_MIN_COUNT = 3  # a word the document uses this often counts as a word
_RUN = re.compile(r"(?<![A-Za-z])[A-Za-z]{%d,}(?![A-Za-z])" % MIN_RUN)
_POSSESSIVE_GLUED = re.compile(r"(?<=[A-Za-z]['’]s)(?=[A-Z])")  # "People'sRepublic"
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
                    and any(p.lower() in FUNCTION for p in parts)):
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
        return _RUN.sub(lambda m: self.split_run(m.group(0)), text)


def splitter_for(texts: list[str]) -> WordSplitter | None:
    """A WordSplitter for a document's texts, or None without wordninja (the `ocr` extra)."""
    try:
        return WordSplitter(texts)
    except ImportError:
        return None
