"""Line-level heading patterns (Chinese and English), shared by cleaning and section detection.

`classify(line)` looks at one line only and says which numbering style it carries; whether
the line really is a heading is decided in `sections.py` from context.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from .text import CJK

ZH_NUM = "一二三四五六七八九十百零〇两"
_ROMAN = r"(?=[IVXLC])C{0,3}(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})"
_ROMAN_LO = r"(?=[ivxlc])c{0,3}(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3})"
_EN_NUMWORD = r"one|two|three|four|five|six|seven|eight|nine|ten"

# Precedence of numbering styles, outermost first. Levels are the dense rank of the styles a
# document actually uses, so "一、/（一）" become 1/2 and "Chapter/(1)" become 1/2 as well.
RANK = {
    "part": 0,
    "chapter": 1,
    "jie": 2,  # 第X节 / Section N
    "zh_num": 3,  # 一、
    "roman": 3,  # I. II.
    "zh_paren": 4,  # （一）
    "arabic": 5,  # 1. 1、
    "decimal2": 6,  # 1.1
    "decimal3": 7,  # 1.1.1
    "paren_num": 8,  # (1) （1）
    "paren_roman": 9,  # (i) (iv)
    "standalone": -1,  # 前言, Background, Notes ...: always level 1
}

_PATTERNS: list[tuple[str, re.Pattern]] = [
    ("part", re.compile(rf"^第[{ZH_NUM}\d]+(?:部分|篇)(?:\s*\S.*)?$")),
    ("part", re.compile(rf"^(?:PART|Part)\s+(?:\d+|{_ROMAN}|{_EN_NUMWORD}|[A-Z])\b\s*[:.：—–-]?\s*\S.*$", re.I)),
    ("chapter", re.compile(rf"^第[{ZH_NUM}\d]+章(?:\s*\S.*)?$")),
    ("chapter", re.compile(rf"^(?:CHAPTER|Chapter)\s+(?:\d+|{_ROMAN}|(?i:{_EN_NUMWORD}))\b\s*[:.：—–-]?\s*\S.*$")),
    ("jie", re.compile(rf"^第[{ZH_NUM}\d]+节(?:\s*\S.*)?$")),
    ("jie", re.compile(r"^(?:SECTION|Section)\s+\d+(?:\.\d+)*\s*[:.：—–-]?\s*\S.*$")),
    ("zh_num", re.compile(rf"^[{ZH_NUM}]+、\s*\S.*$")),
    ("roman", re.compile(rf"^{_ROMAN}\.\s+[A-Z0-9“\"'‘(].*$")),
    ("zh_paren", re.compile(rf"^[（(][{ZH_NUM}]+[）)]\s*\S.*$")),
    ("decimal3", re.compile(r"^\d{1,2}\.\d{1,2}\.\d{1,2}\.?\s+\S.*$")),
    ("decimal2", re.compile(r"^\d{1,2}\.\d{1,2}\.?\s+\S.*$")),
    ("arabic", re.compile(r"^\d{1,2}(?:[、．]|\.(?!\d))\s*\S.*$")),
    ("paren_num", re.compile(r"^[（(]\d{1,2}[）)]\s*\S.*$")),
    ("paren_roman", re.compile(rf"^\({_ROMAN_LO}\)\s*\S.*$")),
]

ZH_STANDALONE = ("前言", "序言", "摘要", "引言", "导言", "结语", "结束语", "结论", "附录", "参考文献", "致谢", "后记")
EN_STANDALONE = (
    "abstract", "acknowledgements", "acknowledgments", "analysis", "annex", "appendix", "background",
    "bibliography", "conclusion", "conclusions", "discussion", "endnotes", "executive summary",
    "footnotes", "foreword", "glossary", "introduction", "methodology", "notes", "overview", "preface",
    "proposal", "proposals", "recommendations", "references", "summary",
)
_ZH_STANDALONE_RE = re.compile(
    rf"^(?:{'|'.join(ZH_STANDALONE)})(?:[{ZH_NUM}A-Z\d]{{0,3}}(?:\s*[：:]\s*\S.*|\s+\S.*)?)?$"
)
_EN_STANDALONE_RE = re.compile(
    rf"^(?:{'|'.join(t.title() for t in EN_STANDALONE)}|{'|'.join(t.upper() for t in EN_STANDALONE)})"
    r"(?:\s+(?:[A-Z]|\d{1,2}|[IVX]+))?\s*:?$"
)

CONTENTS_TITLE = re.compile(r"^(?:目\s*录|目\s*次|(?:table\s+of\s+)?contents)\s*[:：]?$", re.I)
# An entry of a contents listing with its page number: dot leaders and/or a trailing number.
_LEADER = re.compile(r"^(.*?\S)\s*(?:[.·…_\-–—]{2,}|\s)\s*(\d{1,4}|[ivxlc]{1,6})$")

_CJK_PAGE_REF = re.compile(rf"^(.*[{CJK}）)”》])(\d{{1,4}})$")

SENTENCE_END = "。！？；!?;"
_CLOSERS = "”’」』）)》\"'"


@dataclass(frozen=True)
class HeadingMatch:
    kind: str
    title: str  # the line, whitespace-normalised

    @property
    def rank(self) -> int:
        return RANK[self.kind]


def classify(line: str) -> HeadingMatch | None:
    """The numbering style of a line that could be a heading, or None. Context-free."""
    s = " ".join(line.split())
    if not s:
        return None
    if _ZH_STANDALONE_RE.match(s.replace(" ", "")) and len(s) <= 30:
        return HeadingMatch("standalone", s.replace(" ", "") if _is_cjk_only(s) else s)
    if _EN_STANDALONE_RE.match(s):
        return HeadingMatch("standalone", s.rstrip(":").strip())
    for kind, pat in _PATTERNS:
        if pat.match(s):
            return HeadingMatch(kind, s)
    return None


def _is_cjk_only(s: str) -> bool:
    return all(re.match(f"[{CJK}\\s]", ch) for ch in s)


def ends_sentence(s: str) -> bool:
    """True when the line ends a sentence (。！？；!?; or a full stop), closing quotes aside."""
    t = s.rstrip().rstrip(_CLOSERS)
    return bool(t) and t[-1] in SENTENCE_END + "."


def ends_clause(s: str) -> bool:
    """True when the line ends a sentence or a clause (also ，,、:：), i.e. not a title."""
    t = s.rstrip().rstrip(_CLOSERS)
    return bool(t) and t[-1] in SENTENCE_END + ".，,、:："


def strip_page_ref(line: str) -> str:
    """'1.1 Scope ........ 12' -> '1.1 Scope', '一、总体情况3' -> '一、总体情况' (a contents entry
    without its page number; the CJK cleaning has already eaten the space before the number)."""
    s = line.strip()
    m = _LEADER.match(s) or _CJK_PAGE_REF.match(s)
    if m and (classify(m.group(1)) or re.search(r"[.·…_]{2,}", s)):
        return m.group(1).rstrip(" .·…_")
    return s


def skeleton(s: str) -> str:
    """Comparison key: NFKC, no whitespace, no quote marks, case-folded."""
    s = unicodedata.normalize("NFKC", s)
    s = re.sub(r"[\s“”‘’\"'「」『』`´]", "", s)
    return s.casefold()


_ZH_DIGIT = {c: i for i, c in enumerate("零一二三四五六七八九")}
_ROMAN_VAL = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100}


def zh_to_int(s: str) -> int | None:
    """一 .. 九十九 (and 〇/零/两) to an int."""
    s = s.replace("两", "二").replace("〇", "零")
    if not s or any(c not in _ZH_DIGIT and c != "十" for c in s):
        return None
    if "十" in s:
        tens, _, ones = s.partition("十")
        return (_ZH_DIGIT.get(tens, 1) if tens else 1) * 10 + (_ZH_DIGIT.get(ones, 0) if ones else 0)
    return _ZH_DIGIT[s] if len(s) == 1 else None


def int_to_zh(n: int) -> str:
    digits = "零一二三四五六七八九"
    if n < 10:
        return digits[n]
    tens, ones = divmod(n, 10)
    return (digits[tens] if tens > 1 else "") + "十" + (digits[ones] if ones else "")


def roman_to_int(s: str) -> int | None:
    total, prev = 0, 0
    for ch in reversed(s.upper()):
        v = _ROMAN_VAL.get(ch)
        if v is None:
            return None
        total, prev = (total - v, prev) if v < prev else (total + v, v)
    return total or None


def canonical_roman(s: str) -> int | None:
    """The value of an upper-case Roman numeral written the canonical way ("IV", not "IIII"), else None."""
    return roman_to_int(s) if re.fullmatch(_ROMAN, s) else None


def chapter_number(title: str) -> int | None:
    """The number of a top-level heading (第三章, 三、, Chapter 3:, III.), else None."""
    m = classify(title)
    if not m:
        return None
    s = m.title
    if m.kind == "chapter":
        x = re.match(rf"^第([{ZH_NUM}\d]+)章", s) or re.match(r"^chapter\s+(\w+)", s, re.I)
        v = x.group(1) if x else ""
        return int(v) if v.isdigit() else (zh_to_int(v) or roman_to_int(v))
    if m.kind == "zh_num":
        return zh_to_int(s.split("、", 1)[0])
    if m.kind == "roman":
        return roman_to_int(s.split(".", 1)[0])
    return None


def chapter_alias(title: str) -> str:
    """'Chapter 2 第二章' for a numbered top-level heading, so a question that names a chapter in
    either language or numbering style finds it (empty when the title has no chapter number)."""
    n = chapter_number(title)
    return f"Chapter {n} 第{int_to_zh(n)}章" if n and n < 100 else ""
