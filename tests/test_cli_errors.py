"""A user's mistake ends in one line on stderr naming the file or setting, and exit 1 (issue 11):
every error wpqa raises on purpose is a `WpqaError`, caught with `OSError` in one place of the CLI.
Each case runs `wpqa` in a subprocess, as a user runs it. A resumed batch asks failed questions again.
"""
from __future__ import annotations

import csv
import json
import shutil
import threading

import pytest

from common.errors import WpqaError
from index.generation import current_name, publish
from tests.helpers import OTHERS, SMALL_CORPUS, wpqa, write_config
from wpqa.batch import done_ids
from wpqa.status import read_status

DEAD_LLM = "[llm.openai]\nbase_url = \"http://127.0.0.1:9/v1\"\nmax_retries = 0\ntimeout = 5.0\n"  # nothing listens on port 9


def one_error(p, *parts: str) -> str:
    """The process failed with exit 1 and exactly one line on stderr, holding every part."""
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    assert "Traceback" not in p.stderr
    lines = p.stderr.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("error: "), p.stderr
    for part in parts:
        assert part in lines[0], (part, lines[0])
    return lines[0]


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> dict:
    """A real index of four short notes (e5, FAISS, BM25), and a config whose OpenAI server is down."""
    root = tmp_path_factory.mktemp("cli_errors")
    corpus = root / "corpus"
    corpus.mkdir()
    for name, text in OTHERS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    w = {"root": root, "corpus": corpus, "index": root / "index",
         "cfg": write_config(root / "config.toml", SMALL_CORPUS + DEAD_LLM)}
    w["args"] = ["--config", str(w["cfg"]), "--corpus", str(corpus), "--index-dir", str(w["index"])]
    wpqa(*w["args"], "index")
    return w


@pytest.fixture
def bare(tmp_path) -> list[str]:
    """Options for a folder with a config and no index: a command that gets past its checks fails on that."""
    cfg = write_config(tmp_path / "config.toml")
    return ["--config", str(cfg), "--corpus", str(tmp_path / "corpus"), "--index-dir", str(tmp_path / "index")]


# ------------------------------------------------------------------------ eval files


FINE = '{"id": "a", "kind": "unanswerable", "question": "Fine?"}\n'


@pytest.mark.parametrize("content,message", [
    (FINE + '{"id": "b", "kind": "unanswerable", "question": \n', "e.jsonl:2: not valid JSON"),
    (FINE + '\n{"kind": "unanswerable", "question": "No id?"}\n', "e.jsonl:3: missing field 'id'"),
    ('{"id": "a", "kind": "unanswerable"}\n', "e.jsonl:1: missing field 'question'"),
    ('["a", "list"]\n', "e.jsonl:1: not a JSON object"),
    ('{"id": "a", "kind": "unanswerable", "question": 7}\n', "e.jsonl:1: field 'question'"),
])
def test_eval_on_a_malformed_file_names_file_and_line(tmp_path, bare, content, message):
    f = tmp_path / "e.jsonl"
    f.write_text(content, encoding="utf-8")
    one_error(wpqa(*bare, "eval", str(f), check=False), str(tmp_path / message))


def test_eval_on_a_missing_or_unreadable_file(tmp_path, bare):
    one_error(wpqa(*bare, "eval", str(tmp_path / "nope.jsonl"), check=False), str(tmp_path / "nope.jsonl"))
    one_error(wpqa(*bare, "eval", str(tmp_path), check=False), str(tmp_path), "Is a directory")
    (tmp_path / "gbk.jsonl").write_bytes('{"id": "a", "kind": "unanswerable", "question": "数字经济？"}\n'.encode("gbk"))
    one_error(wpqa(*bare, "eval", str(tmp_path / "gbk.jsonl"), check=False), "gbk.jsonl: not UTF-8 text")


# ------------------------------------------------------------------------ answer files that cannot be written


def unwritable_targets(tmp_path, suffix: str):
    folder = tmp_path / f"answers{suffix}"  # a folder where the file belongs
    folder.mkdir()
    blocker = tmp_path / "a-file"  # a path under a regular file
    blocker.write_text("not a folder", encoding="utf-8")
    return [(folder, "is a folder"), (blocker / f"answers{suffix}", "cannot write")]


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".md"])
def test_batch_to_an_unwritable_output_fails_before_answering(tmp_path, bare, suffix):
    """No index exists: a batch that started answering would fail on that instead."""
    qs = tmp_path / "q.txt"
    qs.write_text("What is the capital of Freedonia?\n", encoding="utf-8")
    for target, why in unwritable_targets(tmp_path, suffix):
        line = one_error(wpqa(*bare, "batch", str(qs), "-o", str(target), check=False), str(target), why)
        assert "no index" not in line
    assert (tmp_path / "a-file").read_text(encoding="utf-8") == "not a folder"
    assert not list(tmp_path.glob("answers*.jsonl")) or suffix == ".jsonl"


