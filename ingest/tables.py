"""Tables in text PDFs, kept as tables instead of a flattened run of numbers.

`find_page_tables` (pdfplumber) finds ruled tables (from the drawn grid) and whitespace-aligned
ones (rows of three or more cells whose columns line up); the page text keeps only what lies
outside them. `place_tables` puts each table into the section that holds the line above it, as
a Markdown block (caption, header row, rows), split by rows to fit a chunk with the header
repeated; `Section.tables` records the blocks, and chunking makes each one chunk.
"""
from __future__ import annotations

import io
import re
import statistics

from .clean import normalize_line
from .model import Page, Section, Table, page_at
from .text import count_tokens

CAPTION = re.compile(r"^(?:表|附表|Table|TABLE|Tab\.)\s*[\dA-Za-z一二三四五六七八九十]")
_LEADERS = re.compile(r"[.…·•]{4,}")
MIN_ROWS = 3  # header + two rows
MIN_BORDERLESS_COLS = 3  # two aligned columns are as often a contents page or a form as a table


# ---------------------------------------------------------------------------- finding


def find_tables(data: bytes, pages: list[Page]) -> None:
    """Find the tables of a PDF's text pages: set `page.tables` and take their text out of
    `page.text` (pages read by OCR are left as they are)."""
    import pdfplumber

    try:
        pdf = pdfplumber.open(io.BytesIO(data))
    except Exception:  # pypdf read it; a parser that cannot only costs the tables
        return
    with pdf:
        for page in pages:
            if page.ocr or not page.text.strip() or page.number > len(pdf.pages):
                continue
            try:
                found = find_page_tables(pdf.pages[page.number - 1])
                if not found:
                    continue
                boxes = [bbox for bbox, _ in found]
                rest = pdf.pages[page.number - 1].filter(lambda o: not _inside_any(o, boxes))
                text = rest.extract_text() or ""
            except Exception:
                continue
            page.text = text
            for bbox, rows in found:
                above = _lines_above(rest, bbox[1])
                anchor = above[-1] if above else ""
                page.tables.append(Table(page=page.number, rows=rows,
                                         caption=anchor if CAPTION.match(anchor) else "", anchor=anchor))


def find_page_tables(pl_page) -> list[tuple[tuple, list[list[str]]]]:
    """(bbox, rows) of the tables on one pdfplumber page, top to bottom."""
    found = []
    if pl_page.lines or pl_page.rects:
        for t in pl_page.find_tables():
            rows = _clean_rows(t.extract())
            if _is_table(rows, min_cols=2):
                found.append((t.bbox, rows))
    boxes = [b for b, _ in found]
    for bbox, rows in borderless_tables(pl_page):
        if not any(_overlap(bbox, b) for b in boxes):
            found.append((bbox, rows))
    return sorted(found, key=lambda x: x[0][1])


def borderless_tables(pl_page) -> list[tuple[tuple, list[list[str]]]]:
    """Runs of at least MIN_ROWS consecutive lines that each split, at wide gaps, into the same
    number (>= 3) of cells whose columns overlap line to line."""
    words = pl_page.extract_words(x_tolerance=1.5, y_tolerance=2, keep_blank_chars=False)
    if not words:
        return []
    size = statistics.median(w["bottom"] - w["top"] for w in words)
    gap = max(1.5 * size, 6.0)
    lines: list[list[dict]] = []
    for w in sorted(words, key=lambda w: (round(w["top"]), w["x0"])):
        if lines and abs(lines[-1][0]["top"] - w["top"]) <= size * 0.4:
            lines[-1].append(w)
        else:
            lines.append([w])
    rows = [_cells(sorted(ln, key=lambda w: w["x0"]), gap) for ln in lines]
    out = []
    i = 0
    while i < len(rows):
        j = i + 1
        if len(rows[i]) >= MIN_BORDERLESS_COLS:
            while j < len(rows) and _same_columns(rows[i], rows[j]):
                j += 1
        if j - i >= MIN_ROWS:
            cells = [[normalize_line(c["text"]) for c in r] for r in rows[i:j]]
            if _is_table(cells, min_cols=MIN_BORDERLESS_COLS):
                ws = [w for ln in lines[i:j] for w in ln]
                bbox = (min(w["x0"] for w in ws) - 1, min(w["top"] for w in ws) - 1,
                        max(w["x1"] for w in ws) + 1, max(w["bottom"] for w in ws) + 1)
                out.append((bbox, cells))
            i = j
        else:
            i += 1
    return out


def _cells(words: list[dict], gap: float) -> list[dict]:
    cells: list[dict] = []
    for w in words:
        if cells and w["x0"] - cells[-1]["x1"] <= gap:
            cells[-1]["text"] += " " + w["text"]
            cells[-1]["x1"] = w["x1"]
        else:
            cells.append({"text": w["text"], "x0": w["x0"], "x1": w["x1"]})
    return cells


def _same_columns(a: list[dict], b: list[dict]) -> bool:
    return len(a) == len(b) and all(min(x["x1"], y["x1"]) > max(x["x0"], y["x0"]) - 2 for x, y in zip(a, b))


def _clean_rows(rows: list[list]) -> list[list[str]]:
    out = [[normalize_line(c or "") for c in r] for r in rows]
    return [r for r in out if any(r)]


