"""config.toml, validated: one pydantic model per table, unknown tables and keys refused.

Only the application layer (`wpqa/wiring.py`) calls `load_settings`. Each default is defined once,
in the layer that uses it, in a module that imports nothing heavy: `ingest.model.ChunkSettings`,
`index/defaults.py`, `qa/defaults.py`, `llm/defaults.py`; the lower layers' dataclasses and the
models here both refer to those. Values only the application knows (paths, backends, the OpenAI
endpoint, the Milvus collection) are defined here. `config.toml` shows every default
(tests/test_settings.py checks they agree).

Every relative path in the file resolves against the file's folder: `paths.*`, `llm.model_path`,
`embedding.model` when it names a folder (not `package:...` or a model name), and a Milvus Lite
`.db` uri. A mistake is a `ConfigError` with one line naming the file, the table and key, and the
closest valid name.
"""
from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

import index.defaults as index_defaults
import qa.defaults as qa_defaults
from common.errors import WpqaError
from ingest.model import ChunkSettings
from llm.defaults import BACKENDS, DEFAULT_N_CTX, DEFAULT_N_THREADS, DEFAULT_OPENAI_MAX_RETRIES, DEFAULT_OPENAI_TIMEOUT


class ConfigError(WpqaError):
    """A config file that cannot be used; str() names the file, the setting and the reason."""


class _Table(BaseModel):
    # strict: TOML has real types, so "200" where a number belongs is a mistake, not a number
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class PathSettings(_Table):
    corpus: str = Field("corpus", min_length=1)
    index_dir: str = Field(".wpqa/index", min_length=1)
    data_dir: str = Field(".wpqa/data", min_length=1)


class ChunkingSettings(_Table):
    max_tokens: int = Field(ChunkSettings.max_tokens, ge=10)
    overlap_sentences: int = Field(ChunkSettings.overlap_sentences, ge=0)
    min_tokens: int = Field(ChunkSettings.min_tokens, ge=0)

    @model_validator(mode="after")
    def _min_below_max(self):
        if self.min_tokens >= self.max_tokens:
            raise ValueError(f"min_tokens ({self.min_tokens}) must be smaller than max_tokens ({self.max_tokens})")
        return self


class EmbeddingSettings(_Table):
    backend: Literal["e5-small", "sentence-transformers"] = "e5-small"
    model: str = ""
    query_prefix: str = ""
    passage_prefix: str = ""
    threads: int = Field(index_defaults.EMBED_THREADS, ge=1)
    batch_size: int = Field(index_defaults.EMBED_BATCH, ge=1)

    @model_validator(mode="after")
    def _model_for_st(self):
        if self.backend == "sentence-transformers" and not self.model.strip():
            raise ValueError('backend "sentence-transformers" needs a model (a folder, a model name or package:MODULE)')
        return self


