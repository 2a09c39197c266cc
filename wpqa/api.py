"""wpqa for Python and LangChain users: open an index from a config, get its retriever and answer chain.

    from wpqa import open_wpqa

    qa = open_wpqa("config.toml")                   # the index `wpqa index` built
    docs = qa.retriever.invoke("数据跨境流动面临哪些难题？")  # LangChain Documents, with citation metadata
    record = qa.ask("What does the paper say about AI governance?")
    print(record["answer"])

Any LangChain chat model can answer: ``open_wpqa(llm=ChatOpenAI(...))``. Opening loads the
embedding model and the index; the answer model loads on its first answer.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Wpqa", "open_wpqa"]


@dataclass
class Wpqa:
    """An opened wpqa index: ``retriever`` (a LangChain ``BaseRetriever``), ``chain`` (the answer
    chain, a LangChain runnable), ``ask(question) -> record`` and the ``pipeline`` behind them."""

    pipeline: Any  # qa.pipeline.QAPipeline
    retriever: Any  # qa.retrieve.WpqaRetriever
    settings: Any  # wpqa.settings.Settings

    @property
    def chain(self):
        """The question-answering chain (LCEL) of ``qa.pipeline``."""
        return self.pipeline.chain

    @property
    def llm(self):
        """The chat model that answers, or None (extractive answers)."""
        return self.pipeline.llm

    def ask(self, question: str, **kwargs: Any) -> dict:
        """Answer one question; returns the record ``wpqa ask --json`` prints (answer, abstained,
        citations, contexts, timings_ms, ...). ``kwargs`` go to ``QAPipeline.ask``."""
        return self.pipeline.ask(question, **kwargs)


def _warn(text: str) -> None:
    warnings.warn(f"wpqa: {text}", UserWarning, stacklevel=4)


def open_wpqa(config: str | Path | None = "config.toml", *, corpus: str | Path | None = None,
              index_dir: str | Path | None = None, llm: Any = None, translate: bool | None = None) -> Wpqa:
    """Open the index a config describes.

    config: the config file (relative paths in it resolve against its folder; a missing
    ``config.toml`` means the defaults). corpus, index_dir: override the config's paths.
    llm: None (the config's ``answer.backend``), a backend name ("auto", "llama-cpp",
    "openai", "extractive") or any LangChain chat model you built (e.g. ``ChatOpenAI``).
    translate: question translation for cross-lingual search (None: the config's
    ``retrieval.translate_query``; it needs an answer model).

    Errors are ``common.errors.WpqaError`` with a one-line message: a bad config, no index in
    ``index_dir`` (run ``wpqa index``), a model that cannot be set up.
    """
    from qa.retrieve import WpqaRetriever

    from .wiring import Ctx

    ctx = Ctx(Path(config) if config is not None else None, Path(corpus) if corpus is not None else None,
              Path(index_dir) if index_dir is not None else None, notice=_warn)
    pipeline = ctx.pipeline(llm, translate=translate)
    retriever = getattr(pipeline, "retriever", None) or WpqaRetriever(searcher=pipeline.searcher,
                                                                      k=ctx.settings.retrieval.top_k)
    return Wpqa(pipeline=pipeline, retriever=retriever, settings=ctx.settings)
