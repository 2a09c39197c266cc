"""Wiring: the one place that turns settings into working parts (embeddings, index generation, answer model,
pipeline). The CLI, the chat, `wpqa.api` and bench build their parts through `Ctx`."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable


class Ctx:
    """Lazy wiring: nothing heavy (models, index) is loaded before a command needs it."""

    def __init__(self, config: Path, corpus: Path | None, index_dir: Path | None,
                 notice: Callable[[str], None] | None = None):
        from .settings import load_settings

        self.settings = load_settings(config, corpus, index_dir)
        self._notice = notice or (lambda text: print(f"notice: {text}", file=sys.stderr))
        self._emb = None
        self._gen = None
        self._llm_cache: dict[str, tuple] = {}

    # ---------------------------------------------------------------- index side
    def build_settings(self):
        from index.build import BuildSettings
        from index.embeddings import model_identity

        e = self.settings.embedding
        return BuildSettings(
            embedding={"backend": e.backend, "model_id": model_identity(e.backend, e.model)},
            chunking=self.settings.chunking,
            vector_index=self.settings.index.vector_index,
            hnsw_above=self.settings.index.hnsw_above,
            vector_store=self.settings.index.vector_store,
            milvus=self.settings.index.milvus.model_dump() if self.settings.index.vector_store == "milvus" else None,
        )

    def embeddings(self):
        if self._emb is None:
            from index.embeddings import make_embeddings

            e = self.settings.embedding
            self._emb = make_embeddings(e.backend, e.model, e.threads, e.batch_size, e.query_prefix, e.passage_prefix)
        return self._emb

    def generation(self):
        if self._gen is None:
            from index.build import expected_identity
            from index.store import open_generation

            self._gen = open_generation(self.settings.index_dir, expected_identity(self.build_settings()),
                                        ef_search=self.settings.index.hnsw_ef_search)
        return self._gen

    # ---------------------------------------------------------------- answer side
    def llm(self, backend: str | None):
        from qa.llm import make_llm

        name = backend or self.settings.answer.backend
        if name not in self._llm_cache:
            llm_settings = {"model_path": self.settings.llm.model_path, "n_threads": self.settings.llm.n_threads,
                            "n_ctx": self.settings.llm.n_ctx, **self.settings.llm.openai}
            llm, notice = make_llm(name, llm_settings, self.settings.data_dir)
            if notice:
                self._notice(notice)
            # records name the backend that answers ("auto" resolves to llama-cpp or extractive)
            self._llm_cache[name] = (llm, getattr(llm, "backend", "extractive") if llm is not None else "extractive")
        return self._llm_cache[name]

    def pipeline(self, backend: str | None = None, translate: bool | None = None):
        from qa.pipeline import AnswerConfig, LLMTranslator, QAPipeline
        from qa.retrieve import FusionParams, HybridSearcher

        llm, name = self.llm(backend)
        r = self.settings.retrieval
        use_translation = r.translate_query if translate is None else translate
        translator = None
        if llm is not None and use_translation:
            translator = LLMTranslator(llm.with_slot("translate") if hasattr(llm, "with_slot") else llm)
        searcher = HybridSearcher(self.generation(), self.embeddings(), translator,
                                  FusionParams(candidates=r.candidates))
        a = self.settings.answer
        cfg = AnswerConfig(top_k=r.top_k, max_evidence=a.max_evidence, evidence_chars=a.evidence_chars,
                           abstain_threshold=a.abstain_threshold, max_tokens=a.max_tokens)
        return QAPipeline(searcher, self.embeddings(), llm, cfg, backend_name=name)
