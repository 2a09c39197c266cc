"""Number formatting and nested look-ups shared by the parts of bench/REPORT.md."""
from __future__ import annotations

SYSTEMS = [  # (results file, label)
    ("quality_wpqa_default", "wpqa default (llama-cpp, translation on)"),
    ("quality_wpqa_extractive", "wpqa extractive (no translation, no LLM)"),
    ("quality_stock", "stock LangChain (PyPDFLoader + 1000/200 splitter + FAISS, same e5)"),
    ("quality_bm25:stock_chunks", "BM25 alone (jieba, stock chunks)"),
    ("quality_bm25:wpqa_chunks", "BM25 alone (jieba, wpqa chunks)"),
]
SHORT = {"quality_wpqa_default": "wpqa default", "quality_wpqa_extractive": "wpqa extractive",
         "quality_stock": "stock LangChain", "quality_bm25:stock_chunks": "BM25 (stock chunks)",
         "quality_bm25:wpqa_chunks": "BM25 (wpqa chunks)"}


def f2(x, nd=2):
    return "—" if x is None else f"{x:.{nd}f}"


def ms(x):
    if x is None:
        return "—"
    if x >= 10000:
        return f"{x / 1000:.1f} s"
    if x >= 1000:
        return f"{x / 1000:.2f} s"
    if x >= 10:
        return f"{x:.0f} ms"
    return f"{x:.2f} ms"


def mb(x):
    return "—" if x is None else f"{x:,.0f} MB"


def g(d, *path, default=None):
    for p in path:
        if d is None:
            return default
        if isinstance(d, list):
            d = d[p] if isinstance(p, int) and -len(d) <= p < len(d) else None
        else:
            d = d.get(p)
    return default if d is None else d


def write_marked(report, begin: str, end: str, lines: list[str]) -> None:
    """Put `lines` into `report` (a Path) between the markers `begin` and `end`, replacing what
    was there (appended the first time)."""
    block = "\n".join([begin, *lines, end])
    text = report.read_text(encoding="utf-8") if report.exists() else ""
    if begin in text and end in text:
        text = text[: text.index(begin)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    report.write_text(text, encoding="utf-8")


def marked(report, begin: str, end: str) -> str:
    """The block between the markers as `report` has it now, markers included ("" if none)."""
    text = report.read_text(encoding="utf-8") if report.exists() else ""
    if begin in text and end in text:
        return text[text.index(begin): text.index(end) + len(end)]
    return ""
