"""OCR benchmark (issue 14): speed and character accuracy of the OCR of scanned pages, and
retrieval on a scanned copy of the whole corpus next to the text corpus.

    .venv/bin/python -m bench.ocr                 # writes bench/results/ocr.json
    .venv/bin/python -m bench.ocr --eval FILE     # another eval set (default eval/questions.jsonl)

1. Every PDF of corpus/ is replaced by its image-only rendering (tests/pdfgen.make_scanned_pdf:
   each page rendered at scale 2, i.e. 144 dpi, and placed as a bitmap on a page of the same
   size; no text layer). The truth of a page is the original PDF's text layer (pypdf).
2. Every scanned page is OCR'd with wpqa's default setting (ingest.ocr: render scale 2,
   PP-OCRv4, no angle classifier), timed page by page; character accuracy = SequenceMatcher
   ratio of the two texts with all whitespace removed. Results go into the OCR cache of the
   scanned corpus's index, so step 4 reads the same text without OCR-ing again.
3. Other packaged settings on a sample of pages (two Chinese, two English): render scale 1.5
   and 3, and scale 2 with the 180-degree line classifier on.
4. English word recall: the share of the text layer's English words (lower-cased, counted) that
   the OCR text holds as words, as the recogniser wrote it and after wpqa's loader put back the
   spaces it dropped (ingest.ocr_repair); character accuracy cannot see a glued word.
5. `wpqa index` + `wpqa eval FILE --retrieval-only --json` on the text corpus and on the
   scanned corpus: hit@1/hit@5/MRR@10 side by side; and how often the top context of a question
   names the same document and section in both (the same search in-process, untranslated).
6. `wpqa eval FILE --llm extractive --no-translate --records` on both: for each question answered
   on both corpora, whether the answers cite the same (document, section) first, and the same set.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from difflib import SequenceMatcher
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ingest import ocr  # noqa: E402
from ingest.ocr_cache import OcrCache  # noqa: E402
from tests.pdfgen import make_scanned_pdf  # noqa: E402

OUT = ROOT / "bench" / "results" / "ocr.json"
SAMPLE = {"全球数字治理白皮书(2020年).pdf": [9],
          "ITU Contribution - Global Consensus on Digital Governance.pdf": [1]}
SETTINGS = [  # (name, render scale, angle classifier), timed one after another on the sample pages
    ("scale 2 (default)", 2.0, False),
    ("scale 1.5", 1.5, False),
    ("scale 3", 3.0, False),
    ("scale 2 + angle classifier", 2.0, True),
]


def accuracy(truth: str, got: str) -> float:
    a, b = re.sub(r"\s+", "", truth), re.sub(r"\s+", "", got)
    return SequenceMatcher(None, a, b, autojunk=False).ratio() if a or b else 1.0


def lang_of(name: str) -> str:
    return "zh" if re.search(r"[\u4e00-\u9fff]", name) else "en"


def truth_pages(pdf: Path) -> list[str]:
    from pypdf import PdfReader

    return [p.extract_text() or "" for p in PdfReader(str(pdf)).pages]


def read(pdf_bytes: bytes, number: int, scale: float, use_cls: bool) -> tuple[str, float]:
    """OCR one page with a given setting (not cached): text and seconds."""
    import numpy as np
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf_bytes)
    image = ocr.render_page(doc, number - 1, scale)
    doc.close()
    t = time.perf_counter()
    if use_cls:
        result, _ = ocr.engine()(np.array(image), use_cls=True)
        lines = [ocr.OcrLine(str(txt), min(b[0][0], b[3][0]), sum(p[1] for p in b) / 4,
                             (abs(b[3][1] - b[0][1]) + abs(b[2][1] - b[1][1])) / 2, float(s))
                 for b, txt, s in (result or []) if float(s) >= ocr.MIN_SCORE]
        text = "\n".join(ocr.reading_order(lines))
    else:
        text = ocr.read_image(image).text
    return text, time.perf_counter() - t


def word_recall(corpus: Path, scanned: Path, cache: OcrCache) -> dict:
    """English word recall of the OCR'd corpus, raw and as the loader gives it (step 4)."""
    from collections import Counter

    from ingest.loaders import load_document

    def words(text: str) -> Counter:
        return Counter(w.lower() for w in re.findall(r"[A-Za-z]+", text))

    raw_hit = fixed_hit = total = 0
    for pdf in sorted(corpus.glob("*.pdf")):
        truth = load_document(pdf, pdf.name)
        raw = cache_texts(scanned / pdf.name, cache, len(truth.pages))
        fixed = load_document(scanned / pdf.name, pdf.name, ocr_cache=cache)
        for t, r, f in zip(truth.pages, raw, fixed.pages):
            want = words(t.text)
            total += sum(want.values())
            raw_hit += sum((want & words(r)).values())
            fixed_hit += sum((want & words(f.text)).values())
    return {"words": total, "as_read": round(raw_hit / total, 4) if total else None,
            "spaces_restored": round(fixed_hit / total, 4) if total else None}