def test_eval_records_to_an_unwritable_path_fails_before_answering(tmp_path, bare):
    f = tmp_path / "e.jsonl"
    f.write_text(FINE, encoding="utf-8")
    for target, why in unwritable_targets(tmp_path, ".jsonl"):
        line = one_error(wpqa(*bare, "eval", str(f), "--records", str(target), check=False), str(target), why)
        assert "no index" not in line


# ------------------------------------------------------------------------ other user mistakes


@pytest.mark.slow
def test_other_commands_on_user_mistakes(tmp_path, bare):
    one_error(wpqa(*bare, "ask", "--llm", "extractive", "What is the capital of Freedonia?", check=False), "no index",
              str(tmp_path / "index"))
    one_error(wpqa(*bare, "status", check=False), f"no index in {tmp_path / 'index'}")
    one_error(wpqa(*bare, "index", check=False), f"{tmp_path / 'corpus'}: corpus folder not found")
    one_error(wpqa(*bare, "inspect", str(tmp_path / "nope.pdf"), check=False), "nope.pdf: file not found")
    one_error(wpqa(*bare, "inspect", str(tmp_path), check=False), f"{tmp_path}: not a file")
    (tmp_path / "empty.txt").write_bytes(b"")
    one_error(wpqa(*bare, "inspect", str(tmp_path / "empty.txt"), check=False), "empty.txt", "empty file")
    one_error(wpqa(*bare, "batch", str(tmp_path / "nope.txt"), "-o", str(tmp_path / "a.jsonl"), check=False),
              "nope.txt: cannot read")
    one_error(wpqa("--config", str(tmp_path), "status", check=False), f"{tmp_path}: is a folder")


@pytest.mark.slow
def test_a_model_backend_error_is_one_line(small):
    """`ask` with the OpenAI backend whose server is down: the backend's error, not a traceback."""
    one_error(wpqa(*small["args"], "ask", "--llm", "openai", "Where do apple growers pay a levy?", check=False),
              "127.0.0.1:9")


# ------------------------------------------------------------------------ status against a changing index


