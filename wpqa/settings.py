"""Typed settings read from config.toml (only `qa/cli.py` calls `load_settings`)."""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from ingest.model import ChunkSettings


class ConfigError(Exception):
    pass


@dataclass
class EmbeddingSettings:
    backend: str = "e5-small"
    model: str = ""
    query_prefix: str = ""
    passage_prefix: str = ""
    threads: int = 2
    batch_size: int = 16


@dataclass
class IndexSettings:
    vector_index: str = "auto"
    hnsw_above: int = 90000
    hnsw_ef_search: int = 128
    vector_store: str = "faiss"
    milvus: dict = field(default_factory=lambda: {"uri": ".wpqa/milvus.db", "collection": "wpqa_chunks",
                                                  "token_env": "MILVUS_TOKEN"})


@dataclass
class RetrievalSettings:
    top_k: int = 5
    candidates: int = 40
    translate_query: bool = True


@dataclass
class AnswerSettings:
    backend: str = "auto"
    max_evidence: int = 3
    evidence_chars: int = 200
    abstain_threshold: float = 2.0
    max_tokens: int = 200


@dataclass
class LLMSettings:
    model_path: str = ""
    n_threads: int = 2
    n_ctx: int = 2048
    openai: dict = field(default_factory=lambda: {"base_url": "http://127.0.0.1:8000/v1",
                                                  "model": "qwen2.5-coder-1.5b-instruct",
                                                  "api_key_env": "OPENAI_API_KEY"})


@dataclass
class Settings:
    corpus: Path
    index_dir: Path
    data_dir: Path
    chunking: ChunkSettings
    embedding: EmbeddingSettings
    index: IndexSettings
    retrieval: RetrievalSettings
    answer: AnswerSettings
    llm: LLMSettings
    config_path: Path | None = None


def _section(cls, raw: dict, name: str):
    known = {f.name for f in fields(cls)}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"unknown setting(s) in [{name}]: {', '.join(sorted(unknown))}")
    try:
        obj = cls(**raw)
    except TypeError as e:
        raise ConfigError(f"[{name}]: {e}") from e
    defaults = cls()
    for f in fields(cls):
        default, val = getattr(defaults, f.name), getattr(obj, f.name)
        if isinstance(default, dict) and isinstance(val, dict):
            setattr(obj, f.name, {**default, **val})
        elif not isinstance(val, type(default)) and not (isinstance(default, float) and isinstance(val, int)):
            raise ConfigError(f"[{name}] {f.name} should be {type(default).__name__}, got {val!r}")
    return obj


def _index_settings(raw: dict, base: Path) -> IndexSettings:
    """[index] and [index.milvus]: a Milvus Lite path resolves against the config's folder like the
    other paths; a server uri (http://host:19530) is kept as written."""
    s = _section(IndexSettings, raw, "index")
    if s.vector_index not in ("flat", "hnsw", "auto"):
        raise ConfigError(f"[index] vector_index must be \"flat\", \"hnsw\" or \"auto\", not {s.vector_index!r}")
    if s.hnsw_ef_search < 1 or s.hnsw_above < 0:
        raise ConfigError("[index] hnsw_ef_search must be at least 1 and hnsw_above not negative")
    if s.vector_store not in ("faiss", "milvus"):
        raise ConfigError(f"[index] vector_store must be \"faiss\" or \"milvus\", not {s.vector_store!r}")
    unknown = set(s.milvus) - {"uri", "collection", "token_env"}
    if unknown:
        raise ConfigError(f"unknown setting(s) in [index.milvus]: {', '.join(sorted(unknown))}")
    uri, coll = str(s.milvus["uri"]), str(s.milvus["collection"])
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,254}", coll):
        raise ConfigError(f"[index.milvus] collection must be letters, digits and underscores, not {coll!r}")
    if "://" not in uri and not uri.startswith("unix:"):
        if not uri.endswith(".db"):
            raise ConfigError(f"[index.milvus] uri must be a Milvus Lite file ending in .db or a server "
                              f"address such as http://localhost:19530, not {uri!r}")
        v = Path(uri).expanduser()
        uri = str(v if v.is_absolute() else (base / v).resolve())
    s.milvus = {**s.milvus, "uri": uri, "collection": coll, "token_env": str(s.milvus.get("token_env") or "")}
    return s


def load_settings(config: Path | None, corpus: Path | None = None, index_dir: Path | None = None) -> Settings:
    raw: dict = {}
    base = Path.cwd()
    if config is not None:
        if config.exists():
            try:
                raw = tomllib.loads(config.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError as e:
                raise ConfigError(f"{config}: not valid TOML ({e})") from e
            base = config.resolve().parent
        elif config.name != "config.toml" or config.parent != Path("."):
            raise ConfigError(f"{config}: config file not found")
    paths = raw.get("paths", {})

    def p(value, default) -> Path:
        v = Path(value if value is not None else default).expanduser()
        return v if v.is_absolute() else (base / v)

    chunk_raw = raw.get("chunking", {})
    try:
        chunking = ChunkSettings(**chunk_raw)
    except TypeError as e:
        raise ConfigError(f"[chunking]: {e}") from e
    return Settings(
        corpus=corpus.resolve() if corpus else p(paths.get("corpus"), "corpus"),
        index_dir=index_dir.resolve() if index_dir else p(paths.get("index_dir"), ".wpqa/index"),
        data_dir=p(paths.get("data_dir"), ".wpqa/data"),
        chunking=chunking,
        embedding=_section(EmbeddingSettings, raw.get("embedding", {}), "embedding"),
        index=_index_settings(raw.get("index", {}), base),
        retrieval=_section(RetrievalSettings, raw.get("retrieval", {}), "retrieval"),
        answer=_section(AnswerSettings, raw.get("answer", {}), "answer"),
        llm=_section(LLMSettings, raw.get("llm", {}), "llm"),
        config_path=config if config and config.exists() else None,
    )
