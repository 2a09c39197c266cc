"""The stock LangChain RAG recipe with wpqa's bundled model, answering questions of the eval set.

    python -m bench.stock_rag --model GGUF --corpus DIR --ids q001,q002,... --out FILE [--eval-set FILE]

What a user following LangChain's RAG tutorial would build: `PyPDFLoader` per PDF,
`RecursiveCharacterTextSplitter(1000, 200)`, `FAISS.from_documents` with the same e5-small
embeddings wpqa uses, the top 4 chunks stuffed into LangChain's classic RAG prompt
(`rlm/rag-prompt`, inlined: nothing is fetched) and the bundled GGUF through
langchain-community's `ChatLlamaCpp` (greedy, 2 threads). Its "citations" are the 4 retrieved
chunks (document and page; the recipe knows no sections). Scored by wpqa/evaluate.py.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .common import DEV_SET, loadavg, summary_ms, write_json

# LangChain hub "rlm/rag-prompt", the prompt of LangChain's RAG tutorial, verbatim
RAG_PROMPT = ("You are an assistant for question-answering tasks. Use the following pieces of retrieved context to "
              "answer the question. If you don't know the answer, just say that you don't know. Use three sentences "
              "maximum and keep the answer concise.\nQuestion: {question} \nContext: {context} \nAnswer:")


def build_chain(model: str, corpus: Path):
    from langchain_community.chat_models import ChatLlamaCpp
    from langchain_community.vectorstores import FAISS
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.runnables import RunnableParallel, RunnablePassthrough

    from index.embeddings import E5SmallEmbeddings

    from .quality import stock_chunks

    _, chunks = stock_chunks(corpus)
    store = FAISS.from_documents(chunks, E5SmallEmbeddings(num_threads=2, batch_size=16))
    retriever = store.as_retriever(search_kwargs={"k": 4})
    llm = ChatLlamaCpp(model_path=model, n_ctx=4096, n_threads=2, n_batch=512, temperature=0.0, max_tokens=256,
                       verbose=False)
    prompt = ChatPromptTemplate.from_messages([("human", RAG_PROMPT)])

    def stuff(docs) -> str:
        return "\n\n".join(d.page_content for d in docs)

    answer = RunnablePassthrough.assign(context=lambda x: stuff(x["docs"])) | prompt | llm | StrOutputParser()
    # the tutorial's chain, keeping the retrieved documents beside the answer
    llm.invoke("Hi", max_tokens=1)  # pages the weights in, as wpqa's warm-up questions do
    return RunnableParallel(docs=retriever, question=RunnablePassthrough()).assign(answer=answer), len(chunks)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--ids", required=True)
    ap.add_argument("--eval-set", default=str(DEV_SET))
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    from wpqa.evaluate import load_eval_set, score_question, summarise

    items = {it["id"]: it for it in load_eval_set(Path(a.eval_set))}
    picked = [items[i] for i in a.ids.split(",")]
    t = time.perf_counter()
    chain, n_chunks = build_chain(a.model, Path(a.corpus))
    setup_s = time.perf_counter() - t
    records, scores = [], []
    for it in picked:
        t = time.perf_counter()
        out = chain.invoke(it["question"])
        ms = (time.perf_counter() - t) * 1000
        docs = out["docs"]
        rec = {"id": it["id"], "question": it["question"], "answer": out["answer"].strip(), "abstained": False,
               "citations": [{"n": i, "doc": Path(d.metadata["source"]).name, "section": "",
                              "page": d.metadata.get("page", 0) + 1} for i, d in enumerate(docs, 1)],
               "timings_ms": {"total": round(ms, 1)}}
        ctxs = [{"doc": Path(d.metadata["source"]).name, "text": d.page_content} for d in docs]
        scores.append(score_question(it, ctxs, rec))
        records.append(rec)
        print(f"{it['id']} {ms / 1000:.1f} s", file=sys.stderr, flush=True)
        write_json(Path(a.out), {  # after every answer: a stopped run keeps what it measured
            "system": "stock LangChain RAG (PyPDFLoader, 1000/200 splitter, FAISS + e5-small, top 4 stuffed into "
                      "rlm/rag-prompt, bundled GGUF via langchain-community ChatLlamaCpp)",
            "partial": len(records) < len(picked), "chunks": n_chunks, "setup_s": round(setup_s, 1),
            "latency_ms": summary_ms(r["timings_ms"]["total"] for r in records),
            "table": summarise(scores), "questions": [s.__dict__ for s in scores], "records": records,
            "loadavg_end": loadavg(),
        })

if __name__ == "__main__":
    main()
