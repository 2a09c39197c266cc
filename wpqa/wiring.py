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
        """The live index generation, opened once."""
        if self._gen is None:
            self._gen = self.open_generation()
        return self._gen

    def open_generation(self):
        """The live index generation, opened now (a long-lived process reopens it after a rebuild)."""
        from index.build import expected_identity
        from index.generation import open_generation

        return open_generation(self.settings.index_dir, expected_identity(self.build_settings()),
                               ef_search=self.settings.index.hnsw_ef_search)

    # ---------------------------------------------------------------- answer side
    def llm(self, backend=None) -> tuple:
        """(chat model or None, backend name) for a backend name (None: `answer.backend` of the
        config), or for a LangChain chat model the caller built, which then answers as it is."""
        from llm.factory import backend_name, make_chat_model

        if backend is not None and not isinstance(backend, str):
            return backend, backend_name(backend)
        name = backend or self.settings.answer.backend
        if name not in self._llm_cache:
            s = self.settings.llm
            openai = s.openai.model_dump() if hasattr(s.openai, "model_dump") else dict(s.openai)
            llm_settings = {"model_path": s.model_path, "n_threads": s.n_threads, "n_ctx": s.n_ctx, **openai}
            llm, notice = make_chat_model(name, llm_settings, self.settings.data_dir)
            if notice:
                self._notice(notice)
            # records name the backend that answers ("auto" resolves to llama-cpp or extractive)
            self._llm_cache[name] = (llm, backend_name(llm))
        return self._llm_cache[name]

    def pipeline(self, backend=None, translate: bool | None = None, generation=None):
        """The question-answering pipeline; `backend` as for `llm()`; `generation` an opened index
        generation (default: the live one, opened once)."""
        from qa.pipeline import AnswerConfig, LLMTranslator, QAPipeline
        from qa.select import SelectorConfig
        from qa.retrieve import FusionParams, HybridSearcher

        if generation is None:  # first: a missing or stale index is said before any model loads
            generation = self.generation()
        llm, name = self.llm(backend)
        r = self.settings.retrieval
        use_translation = r.translate_query if translate is None else translate
        translator = None
        if llm is not None and use_translation:
            translator = LLMTranslator(llm.with_slot("translate") if hasattr(llm, "with_slot") else llm)
        searcher = HybridSearcher(generation, self.embeddings(), translator,
                                  FusionParams(candidates=r.candidates))
        a = self.settings.answer
        cfg = AnswerConfig(top_k=r.top_k, max_evidence=a.max_evidence, evidence_chars=a.evidence_chars,
                           abstain_threshold=a.abstain_threshold, keep_above=a.keep_above, max_tokens=a.max_tokens,
                           same_language=a.same_language, cross_lingual=a.cross_lingual,
                           select=SelectorConfig(passages=a.max_evidence, core=a.core_chars, before=a.window_before,
                                                 after=a.window_after, budget=a.window_chars, dense=a.selector_dense,
                                                 lexical_weight=a.lexical_weight) if a.selector else None)
        return QAPipeline(searcher, self.embeddings(), llm, cfg, backend_name=name)