def cache_texts(pdf: Path, cache: OcrCache, pages: int) -> list[str]:
    """The recogniser's text of each of the `pages` pages of a scanned PDF, from the OCR cache
    (read if absent)."""
    return [page.text for page in ocr.ocr_pdf_pages(pdf.read_bytes(), list(range(1, pages + 1)), cache).values()]


def cited_sections(corpus: Path, index: Path, eval_file: Path, records: Path) -> dict[str, list[tuple[str, str]]]:
    """(doc, section) of each citation of the extractive answer to each question (step 6)."""
    wpqa("--corpus", str(corpus), "--index-dir", str(index), "eval", str(eval_file), "--llm", "extractive",
         "--no-translate", "--json", "--records", str(records))
    out = {}
    for line in records.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        if not r.get("abstained") and r.get("citations"):
            out[r["id"]] = [(c["doc"], c["section"]) for c in r["citations"]]
    return out


def summarise(rows: list[dict]) -> dict:
    out = {}
    for lang in ("zh", "en", "all"):
        sel = [r for r in rows if lang == "all" or r["lang"] == lang]
        if not sel:
            continue
        secs = sum(r["seconds"] for r in sel)
        chars = sum(r["truth_chars"] for r in sel)
        out[lang] = {
            "pages": len(sel),
            "pages_per_s": round(len(sel) / secs, 4) if secs else None,
            "s_per_page": round(secs / len(sel), 2),
            # pages weighted by their length: the share of the corpus's characters read right
            "char_accuracy": round(sum(r["accuracy"] * r["truth_chars"] for r in sel) / chars, 4) if chars else None,
            "worst_page": min(sel, key=lambda r: r["accuracy"])["page_id"],
            "worst_accuracy": round(min(r["accuracy"] for r in sel), 4),
        }
    return out


def wpqa(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-m", "wpqa.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"wpqa {' '.join(args)} failed ({p.returncode}):\n{p.stderr[-2000:]}")
    return p


def run_eval(corpus: Path, index: Path, eval_file: Path, translate: bool) -> dict:
    """`wpqa index`, then `wpqa eval FILE --retrieval-only --json` (the command as a user runs it;
    with --no-translate unless `translate`: the LLM translation of 88 questions costs more than
    the rest of the run on a loaded machine, and both corpora are searched the same way)."""
    args = ["--corpus", str(corpus), "--index-dir", str(index)]
    t = time.perf_counter()
    built = wpqa(*args, "index", "--rebuild")  # a kept work folder may hold an index of older code
    index_s = time.perf_counter() - t
    t = time.perf_counter()
    scores = json.loads(wpqa(*args, "eval", str(eval_file), "--retrieval-only", "--json",
                             *([] if translate else ["--no-translate"])).stdout)
    return {"index_seconds": round(index_s, 1), "eval_seconds": round(time.perf_counter() - t, 1),
            "index_output": [x for x in built.stdout.strip().splitlines() if "OCR" in x or "chunks" in x],
            "translate": scores.get("translate"), "table": scores["table"]}