def _is_table(rows: list[list[str]], min_cols: int) -> bool:
    if len(rows) < 2 or max((len(r) for r in rows), default=0) < min_cols:
        return False
    cells = [c for r in rows for c in r]
    if sum(1 for c in cells if c) < 0.6 * len(cells):
        return False
    return not any(_LEADERS.search(c) for c in cells)  # a contents page's dot leaders


def _inside_any(obj, boxes) -> bool:
    if "x0" not in obj or "top" not in obj:
        return False
    x = (obj["x0"] + obj["x1"]) / 2
    y = (obj["top"] + obj["bottom"]) / 2
    return any(b[0] <= x <= b[2] and b[1] <= y <= b[3] for b in boxes)


def _overlap(a, b) -> bool:
    return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])


def _lines_above(pl_page, top: float) -> list[str]:
    words = [w for w in pl_page.extract_words(x_tolerance=1.5, y_tolerance=2) if w["bottom"] <= top + 1]
    lines: list[list[dict]] = []
    for w in sorted(words, key=lambda w: (round(w["top"]), w["x0"])):
        if lines and abs(lines[-1][0]["top"] - w["top"]) <= 2:
            lines[-1].append(w)
        else:
            lines.append([w])
    return [normalize_line(" ".join(w["text"] for w in sorted(ln, key=lambda w: w["x0"]))) for ln in lines]


# ---------------------------------------------------------------------------- Markdown blocks


def markdown_blocks(table: Table, max_tokens: int) -> list[str]:
    """The table as Markdown, one block per chunk: caption line, header row, separator, then as
    many rows as fit in max_tokens (at least one); later blocks repeat caption and header."""
    width = max(len(r) for r in table.rows)
    rows = [r + [""] * (width - len(r)) for r in table.rows]
    header = _md_row(rows[0])
    sep = "| " + " | ".join(["---"] * width) + " |"
    cont = "（续）" if re.search(r"[\u4e00-\u9fff]", table.caption + header) else " (continued)"
    blocks: list[str] = []
    cur: list[str] = []

    def head(first: bool) -> list[str]:
        cap = table.caption + ("" if first or not table.caption else cont)
        return ([cap] if cap else []) + [header, sep]

    budget = max_tokens - count_tokens("\n".join(head(False)))
    used = 0
    for r in rows[1:]:
        line = _md_row(r)
        n = count_tokens(line)
        if cur and used + n > budget:
            blocks.append("\n".join(head(not blocks) + cur))
            cur, used = [], 0
        cur.append(line)
        used += n
    blocks.append("\n".join(head(not blocks) + cur))
    return blocks


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


# ---------------------------------------------------------------------------- placing


def place_tables(tables: list[Table], sections: list[Section], max_tokens: int) -> None:
    """Insert each table's Markdown blocks into the section holding the line above it, after that
    line's paragraph (or at the start of the section holding its page), and record the blocks'
    spans in Section.tables and the table's page in Section.page_breaks. Section offsets must be
    recomputed afterwards (sections.document_text changes)."""
    for t in tables:
        where = _find_anchor(t, sections)
        if where is None:
            continue
        s, at = where
        _insert(s, at, markdown_blocks(t, max_tokens), t.page)


def _find_anchor(t: Table, sections: list[Section]) -> tuple[Section, int] | None:
    on_page = [s for s in sections if s.page_start <= t.page <= s.page_end] or [
        s for s in sections if s.page_start <= t.page] or sections[:1]
    if not on_page:
        return None
    anchor = normalize_line(t.anchor).rstrip("-")
    if anchor:
        for probe in (anchor, anchor[-12:]):
            for s in on_page:
                if s.title and s.title.endswith(probe):
                    return s, 0
                k = s.text.find(probe)
                if k >= 0:
                    end = s.text.find("\n", k + len(probe))
                    return s, len(s.text) if end < 0 else end
    s = on_page[0]  # no line above (the table tops its page): where the page starts in the section
    for off, page in s.page_breaks:
        if page == t.page:
            return s, max(s.text.rfind("\n", 0, off), 0) if off else 0
    return s, len(s.text)


def _insert(s: Section, at: int, blocks: list[str], page: int) -> None:
    text = "\n".join(blocks)
    before_page = page_at(s.page_start, s.page_breaks, at)
    if at == 0:
        s.text = text + ("\n" + s.text if s.text else "")
        start, shift = 0, len(text) + (1 if s.text[len(text):] else 0)
    else:
        s.text = s.text[:at] + "\n" + text + s.text[at:]
        start, shift = at + 1, len(text) + 1
    s.page_breaks = [(o + shift if o >= start else o, p) for o, p in s.page_breaks]
    s.tables = [(a + shift, b + shift) if a >= start else (a, b) for a, b in s.tables]
    pos = start
    for b in blocks:
        s.tables.append((pos, pos + len(b)))
        pos += len(b) + 1
    s.tables.sort()
    after = start + len(text) + 1
    marks = dict(s.page_breaks)
    marks[start] = page
    if after < len(s.text):
        marks.setdefault(after, before_page)  # the text after the table is on the page it was on
    s.page_breaks = sorted(marks.items())
    s.page_start = min(s.page_start, page)
    s.page_end = max(s.page_end, page)
