"""wpqa as LangChain parts, on a real index of corpus/: WpqaRetriever (LangChain's standard
retriever tests, Documents that rebuild the chain's evidence), the `wpqa.api` facade, a chat
model a user builds answering through it, and ChatOpenAI against a real OpenAI-compatible
server on loopback (llama-cpp-python's, serving the bundled model)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import replace
from types import SimpleNamespace
from pathlib import Path

import httpx
import pytest
from langchain_tests.integration_tests import RetrieversIntegrationTests

from common.errors import WpqaError
from qa.evidence import select_evidence
from qa.retrieve import WpqaRetriever, document_to_hit, hit_to_document
from tests.helpers import DATA_DIR, ROOT
from wpqa.api import open_wpqa

EN_Q = "Which initiative on cross-border data flows did China launch in November 2024?"
ZH_Q = "数据跨境流动面临哪些治理难题？"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def opened(corpus_index):
    """The corpus index opened through the facade, answering extractively (no model)."""
    return open_wpqa(corpus_index["cfg"], corpus=corpus_index["corpus"], index_dir=corpus_index["index"],
                     llm="extractive")


# --------------------------------------------------------------------------------------------
# the retriever
# --------------------------------------------------------------------------------------------

@pytest.mark.slow  # its fixture builds an index
class TestWpqaRetrieverStandard(RetrieversIntegrationTests):
    """LangChain's own standard tests for retrievers (langchain-tests)."""

    searcher = None

    @pytest.fixture(autouse=True)
    def _searcher(self, opened):
        type(self).searcher = opened.pipeline.searcher

    @property
    def retriever_constructor(self) -> type[WpqaRetriever]:
        return WpqaRetriever

    @property
    def retriever_constructor_params(self) -> dict:
        return {"searcher": type(self).searcher, "k": 3}

    @property
    def retriever_query_example(self) -> str:
        return EN_Q


@pytest.mark.slow
def test_documents_carry_the_chunk_and_its_citation(opened):
    res = opened.pipeline.searcher.search(ZH_Q, k=5)
    docs = opened.retriever.invoke(ZH_Q, k=5)
    assert len(docs) == 5 and [d.metadata["chunk_id"] for d in docs] == [h.chunk.id for h in res.hits]
    for rank, (d, h) in enumerate(zip(docs, res.hits), 1):
        m = d.metadata
        assert d.page_content == h.chunk.text != h.chunk.embed_text()  # never the title prefix
        assert d.id == h.chunk.id and m["doc"] == h.chunk.doc and m["doc"].endswith(".pdf")
        assert m["section"] == " > ".join(m["section_path"]) == h.chunk.section
        assert (m["page"], m["page_end"], m["lang"], m["rank"]) == (h.chunk.page, h.chunk.page_end, h.chunk.lang, rank)
        assert m["score"] == h.score and m["question_lang"] == "zh"
        assert m["translation"] is None and m["translation_failed"] is False  # no translator: nothing failed
        assert json.loads(json.dumps(m, ensure_ascii=False)) == m  # plain JSON: any store or tracer can keep it
        back = document_to_hit(d)
        assert back.chunk == replace(h.chunk, context="") and (back.row, back.score, back.signals) == (
            h.row, h.score, h.signals)
    assert docs[0].metadata["score"] > docs[-1].metadata["score"]
    # the answer chain's evidence, rebuilt from the Documents alone, is the evidence of the hits
    from_docs = select_evidence([document_to_hit(d) for d in docs], ZH_Q, None, 3, 200)
    from_hits = select_evidence(res.hits, ZH_Q, None, 3, 200)
    assert [e.citation() for e in from_docs] == [e.citation() for e in from_hits] and from_hits
    assert hit_to_document(res.hits[2], res).metadata["rank"] == 3


@pytest.mark.slow
def test_a_failed_translation_is_in_the_metadata(opened):
    """The translator's model is unreachable (a real ChatOpenAI client, nothing listening): search
    goes on with the question alone, and every Document says the translation failed."""
    from llm.openai import make_openai_chat
    from qa.pipeline import LLMTranslator
    from qa.retrieve import HybridSearcher

    s = opened.pipeline.searcher
    dead = make_openai_chat(f"http://127.0.0.1:{_free_port()}", "m", timeout=5, max_retries=0)
    searcher = HybridSearcher(s.gen, s.emb, LLMTranslator(dead), s.p)
    docs = WpqaRetriever(searcher=searcher, k=3).invoke(EN_Q)
    assert [d.metadata["chunk_id"] for d in docs] == [h.chunk.id for h in s.search(EN_Q, k=3).hits]
    assert all(d.metadata["translation_failed"] is True and d.metadata["translation"] is None for d in docs)


# --------------------------------------------------------------------------------------------
# the facade
# --------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_open_wpqa_answers_with_citations(opened, corpus_index):
    assert isinstance(opened.retriever, WpqaRetriever) and opened.retriever.k == opened.settings.retrieval.top_k
    assert opened.llm is None and opened.chain is opened.pipeline.chain
    record = opened.ask(EN_Q)
    assert not record["abstained"] and record["citations"] and record["backend"] == "extractive"
    assert {c["doc"] for c in record["citations"]} <= {p.name for p in corpus_index["corpus"].iterdir()}
    assert record["contexts"][0]["chunk_id"] == opened.retriever.invoke(EN_Q)[0].metadata["chunk_id"]


@pytest.mark.slow
def test_open_wpqa_without_an_index_is_a_one_line_wpqa_error(corpus_index, tmp_path):
    with pytest.raises(WpqaError) as ei:
        open_wpqa(corpus_index["cfg"], corpus=corpus_index["corpus"], index_dir=tmp_path / "no-index",
                  llm="extractive")
    assert "\n" not in str(ei.value) and "no-index" in str(ei.value)


