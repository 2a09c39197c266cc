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


def _plain(digits: str) -> str:
    """A figure's digits compared as written: "6,814" -> "6814", "9.0" -> "9"."""
    d = digits.replace(",", "")
    return d.rstrip("0").rstrip(".") if "." in d else d


def numbers(text: str) -> set[str]:
    """Figures in a text, normalised ("6,814" -> "6814"); single digits are too common to check,
    and digits that belong to a name (G20, 5G) are not figures."""
    return {_plain(m) for m in _NUM.findall(text) if len(m.replace(",", "").replace(".", "")) >= 2}


# a magnitude word after a figure: 70万 = 700,000, 2570亿 = 257 billion, 8.98万亿 = 8.98 trillion
_SCALE = {"万亿": 1e12, "亿": 1e8, "万": 1e4, "thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
_VALUE = re.compile(r"(?<![A-Za-z])(?<![A-Za-z]-)(\d+(?:[.,]\d+)*)(?![A-Z])\s*(万亿|亿|万|(?i:thousand|million|billion|trillion))?")


def _figures(text: str) -> list[tuple[str, str, bool, float]]:
    """Each figure of a text: as written, its digits (`_plain`), whether a magnitude word follows
    them, and its value with that word."""
    out = []
    for m in _VALUE.finditer(text):
        digits, scale = m.group(1).replace(",", ""), m.group(2)
        if len(digits.replace(".", "")) < 2 and not scale:
            continue
        try:
            value = float(digits) * (_SCALE[scale.lower()] if scale else 1.0)
        except ValueError:  # "1.2.3": a section number, not a figure
            continue
        out.append((m.group(0).strip(), _plain(digits), bool(scale), value))
    return out


def figure_values(text: str) -> list[tuple[str, float]]:
    """Each figure of a text as written ("70万", "700,000") and its value with its magnitude word
    (700000.0 for both), so that a translation that writes a Chinese figure the English way, or
    the other way round, still holds the source's figure. Single digits without a magnitude word
    are not figures (see `numbers`)."""
    return [(shown, value) for shown, _, _, value in _figures(text)]


def figures_not_in(text: str, source: str) -> list[str]:
    """The figures of `text` that `source` does not hold: neither its digits as a figure the
    source writes without a magnitude word (a table's 40.7 under "（亿美元）" is 40.7亿 and $4.07
    billion), nor its value with its magnitude word (`figure_values`: 70万 = 700,000). So
    "2570 billion" for 2570亿 and "70 million" for 70万 are figures the source does not hold."""
    held = _figures(source)
    bare = {digits for _, digits, scaled, _ in held if not scaled}
    values = [v for _, _, _, v in held]
    return [shown for shown, digits, _, value in _figures(text)
            if digits not in bare and not any(abs(value - v) <= 1e-9 * max(abs(v), 1.0) for v in values)]


# an integer of four digits or more standing alone (not in 1,234 or 3.1416 or a name); a year is
# left as it is: 1900-2099, or any figure followed by 年
_PLAIN = re.compile(r"(?<![\d.,A-Za-z])(\d{4,})(?![\d.,A-Za-z]|\s*年)")


def _grouped(m: re.Match) -> str:
    v = int(m.group(1))
    return m.group(1) if len(m.group(1)) == 4 and 1900 <= v <= 2099 else f"{v:,}"


_ZH_MAGNITUDE = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*(万亿|亿|万)")
_EN_MAGNITUDE = re.compile(r"(?<![\d.,])(\d[\d,]*(?:\.\d+)?)\s*((?i:trillion|billion|million))\b")


def _num(v: float) -> str:
    return f"{round(v, 6):,.6f}".rstrip("0").rstrip(".")


def restate_figures(text: str, target: str) -> str:
    """`text` with its figures written the way the target language writes them, for the model to
    copy rather than convert: the bundled model translated 70万 as "70 million" and 2570亿 as
    "2570 billion", and its figures are checked against the source's by value.
    Into English: 70万 -> 700,000, 2570亿 -> 257 billion, 8.98万亿 -> 8.98 trillion, and a
    count in thousands grouped (6814个 -> 6,814个: it wrote "68,140"; a year stays 2019). Into
    Chinese: 257 billion -> 2570亿, 700 million -> 7亿, 36 million -> 3600万."""
    if target == "en":
        def en(m: re.Match) -> str:
            v = float(m.group(1)) * _SCALE[m.group(2)]
            for size, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million")):
                if v >= size:
                    return f"{_num(v / size)} {word}"
            return _num(v)
        return _PLAIN.sub(_grouped, _ZH_MAGNITUDE.sub(en, text))

    def zh(m: re.Match) -> str:
        v = float(m.group(1).replace(",", "")) * _SCALE[m.group(2).lower()]
        for size, word in ((1e12, "万亿"), (1e8, "亿"), (1e4, "万")):
            if v >= size:
                return f"{_num(v / size).replace(',', '')}{word}"
        return m.group(0)
    return _EN_MAGNITUDE.sub(zh, text)


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