@pytest.mark.slow
def test_status_on_a_manifest_missing_a_field(small, tmp_path):
    index = tmp_path / "index"
    shutil.copytree(small["index"], index)
    gen = current_name(index)
    manifest = json.loads((index / gen / "manifest.json").read_text(encoding="utf-8"))
    del manifest["embedding"]
    (index / gen / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    one_error(wpqa(*small["args"][:4], "--index-dir", str(index), "status", check=False),
              f"the index in {index} is damaged ({gen}/manifest.json: missing 'embedding')", "--rebuild")
    manifest["embedding"] = {"backend": "e5-small"}
    (index / gen / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    one_error(wpqa(*small["args"][:4], "--index-dir", str(index), "status", "--json", check=False),
              "missing 'embedding.model_id'")


@pytest.mark.slow
def test_status_when_current_names_a_removed_generation(small, tmp_path):
    """What a reader meets when a publish removes the generation CURRENT named a moment ago."""
    index = tmp_path / "index"
    shutil.copytree(small["index"], index)
    shutil.rmtree(index / current_name(index))
    one_error(wpqa(*small["args"][:4], "--index-dir", str(index), "status", check=False),
              f"{index / 'CURRENT'} names gen-", "no manifest.json", "--rebuild")


@pytest.mark.slow
def test_status_during_concurrent_publishes(small, tmp_path):
    """Generations published (and old ones removed) as fast as possible while status reads: every
    read sees one whole generation."""
    index = tmp_path / "index"
    shutil.copytree(small["index"], index)
    first = current_name(index)
    expected = read_status(index)
    stop = threading.Event()
    errors: list[BaseException] = []

    def publisher() -> None:
        n = int(first.split("-")[1])
        try:
            while not stop.is_set():
                n += 1
                name = f"gen-{n:06d}"
                shutil.copytree(index / current_name(index), index / name)
                publish(index, name)  # CURRENT -> name, then all but the newest two removed
        except BaseException as e:  # noqa: BLE001 - reported by the test
            errors.append(e)

    t = threading.Thread(target=publisher)
    t.start()
    seen = set()
    try:
        for _ in range(300):
            st = read_status(index)
            seen.add(st["generation"])
            assert st["documents"] == expected["documents"] and st["size_bytes"] > 0
    finally:
        stop.set()
        t.join(60)
    assert not errors, errors
    assert len(seen) > 3, seen  # the reads really overlapped the publishes


# ------------------------------------------------------------------------ a resumed batch retries errors


@pytest.mark.slow
def test_a_resumed_batch_asks_failed_questions_again(small, tmp_path):
    qs = tmp_path / "q.jsonl"
    qs.write_text('{"id": "levy", "question": "What do apple growers in Vellmark pay a levy for?"}\n'
                  '{"id": "tram", "question": "How often does the Lindholm tram run on Sundays?"}\n', encoding="utf-8")
    out = tmp_path / "answers.jsonl"
    p = wpqa(*small["args"], "batch", str(qs), "-o", str(out), "--llm", "openai", check=False)  # the server is down
    assert p.returncode == 1 and "Traceback" not in p.stderr
    first = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in first] == ["levy", "tram"] and all(r["error"] for r in first)
    assert done_ids(out) == set()  # an error is not an answer

    p = wpqa(*small["args"], "batch", str(qs), "-o", str(out), "--llm", "extractive")
    assert "2 answered now, 0 already done, 0 failed" in p.stdout
    lines = out.read_text(encoding="utf-8").splitlines()
    recs = [json.loads(x) for x in lines]
    assert [r["id"] for r in recs] == ["levy", "tram"]  # exactly one line per question
    assert not any(r.get("error") for r in recs) and recs[0]["citations"][0]["doc"] == "orchard.md"

    p = wpqa(*small["args"], "batch", str(qs), "-o", str(out), "--llm", "extractive")
    assert "0 answered now, 2 already done" in p.stdout
    assert out.read_text(encoding="utf-8").splitlines() == lines


def test_open_journal_keeps_one_good_record_per_question(tmp_path):
    from wpqa.batch import open_journal, read_records

    j = tmp_path / "answers.jsonl"
    good = [{"id": "a", "answer": "A1"}, {"id": "b", "answer": "", "error": "LLMError: down"},
            {"id": "c", "answer": "C1"}, {"id": "a", "answer": "A2"}]
    j.write_text("".join(json.dumps(r) + "\n" for r in good) + '{"id": "d", "answ', encoding="utf-8")
    assert done_ids(j) == {"a", "c"}
    open_journal(j)  # drops the error record, the earlier "a" and the torn last line
    assert [json.loads(x) for x in j.read_text(encoding="utf-8").splitlines()] == \
        [{"id": "a", "answer": "A2"}, {"id": "c", "answer": "C1"}]
    inode = j.stat().st_ino
    open_journal(j)  # nothing to drop: the file is left as it is
    assert j.stat().st_ino == inode
    assert [r["answer"] for r in read_records(j)] == ["A2", "C1"]
    assert not list(tmp_path.glob(".answers.jsonl.*"))  # no temporary file left


def read_csv(path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_a_resumed_csv_batch_has_one_row_per_question(small, tmp_path):
    qs = tmp_path / "q.txt"
    qs.write_text("What do apple growers in Vellmark pay a levy for?\n", encoding="utf-8")
    out = tmp_path / "answers.csv"
    wpqa(*small["args"], "batch", str(qs), "-o", str(out), "--llm", "openai", check=False)
    [row] = read_csv(out)
    assert row["error"] and not row["answer"]
    wpqa(*small["args"], "batch", str(qs), "-o", str(out), "--llm", "extractive")
    [row] = read_csv(out)  # one row: the answer replaced the error
    assert row["error"] == "" and "orchard.md" in row["citations"], row
    assert len((tmp_path / "answers.csv.jsonl").read_text(encoding="utf-8").splitlines()) == 1


def test_wpqa_error_is_the_base_of_every_error_raised_on_purpose():
    """Every exception class wpqa defines, in every module of its packages, is a WpqaError."""
    import importlib
    import pkgutil

    found = []
    for pkg in ("common", "ingest", "index", "qa", "llm", "wpqa"):
        for info in pkgutil.walk_packages(importlib.import_module(pkg).__path__, prefix=pkg + "."):
            mod = importlib.import_module(info.name)
            for obj in vars(mod).values():
                if isinstance(obj, type) and issubclass(obj, Exception) and obj.__module__ == info.name:
                    assert issubclass(obj, WpqaError), f"{info.name}.{obj.__name__}"
                    found.append(obj.__name__)
    assert {"IngestError", "EmbeddingError", "LLMError", "ConfigError", "OutputError", "EvalFormatError"} <= set(found)