class MilvusSettings(_Table):
    uri: str = Field(".wpqa/milvus.db", min_length=1)
    collection: str = Field("wpqa_chunks", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")
    token_env: str = "MILVUS_TOKEN"

    @field_validator("uri")
    @classmethod
    def _uri(cls, v: str) -> str:
        if "://" not in v and not v.startswith("unix:") and not v.endswith(".db"):
            raise ValueError("must be a Milvus Lite file ending in .db or a server address such as "
                             "http://localhost:19530")
        return v


class IndexSettings(_Table):
    vector_index: Literal["flat", "hnsw", "auto"] = index_defaults.VECTOR_INDEX
    hnsw_above: int = Field(index_defaults.HNSW_ABOVE, ge=0)
    hnsw_ef_search: int = Field(index_defaults.HNSW_EF_SEARCH, ge=1)
    vector_store: Literal["faiss", "milvus"] = index_defaults.VECTOR_STORE
    milvus: MilvusSettings = MilvusSettings()


class RetrievalSettings(_Table):
    top_k: int = Field(qa_defaults.TOP_K, ge=1)
    candidates: int = Field(qa_defaults.CANDIDATES, ge=1)
    translate_query: bool = True


class AnswerSettings(_Table):
    backend: Literal[BACKENDS] = "auto"  # type: ignore[valid-type]
    max_evidence: int = Field(qa_defaults.MAX_EVIDENCE, ge=1)
    evidence_chars: int = Field(qa_defaults.EVIDENCE_CHARS, ge=20)
    abstain_threshold: float = Field(qa_defaults.ABSTAIN_THRESHOLD, ge=0)
    keep_above: float = Field(qa_defaults.KEEP_ABOVE, ge=0)
    selector: bool = True
    selector_dense: bool = True
    lexical_weight: float = Field(qa_defaults.LEXICAL_WEIGHT, ge=0)
    window_before: int = Field(qa_defaults.WINDOW_BEFORE, ge=0)
    window_after: int = Field(qa_defaults.WINDOW_AFTER, ge=0)
    window_chars: int = Field(qa_defaults.WINDOW_CHARS, ge=20)
    core_chars: int = Field(qa_defaults.CORE_CHARS, ge=20)
    max_tokens: int = Field(qa_defaults.MAX_TOKENS, ge=1)
    same_language: Literal["sentences", "lead"] = qa_defaults.SAME_LANGUAGE
    cross_lingual: Literal["translate", "lead"] = qa_defaults.CROSS_LINGUAL


class OpenAISettings(_Table):
    base_url: str = Field("http://127.0.0.1:8000/v1", pattern=r"^https?://\S+$")
    model: str = Field("qwen2.5-coder-1.5b-instruct", min_length=1)
    api_key_env: str = "OPENAI_API_KEY"
    timeout: float = Field(DEFAULT_OPENAI_TIMEOUT, gt=0)
    max_retries: int = Field(DEFAULT_OPENAI_MAX_RETRIES, ge=0)


class LLMSettings(_Table):
    model_path: str = ""
    n_threads: int = Field(DEFAULT_N_THREADS, ge=1)
    n_ctx: int = Field(DEFAULT_N_CTX, ge=512)
    openai: OpenAISettings = OpenAISettings()


class ServerSettings(_Table):
    """`wpqa serve`: where it listens and what it accepts."""

    host: str = Field("127.0.0.1", min_length=1)
    port: int = Field(8000, ge=0, le=65535)
    # Off loopback the server requires `Authorization: Bearer KEY`, KEY read from this variable.
    api_key_env: str = Field("WPQA_API_KEY", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    # Origins allowed to call the API from a browser page served elsewhere (none by default).
    cors_origins: list[str] = []
    max_body_bytes: int = Field(65536, ge=1024)
    max_question_chars: int = Field(2000, ge=10)
    # Questions waiting for the answer model beyond this many are refused (503) at once.
    max_waiting: int = Field(32, ge=1)


class ConfigFile(_Table):
    """The whole of config.toml; every table optional."""

    paths: PathSettings = PathSettings()
    chunking: ChunkingSettings = ChunkingSettings()
    embedding: EmbeddingSettings = EmbeddingSettings()
    index: IndexSettings = IndexSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    answer: AnswerSettings = AnswerSettings()
    llm: LLMSettings = LLMSettings()
    server: ServerSettings = ServerSettings()


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
    server: ServerSettings = ServerSettings()
    config_path: Path | None = None


# ------------------------------------------------------------------------------------ errors


def _table_at(loc: tuple) -> type[BaseModel] | None:
    """The model of the table that holds the last element of `loc`."""
    model: type[BaseModel] | None = ConfigFile
    for part in loc[:-1]:
        f = model.model_fields.get(str(part)) if model else None
        ann = f.annotation if f else None
        model = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
    return model


def _table_name(parts) -> str:
    return "[" + ".".join(str(p) for p in parts) + "]"


def _show(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return str(value)


_TYPE_WORDS = {"int": "a whole number", "float": "a number", "bool": "true or false", "string": "text in quotes",
               "model": "a table", "dict": "a table"}


def _one_error(e: dict) -> str:
    loc = tuple(e["loc"])
    kind = e["type"]
    if kind == "extra_forbidden":
        model = _table_at(loc)
        name = str(loc[-1])
        valid = list(model.model_fields) if model else []
        close = difflib.get_close_matches(name, valid, n=1, cutoff=0.5)
        if isinstance(e.get("input"), dict):  # a table
            what = f"unknown table {_table_name(loc)}"
            hint = f" (did you mean {_table_name(loc[:-1] + (close[0],))}?)" if close else ""
        elif len(loc) == 1:
            what = f"unknown setting {name} outside any table"
            homes = [t for t, f in ConfigFile.model_fields.items() if name in f.annotation.model_fields]
            hint = f" (did you mean {name} in [{homes[0]}]?)" if homes else ""
        else:
            what = f"unknown setting {name} in {_table_name(loc[:-1])}"
            hint = f" (did you mean {close[0]}?)" if close else ""
        if not close and valid and not hint:
            hint = f" (valid: {', '.join(valid)})"
        return what + hint
    where = f"{_table_name(loc[:-1])} {loc[-1]}" if len(loc) > 1 else _table_name(loc)
    if kind == "value_error" and not e["loc"]:
        return e["msg"].removeprefix("Value error, ")
    if kind == "value_error" and isinstance(e.get("input"), dict):  # a whole-table check
        return f"{_table_name(loc)}: " + e["msg"].removeprefix("Value error, ")
    got = _show(e.get("input"))
    if kind.endswith("_type") or kind in ("int_from_float", "model_type", "model_attributes_type"):
        want = _TYPE_WORDS.get(kind.split("_")[0], kind.split("_")[0])
        return f"{where} = {got}: should be {want}"
    if kind == "literal_error":
        allowed = e.get("ctx", {}).get("expected", "")
        close = difflib.get_close_matches(str(e.get("input")), [a.strip("'") for a in allowed.replace(" or ", ", ").split(", ")],
                                          n=1, cutoff=0.5)
        hint = f' (did you mean "{close[0]}"?)' if close else ""
        return f"{where} = {got}: must be one of {allowed.replace(chr(39), chr(34))}{hint}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        ctx = e.get("ctx", {})
        bound = next(iter(ctx.values()), "")
        word = {"greater_than_equal": "at least", "greater_than": "more than", "less_than_equal": "at most",
                "less_than": "less than"}[kind]
        return f"{where} = {got}: must be {word} {bound}"
    if kind == "string_too_short":
        return f"{where} must not be empty"
    if kind == "string_pattern_mismatch":
        if loc[-1] == "collection":
            return f"{where} = {got}: must be letters, digits and underscores (not starting with a digit)"
        return f"{where} = {got}: must be an http:// or https:// address"
    return f"{where} = {got}: " + e["msg"].removeprefix("Value error, ")


def _describe(err: ValidationError) -> str:
    """Every mistake of the file, on one line."""
    return "; ".join(_one_error(e) for e in err.errors(include_url=False))


# ------------------------------------------------------------------------------------ loading


def _resolve(value: str, base: Path) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else base / p


def _embedding_model(model: str, base: Path) -> str:
    """A folder resolves against the config's folder; a model name or package:MODULE is kept."""
    if not model or model.startswith("package:"):
        return model
    p = Path(model).expanduser()
    if p.is_absolute():
        return str(p)
    if model.startswith(("./", "../")) or (base / p).exists():
        return str((base / p).resolve())
    return model


def parse_config(raw: dict, source: str, base: Path) -> ConfigFile:
    """The validated file, relative paths made absolute against `base`."""
    try:
        cf = ConfigFile.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(f"{source}: {_describe(e)}") from None
    uri = cf.index.milvus.uri
    if "://" not in uri and not uri.startswith("unix:"):
        uri = str(_resolve(uri, base).resolve())
    return cf.model_copy(update={
        "embedding": cf.embedding.model_copy(update={"model": _embedding_model(cf.embedding.model, base)}),
        "index": cf.index.model_copy(update={"milvus": cf.index.milvus.model_copy(update={"uri": uri})}),
        "llm": cf.llm.model_copy(update={"model_path": str(_resolve(cf.llm.model_path, base))
                                          if cf.llm.model_path.strip() else ""}),
    })


def load_settings(config: Path | None, corpus: Path | None = None, index_dir: Path | None = None) -> Settings:
    """Settings from `config` (None, or the default ./config.toml when it does not exist: the
    defaults, relative to the current folder). `corpus` and `index_dir` (command-line options)
    win over the file and resolve against the current folder."""
    raw: dict = {}
    base = Path.cwd()
    source = "defaults"
    found = config is not None and config.exists()
    if found:
        if config.is_dir():
            raise ConfigError(f"{config}: is a folder, not a config file")
        try:
            raw = tomllib.loads(config.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{config}: not valid TOML ({e})") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{config}: not UTF-8 text") from None
        base = config.resolve().parent
        source = str(config)
    elif config is not None and (config.name != "config.toml" or config.parent != Path(".")):
        raise ConfigError(f"{config}: config file not found")
    cf = parse_config(raw, source, base)
    return Settings(
        corpus=corpus.resolve() if corpus else _resolve(cf.paths.corpus, base),
        index_dir=index_dir.resolve() if index_dir else _resolve(cf.paths.index_dir, base),
        data_dir=_resolve(cf.paths.data_dir, base),
        chunking=ChunkSettings(**cf.chunking.model_dump()),
        embedding=cf.embedding,
        index=cf.index,
        retrieval=cf.retrieval,
        answer=cf.answer,
        llm=cf.llm,
        server=cf.server,
        config_path=config if found else None,
    )
