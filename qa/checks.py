"""Checks of a written answer body against the passage it rests on, each a plain function.

`copies` is the one the answer layer and `wpqa eval` share: a body that is its quote again
(word for word inside it, or nearly the same text) makes the reader read the passage twice.
"""
from __future__ import annotations

import re
from difflib import SequenceMatcher


def squash_words(text: str) -> str:
    """Letters and digits only, case-folded: what two texts are compared on."""
    return re.sub(r"[\W_]+", "", (text or "").casefold())


def copies(body: str, passage: str, ratio: float = 0.8) -> bool:
    """The body repeats its passage: held in it word for word, or nearly the same text
    (difflib ratio >= `ratio`). Bodies under 10 letters (a name, a date) never count."""
    b, p = squash_words(body), squash_words(passage)
    if len(b) < 10 or not p:
        return False
    return b in p or SequenceMatcher(None, b, p, autojunk=False).ratio() >= ratio

