"""Question files in (.txt, .jsonl, .csv) and answer files out (.jsonl, .csv, .md), resumable."""
from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from common.errors import WpqaError


class QuestionFileError(WpqaError):
    """A question file that cannot be read at all (a malformed line is only a warning)."""


class OutputError(WpqaError):
    """An answer file that cannot be written."""


@dataclass
class Question:
    id: str
    question: str
    line: int


def _auto_id(text: str) -> str:
    return "q-" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:10]


def read_questions(path: Path) -> tuple[list[Question], list[str]]:
    """Questions and one warning per malformed line (with its line number); blank lines skipped."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise QuestionFileError(f"{path}: cannot read ({e.strerror or e})") from e
    try:
        # UTF-16 with a BOM is what Windows tools save as "Unicode text"
        utf16 = raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
        text = raw.decode("utf-16") if utf16 else raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = raw.decode("gb18030")
        except UnicodeDecodeError as e:
            raise QuestionFileError(f"{path}: not UTF-8 or GBK text") from e
    suffix = path.suffix.lower()
    out: list[Question] = []
    warnings: list[str] = []
    if suffix == ".jsonl" or suffix == ".json":
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                warnings.append(f"{path.name}:{n}: skipped, not valid JSON ({e.msg})")
                continue
            q = obj.get("question") if isinstance(obj, dict) else None
            if not isinstance(q, str) or not q.strip():
                what = "no 'question' field" if q is None or q == "" else "'question' is not text"
                warnings.append(f"{path.name}:{n}: skipped, {what}")
                continue
            q = q.strip()
            out.append(Question(str(obj.get("id") or _auto_id(q)), q, n))
    elif suffix == ".csv":
        rows, bad = _csv_rows(text)
        found = [(n, f"{path.name}:{n}: skipped, not valid CSV ({why})") for n, why in bad]
        if rows:
            header = [h.strip().lower() for h in rows[0][1]]
            if "question" in header:
                qi, ii, start = header.index("question"), (header.index("id") if "id" in header else None), 1
            else:
                qi, ii, start = (1, 0, 0) if len(rows[0][1]) >= 2 else (0, None, 0)
        for n, row in rows[start:] if rows else []:
            if not any(c.strip() for c in row):
                continue
            if len(row) <= qi or not row[qi].strip():
                found.append((n, f"{path.name}:{n}: skipped, no question in column {qi + 1}"))
                continue
            q = row[qi].strip()
            qid = row[ii].strip() if ii is not None and len(row) > ii and row[ii].strip() else _auto_id(q)
            out.append(Question(qid, q, n))
        warnings.extend(w for _, w in sorted(found))
    else:  # .txt and anything else: a question a line
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                out.append(Question(_auto_id(line.strip()), line.strip(), n))
    seen: dict[str, int] = {}
    for q in out:  # the same id twice would make resuming ambiguous
        if q.id in seen:
            seen[q.id] += 1
            q.id = f"{q.id}-{seen[q.id]}"
        else:
            seen[q.id] = 1
    return out, warnings


def _csv_rows(text: str) -> tuple[list[tuple[int, list[str]]], list[tuple[int, str]]]:
    """CSV rows with the line each starts on, and (line, why) for rows that are not valid CSV.
    Parsing resumes on the line after a bad row, so one stray quote never swallows the rest of
    the file (the lenient reader would read every later line into that one field)."""
    lines = io.StringIO(text, newline="").readlines()
    rows: list[tuple[int, list[str]]] = []
    bad: list[tuple[int, str]] = []
    pos = 0
    while pos < len(lines):
        reader = csv.reader(lines[pos:], strict=True)
        used = 0  # lines consumed by the rows read so far
        try:
            for row in reader:
                rows.append((pos + used + 1, row))
                used = reader.line_num
            break
        except csv.Error as e:
            why = "a quote is never closed" if "unexpected end of data" in str(e) else str(e)
            bad.append((pos + used + 1, why))
            pos += used + 1
    return rows, bad


def check_writable(path: Path) -> None:
    """Fail now, before any question is answered, when `path` cannot be written (a folder, a
    read-only place, a path under a file). Creates missing parent folders; leaves no file behind."""
    if path.is_dir():
        raise OutputError(f"{path}: is a folder; give a file name for the answers")
    existed = path.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as e:
        raise OutputError(f"{path}: cannot write ({e.strerror or e})") from None
    if not existed:
        path.unlink()


def _parse_lines(data: bytes) -> list[dict]:
    recs = []
    for line in data.decode("utf-8", errors="replace").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict) and "id" in rec:
            recs.append(rec)
    return recs


def open_journal(path: Path) -> None:
    """Make the JSONL journal ready for appending: writable (else `OutputError`), without the torn
    last line a killed run may leave, and without records whose question failed (`error`), so those
    questions are asked again and their new record is the only line of that id. Rewritten
    atomically, and only when something is dropped."""
    check_writable(path)
    if not path.exists():
        return
    data = path.read_bytes()
    lines = data.splitlines(keepends=True)
    recs = _parse_lines(data)
    keep: dict[str, dict] = {}
    for rec in recs:  # the last good record of an id wins
        if not rec.get("error"):
            keep[str(rec["id"])] = rec
    if not data or (len(keep) == len(lines) and data.endswith(b"\n")):
        return
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for rec in keep.values():
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def done_ids(out_path: Path) -> set[str]:
    """Ids answered in an existing JSONL journal (a record with an `error` does not count)."""
    if not out_path.exists():
        return set()
    return {str(r["id"]) for r in _parse_lines(out_path.read_bytes()) if not r.get("error")}


def append_record(out_path: Path, record: dict) -> None:
    line = json.dumps(record, ensure_ascii=False) + "\n"
    with open(out_path, "a", encoding="utf-8") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())


def read_records(out_path: Path) -> list[dict]:
    """The journal's records, one per id (a later line of an id replaces an earlier one)."""
    recs: dict[str, dict] = {}
    for rec in _parse_lines(out_path.read_bytes()):
        recs[str(rec["id"])] = rec
    return list(recs.values())


_CSV_DANGER = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value) -> str:
    """Neutralise spreadsheet formulas: a cell starting with = + - @ gets a leading quote."""
    s = "" if value is None else str(value)
    return "'" + s if s.startswith(_CSV_DANGER) else s


def cite_str(c: dict) -> str:
    return f"[{c['n']}] {c['doc']} › {c['section'] or '—'} › p.{c['page']}"


def write_csv(path: Path, records: list[dict]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "question", "answer", "abstained", "citations", "error"])
        for r in records:
            w.writerow([csv_safe(r.get("id")), csv_safe(r.get("question")), csv_safe(r.get("answer")),
                        str(bool(r.get("abstained"))).lower(),
                        csv_safe("; ".join(cite_str(c) for c in r.get("citations", []))), csv_safe(r.get("error", ""))])


def write_markdown(path: Path, records: list[dict]) -> None:
    lines = ["# wpqa answers", ""]
    for r in records:
        lines += [f"## {r.get('id')}: {r.get('question')}", ""]
        if r.get("error"):
            lines += [f"**Error:** {r['error']}", ""]
            continue
        lines += [r.get("answer", ""), ""]
        for c in r.get("citations", []):
            lines.append(f"- {cite_str(c)}")
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