def top_sections(corpus: Path, index: Path, eval_file: Path, k: int = 5) -> dict[str, list[tuple[str, str]]]:
    """(doc, section) of the top k contexts of each question: the same search as `wpqa eval
    --retrieval-only`, without the LLM translation of the question (in-process, no model loaded)."""
    from wpqa.wiring import Ctx

    pipe = Ctx(ROOT / "config.toml", corpus, index).pipeline("extractive", translate=False)
    out = {}
    for line in eval_file.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            hits = pipe.searcher.search(item["question"], k=k).hits
            out[item["id"]] = [(h.chunk.doc, h.chunk.section) for h in hits]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--eval", type=Path, default=ROOT / "eval" / "questions.jsonl", help="eval set (JSONL)")
    ap.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    ap.add_argument("--keep", action="store_true", help="keep the temp folder (scanned corpus, indexes)")
    ap.add_argument("--work", type=Path, help="work folder to keep and reuse (pages already OCR'd are not redone)")
    ap.add_argument("--skip-eval", action="store_true", help="only the OCR measurements")
    ap.add_argument("--translate", action="store_true", help="let wpqa eval translate questions with the LLM")
    a = ap.parse_args()
    t0 = time.time()
    work = a.work or Path(tempfile.mkdtemp(prefix="wpqa-bench-ocr-"))
    keep = a.keep or a.work is not None
    scanned = work / "corpus-scanned"
    scanned.mkdir(parents=True, exist_ok=True)
    done_file = work / "pages.json"
    done = {r["page_id"]: r for r in json.loads(done_file.read_text())} if done_file.exists() else {}
    load = []
    try:
        pdfs = sorted(a.corpus.glob("*.pdf"))
        for pdf in pdfs:
            if not (scanned / pdf.name).exists():
                make_scanned_pdf(pdf, scanned / pdf.name)
        print(f"scanned copies of {len(pdfs)} PDFs in {scanned}", flush=True)

        # 2. the default setting on every page, through the scanned corpus's OCR cache
        cache = OcrCache(work / "index-scanned" / "cache" / "ocr")
        pages = []
        for pdf in pdfs:
            truth = truth_pages(pdf)
            data = (scanned / pdf.name).read_bytes()
            import pypdfium2 as pdfium

            doc = pdfium.PdfDocument(data)
            for n in range(1, len(doc) + 1):
                if f"{pdf.name} p.{n}" in done:
                    pages.append(done[f"{pdf.name} p.{n}"])
                    continue
                image = ocr.render_page(doc, n - 1)
                t = time.perf_counter()
                got = ocr.read_image(image)
                secs = time.perf_counter() - t
                cache.put(ocr.image_key(image), got)
                acc = accuracy(truth[n - 1], got.text)
                pages.append({"page_id": f"{pdf.name} p.{n}", "lang": lang_of(pdf.name), "seconds": round(secs, 2),
                              "truth_chars": len(re.sub(r"\s+", "", truth[n - 1])), "accuracy": round(acc, 4)})
                load.append(os.getloadavg()[0])
                done_file.write_text(json.dumps(pages, ensure_ascii=False))
                print(f"  {pdf.name} p.{n}: {secs:.1f} s, accuracy {acc:.4f}", flush=True)
            doc.close()
        default = summarise(pages)
        print(json.dumps(default, ensure_ascii=False), flush=True)

        # 3. other packaged settings on a sample of pages
        settings = []
        for name, scale, cls in SETTINGS:
            rows = []
            for doc_name, numbers in SAMPLE.items():
                truth = truth_pages(a.corpus / doc_name)
                data = (scanned / doc_name).read_bytes()
                for n in numbers:
                    text, secs = read(data, n, scale, cls)
                    rows.append({"page_id": f"{doc_name} p.{n}", "lang": lang_of(doc_name), "seconds": round(secs, 2),
                                 "truth_chars": len(re.sub(r"\s+", "", truth[n - 1])),
                                 "accuracy": round(accuracy(truth[n - 1], text), 4)})
                    load.append(os.getloadavg()[0])
            settings.append({"setting": name, "scale": scale, "angle_classifier": cls, **summarise(rows),
                             "pages": rows})
            print(name, json.dumps(summarise(rows), ensure_ascii=False), flush=True)

        # 4. English words kept apart
        words = word_recall(a.corpus, scanned, cache)
        print("English word recall", json.dumps(words), flush=True)

        # 5. retrieval on the text corpus and on the scanned corpus; 6. cited sections
        retrieval = None
        if not a.skip_eval:
            text = run_eval(a.corpus, work / "index-text", a.eval, a.translate)
            scan = run_eval(scanned, work / "index-scanned", a.eval, a.translate)
            ts = top_sections(a.corpus, work / "index-text", a.eval)
            ss = top_sections(scanned, work / "index-scanned", a.eval)
            same1 = sum(1 for q in ts if ts[q][:1] == ss.get(q, [])[:1])
            overlap5 = [len(set(ts[q]) & set(ss.get(q, []))) / max(len(set(ts[q])), 1) for q in ts]
            retrieval = {
                "eval_set": str(a.eval.relative_to(ROOT)) if a.eval.is_relative_to(ROOT) else a.eval.name,
                "text": text, "scanned": scan,
                "hit@5_difference": round(scan["table"]["overall"]["hit@5"] - text["table"]["overall"]["hit@5"], 4),
                "same_top1_doc_and_section": f"{same1}/{len(ts)}",
                "top5_doc_and_section_overlap": round(sum(overlap5) / len(overlap5), 4) if overlap5 else None,
            }
            tc = cited_sections(a.corpus, work / "index-text", a.eval, work / "records-text.jsonl")
            sc = cited_sections(scanned, work / "index-scanned", a.eval, work / "records-scanned.jsonl")
            both = sorted(set(tc) & set(sc))
            retrieval["extractive_answers_cite"] = {
                "answered_on_both": len(both),
                "answered_on_text_only": sorted(set(tc) - set(sc)),
                "answered_on_scan_only": sorted(set(sc) - set(tc)),
                "same_first_section": sum(1 for q in both if tc[q][0] == sc[q][0]),
                "same_set_of_sections": sum(1 for q in both if set(tc[q]) == set(sc[q])),
                "differ": {q: {"text": tc[q], "scanned": sc[q]} for q in both if tc[q][0] != sc[q][0]},
            }
            print(json.dumps({k: v for k, v in retrieval.items() if k not in ("text", "scanned")}), flush=True)
    finally:
        if keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    result = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "load_average_during_run": {"min": round(min(load), 2), "max": round(max(load), 2),
                                    "mean": round(sum(load) / len(load), 2)} if load else None,
        "seconds_total": round(time.time() - t0, 1),
        "engine": ocr.ENGINE,
        "scan": "each corpus page rendered at scale 2 (144 dpi) into an image-only PDF",
        "default_setting_all_pages": default,
        "default_setting_pages": pages,
        "settings_on_sample_pages": settings,
        "english_word_recall": words,
        "retrieval": retrieval,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)} in {result['seconds_total']} s")


if __name__ == "__main__":
    main()
