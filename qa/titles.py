"""Whether a title the question quotes (《…》, “…”, "…") is in the corpus at all.

A question about a law or a report the corpus never mentions cannot be answered from it, so
wpqa abstains on it; but a title the corpus holds in the other language (a Chinese 《…》 title of
a report indexed from its English edition) must not count as missing. A quoted title is
therefore looked up, after normalising spaces, quote marks and punctuation, in every chunk's
text, every document's title, file name and section titles (its cover and contents), and the
same for the quoted titles of the question's translation; failing that, a title that shares
its figures (years) with a document's title or name and is close to it in meaning (e5, across
languages) is that document's other-language edition.
"""
from __future__ import annotations

import re
import unicodedata

import numpy as np

from ingest.model import Chunk

_QUOTED = re.compile(r"《([^》]{2,60})》|“([^”]{2,60})”|\"([^\"]{2,60})\"")
_YEARS = re.compile(r"\d{4}")


def quoted_titles(text: str | None) -> list[str]:
    return [next(g for g in m.groups() if g) for m in _QUOTED.finditer(text or "")]


def norm(s: str) -> str:
    """NFKC, case-folded, without whitespace and punctuation: '《全球数字治理白皮书（2020年）》' and
    '全球数字治理白皮书(2020年)' compare equal."""
    s = unicodedata.normalize("NFKC", s).casefold()
    return "".join(ch for ch in s if ch.isalnum())


class TitleIndex:
    """Everything a quoted title could be found in, normalised once per index."""

    def __init__(self, chunks: list[Chunk], documents: list[dict], embeddings=None, min_cosine: float = 0.86):
        self.emb = embeddings
        self.min_cosine = min_cosine
        names: list[str] = []
        for d in documents:
            names.append(d.get("title") or "")
            names.append(re.sub(r"\.[A-Za-z0-9]+$", "", d.get("name", "")))
            names.extend(d.get("aliases") or [])
        self.doc_titles = [n for n in dict.fromkeys(names) if n.strip()]
        parts = [c.text for c in chunks] + self.doc_titles
        parts += [t for d in documents for s in d.get("sections") or [] for t in [s.get("title") or ""]]
        self.hay = "\u0000".join(norm(p) for p in parts)
        self._vecs = None

    def _title_vectors(self) -> np.ndarray:
        if self._vecs is None:
            self._vecs = self.emb.queries(self.doc_titles)
        return self._vecs

    def holds(self, title: str) -> bool:
        key = norm(title)
        if not key or key in self.hay:
            return True
        if self.emb is None or not self.doc_titles:
            return False
        years = set(_YEARS.findall(title))
        cands = [i for i, t in enumerate(self.doc_titles) if years and years <= set(_YEARS.findall(t))]
        if not cands:  # a title with no year must match a document title in meaning alone: too loose
            return False
        v = self.emb.queries([title])[0]
        sims = self._title_vectors()[cands] @ v
        return float(sims.max()) >= self.min_cosine

    def missing(self, question: str, translation: str | None) -> list[str]:
        """The question's quoted titles that the corpus does not hold, in either language."""
        found_in_translation = any(self.holds(t) for t in quoted_titles(translation)) if translation else False
        out = []
        for t in quoted_titles(question):
            if self.holds(t):
                continue
            # the translation's quoted title stands for this one when the question quotes only one
            if found_in_translation and len(quoted_titles(question)) == 1:
                continue
            out.append(t)
        return out
