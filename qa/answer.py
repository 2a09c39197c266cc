"""What every answer path shares: the model's control word, abstention texts, figures, and
streaming a reply from any LangChain chat model."""
from __future__ import annotations

import re
from typing import Callable, Iterator

NOT_FOUND = "NOT_FOUND"

ABSTAIN_TEXT = {
    "zh": "文档中没有找到可以回答这个问题的内容。",
    "en": "The documents do not say: nothing in the indexed reports answers this question.",
}

# digits inside a name are not figures: G20, SDG16, COVID-19, 5G, 3D
_NUM = re.compile(r"(?<![A-Za-z])(?<![A-Za-z]-)\d+(?:[.,]\d+)*(?![A-Z])")


def numbers(text: str) -> set[str]:
    """Figures in a text, normalised ("6,814" -> "6814"); single digits are too common to check,
    and digits that belong to a name (G20, 5G) are not figures."""
    out = set()
    for m in _NUM.findall(text):
        v = m.replace(",", "")
        if len(v.replace(".", "")) >= 2:
            out.add(v.rstrip("0").rstrip(".") if "." in v else v)
    return out


def generate(llm, messages: list[dict], max_tokens: int, on_token: Callable[[str], None] | None = None) -> str:
    """The reply of ``llm`` (any LangChain chat model; see ``llm.stream``) to role/content
    ``messages``, stripped; each text piece goes to ``on_token`` as it is generated."""
    from llm.stream import stream_text

    parts: list[str] = []
    stream: Iterator[str] = stream_text(llm, messages, max_tokens=max_tokens, temperature=0.0)
    for piece in stream:
        parts.append(piece)
        if on_token:
            on_token(piece)
    return "".join(parts).strip()


def is_not_found(raw: str) -> bool:
    """Whether the model's reply is its NOT_FOUND control word."""
    head = raw.strip().strip("`*_ ").upper()
    return head.startswith(NOT_FOUND) or head.startswith("NOT FOUND")