def test_import_wpqa_stays_light():
    code = ("import sys, wpqa\n"
            "print(sorted(m for m in ('langchain_core', 'torch', 'faiss', 'llama_cpp') if m in sys.modules))\n"
            "print(callable(wpqa.open_wpqa), wpqa.Wpqa.__name__)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["[]", "True Wpqa"]


# --------------------------------------------------------------------------------------------
# real answer models
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bundled_model() -> Path:
    import llama_cpp  # noqa: F401  -- fail, not skip, without llama-cpp-python

    from llm.bundled import bundled_model_path

    return bundled_model_path(DATA_DIR)


@pytest.mark.llm
def test_a_chat_model_the_user_builds_answers_through_the_facade(corpus_index, bundled_model):
    from llm.llamacpp import ChatLlamaCpp

    mine = ChatLlamaCpp(model_path=bundled_model, n_ctx=2048, n_threads=2)
    qa = open_wpqa(corpus_index["cfg"], corpus=corpus_index["corpus"], index_dir=corpus_index["index"], llm=mine,
                   translate=False)
    assert qa.llm is mine
    record = qa.ask(EN_Q)
    assert record["backend"] == "llama-cpp" and not record["abstained"], record
    assert record["citations"] and "[" in record["answer"]


@pytest.mark.llm
def test_the_readme_lcel_example_runs(opened, bundled_model):
    """The LCEL example of docs/python-api.md: wpqa's retriever inside someone else's LCEL chain."""
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.runnables import RunnablePassthrough

    from llm.llamacpp import ChatLlamaCpp

    model = ChatLlamaCpp(model_path=bundled_model, max_tokens=48)
    qa = SimpleNamespace(retriever=opened.retriever.model_copy(update={"k": 2}))  # a short prompt: 2 sources
    prompt = ChatPromptTemplate.from_template("Answer from these sources:\n{context}\n\nQuestion: {question}")
    cite = lambda docs: "\n".join(f"[{d.metadata['doc']} p.{d.metadata['page']}] {d.page_content}" for d in docs)  # noqa: E731
    chain = {"context": qa.retriever | cite, "question": RunnablePassthrough()} | prompt | model | StrOutputParser()
    pieces = list(chain.stream(EN_Q))
    assert len(pieces) > 1 and "".join(pieces).strip()


@pytest.fixture(scope="module")
def llama_server(bundled_model):
    """llama-cpp-python's OpenAI-compatible server with the bundled model on a free loopback port."""
    import llama_cpp.server  # noqa: F401  -- needs the [server] extras

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"wpqa-llama-server-{port}.log", "w+b")
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(bundled_model), "--host", "127.0.0.1",
         "--port", str(port), "--n_threads", "2", "--n_ctx", "2048", "--model_alias", "wpqa-test"],
        stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 300
        while True:
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}: "
                            f"{log.read()[-2000:].decode(errors='replace')}")
            try:
                if httpx.get(base + "/v1/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("llama_cpp.server did not answer /v1/models within 300 s")
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
def test_chat_openai_from_config_streams_from_a_loopback_server(llama_server, monkeypatch, tmp_path):
    from langchain_openai import ChatOpenAI

    from llm.factory import make_chat_model
    from qa.answer import generate

    monkeypatch.setenv("WPQA_TEST_KEY", "sk-local-test")  # the local server ignores the key
    model, notice = make_chat_model("openai", {"base_url": llama_server, "model": "wpqa-test",
                                               "api_key_env": "WPQA_TEST_KEY", "timeout": 120, "max_retries": 1},
                                    tmp_path)
    assert isinstance(model, ChatOpenAI) and notice is None
    assert model.openai_api_key.get_secret_value() == "sk-local-test"
    pieces = []
    text = generate(model, [{"role": "user", "content": "Say hello in English, in at most five words."}], 16,
                    on_token=pieces.append)
    assert len(pieces) > 1 and text
    zh = generate(model, [{"role": "user", "content": "用中文说“你好”。"}], 16)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in zh), zh
    long = generate(model, [{"role": "user", "content": "Count from 1 to 100, separated by commas."}], 8)
    assert 0 < len(long.split(",")) <= 8  # max_tokens reaches the server


@pytest.mark.llm
def test_chat_openai_http_error_is_one_line_llmerror(llama_server, tmp_path):
    from llm.errors import LLMError
    from llm.factory import make_chat_model
    from qa.answer import generate

    model, _ = make_chat_model("openai", {"base_url": llama_server + "/no-such-prefix/v1", "model": "wpqa-test",
                                          "max_retries": 0}, tmp_path)
    with pytest.raises(LLMError) as ei:
        generate(model, [{"role": "user", "content": "hi"}], 4)
    msg = str(ei.value)
    assert llama_server + "/no-such-prefix/v1/chat/completions" in msg and "404" in msg and "\n" not in msg


@pytest.mark.llm
def test_chat_openai_built_by_the_user_answers_through_the_facade(corpus_index, llama_server):
    from langchain_openai import ChatOpenAI

    theirs = ChatOpenAI(base_url=llama_server + "/v1", api_key="sk-local", model="wpqa-test", temperature=0,
                        max_tokens=120, timeout=300)
    qa = open_wpqa(corpus_index["cfg"], corpus=corpus_index["corpus"], index_dir=corpus_index["index"], llm=theirs,
                   translate=False)
    record = qa.ask(EN_Q)
    assert record["backend"] == "openai" and not record["abstained"], record
    assert record["citations"] and "[" in record["answer"]
