"""discover() and ingest_file() on a generated corpus folder."""
from __future__ import annotations

import os

import pytest

from ingest.model import ChunkSettings, IngestError
from ingest.pipeline import SUPPORTED, discover, ingest_corpus, ingest_file
from tests.pdfgen import CJK_FONT, make_pdf


def test_supported():
    assert SUPPORTED == {".pdf", ".txt", ".md"}


def test_discover(tmp_path):
    corpus = tmp_path / "corpus"
    (corpus / "sub" / "deeper").mkdir(parents=True)
    (corpus / ".hidden_dir").mkdir()
    make_pdf(corpus / "b.pdf", [["Hello"]])
    (corpus / "a.txt").write_text("text", encoding="utf-8")
    (corpus / "sub" / "c.md").write_text("# md", encoding="utf-8")
    (corpus / "sub" / "deeper" / "D.PDF").write_bytes((corpus / "b.pdf").read_bytes())
    (corpus / "notes.docx").write_bytes(b"PK")  # unsupported: silent
    (corpus / ".DS_Store").write_bytes(b"x")  # hidden, unsupported: silent
    (corpus / ".draft.txt").write_text("x", encoding="utf-8")  # hidden, supported: warned
    (corpus / ".hidden_dir" / "e.txt").write_text("x", encoding="utf-8")
    outside = tmp_path / "outside.txt"
    outside.write_text("secret", encoding="utf-8")
    os.symlink(outside, corpus / "link_out.txt")
    os.symlink(tmp_path, corpus / "dir_out")
    os.symlink(corpus / "a.txt", corpus / "sub" / "link_in.txt")
    os.symlink(corpus / "missing.txt", corpus / "broken.txt")

    files, warnings = discover(corpus)
    rel = [p.relative_to(corpus).as_posix() for p in files]
    assert rel == ["a.txt", "b.pdf", "sub/c.md", "sub/deeper/D.PDF", "sub/link_in.txt"]
    text = "\n".join(warnings)
    assert "link_out.txt: skipped: symlink points outside the corpus" in text
    assert "dir_out: skipped: symlink points outside the corpus" in text
    assert "broken.txt: skipped: broken symlink" in text
    assert ".draft.txt: skipped: hidden file" in text
    assert "notes.docx" not in text and ".DS_Store" not in text and "e.txt" not in text
    assert len(warnings) == 4


def test_ingest_file_names_and_chunks(tmp_path):
    corpus = tmp_path / "corpus"
    (corpus / "zh").mkdir(parents=True)
    pages = [["全球数字治理白皮书"], ["前言", "当今世界，科技革命和产业变革日新月异。"],
             ["一、数字全球化", "2020 年，数字全球化及全球治理面临新挑战。"]]
    p = make_pdf(corpus / "zh" / "白皮书.pdf", pages, font=CJK_FONT, header="全球数字治理白皮书（2020 年）",
                 footer="- {n} -")
    d = ingest_file(p, corpus, ChunkSettings())
    assert d.document.name == "zh/白皮书.pdf"
    assert d.document.title == "全球数字治理白皮书"
    assert [s.title for s in d.sections] == ["", "前言", "一、数字全球化"]
    assert [c.text for c in d.chunks] == ["全球数字治理白皮书", "前言｜当今世界，科技革命和产业变革日新月异。",
                                          "一、数字全球化\n2020年，数字全球化及全球治理面临新挑战。"]
    assert [(c.page, c.lang) for c in d.chunks] == [(1, "zh"), (2, "zh"), (3, "zh")]
    assert all(c.doc == "zh/白皮书.pdf" for c in d.chunks)


def test_ingest_gbk_text_file(tmp_path):
    p = tmp_path / "gbk.txt"
    p.write_bytes("一、总体情况｜数字经济发展迅速。\n二、主要问题\n规则不健全。\n".encode("gbk"))
    d = ingest_file(p, tmp_path, ChunkSettings())
    assert [c.text for c in d.chunks] == ["一、总体情况｜数字经济发展迅速。", "二、主要问题｜规则不健全。"]


def test_ingest_corpus_collects_errors(tmp_path):
    make_pdf(tmp_path / "ok.pdf", [["Background", "Some text here."]])
    (tmp_path / "empty.txt").write_bytes(b"")
    docs, warnings, errors = ingest_corpus(tmp_path)
    assert [d.document.name for d in docs] == ["ok.pdf"]
    assert len(errors) == 1 and isinstance(errors[0], IngestError) and errors[0].path == "empty.txt"


def test_ingest_file_error_is_ingest_error(tmp_path):
    p = tmp_path / "blank.pdf"
    p.write_bytes(b"%PDF-1.4\nnot really")
    with pytest.raises(IngestError):
        ingest_file(p, tmp_path, ChunkSettings())
