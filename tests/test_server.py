"""`wpqa serve`: a real server on loopback, real HTTP clients (httpx, the `openai` client,
LangChain's ChatOpenAI), real PDFs, the real e5 model and FAISS index; the bundled model where
generation is under test."""
from __future__ import annotations

import json
import re
import threading
import time

import httpx
import pytest

from tests.helpers import small_corpus, wpqa, wpqa_json
from tests.serving import Served, sse_events, wait_until

# questions written for these tests (not from an evaluation set)
EN_QUESTION = "Which risks of cross-border data flows are described in the reports?"
ZH_QUESTION = "数字经济国际规则的制定面临哪些分歧？"
# for the bundled model: questions it answers (it abstains on some broad ones)
LLM_EN = "What did China launch to promote cross-border data flows?"
LLM_ZH = "世界贸易组织的电子商务谈判有哪些进展？"


@pytest.fixture(scope="module")
def served(corpus_index):
    """The five reports, served with extractive answers (no answer model: fast)."""
    s = Served(corpus_index["args"], ["--llm", "extractive"])
    yield s
    assert s.stop() == 0, s.log
    assert not (corpus_index["index"] / "server.json").exists(), "the server left its address file behind"


@pytest.mark.slow
def test_health_models_page_and_address_file(served, corpus_index):
    h = httpx.get(served.url + "/healthz").json()
    assert h["status"] == "ready" and h["generation"].startswith("gen-") and h["chunks"] > 100
    models = httpx.get(served.url + "/v1/models").json()
    assert models["object"] == "list" and [m["id"] for m in models["data"]] == ["wpqa"]
    page = httpx.get(served.url + "/")
    assert page.status_code == 200 and 'id="question"' in page.text
    assert "http://" not in page.text.replace("http://www.w3.org", ""), "the page loads nothing from the network"
    assert httpx.get(served.url + "/static/app.js").status_code == 200
    info = json.loads((corpus_index["index"] / "server.json").read_text(encoding="utf-8"))
    assert info["url"] == served.url


@pytest.mark.slow
def test_chat_completions_plain_and_streamed_with_the_openai_client(served):
    from openai import OpenAI

    client = OpenAI(base_url=served.url + "/v1", api_key="unused-on-loopback")
    plain = client.chat.completions.create(model="wpqa", messages=[{"role": "user", "content": EN_QUESTION}])
    text = plain.choices[0].message.content
    citations = plain.model_extra["citations"]
    assert plain.choices[0].finish_reason == "stop" and re.search(r"\n> \[\d+\] ", text)
    assert citations and {"n", "doc", "section", "page", "quote", "url"} <= set(citations[0])
    # each url opens the cited page with the quote highlighted
    view = httpx.get(citations[0]["url"])
    assert view.status_code == 200 and citations[0]["doc"] in view.text and f"{citations[0]['page']}" in view.text
    image_path = view.text.split('src="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    image = httpx.get(served.url + image_path)
    assert image.headers["content-type"] == "image/png" and image.content[:4] == b"\x89PNG"
    assert image.headers["x-quote-found"] == "1"

    pieces, last = [], None
    for chunk in client.chat.completions.create(model="wpqa", stream=True,
                                                messages=[{"role": "user", "content": EN_QUESTION}]):
        pieces.append(chunk.choices[0].delta.content or "")
        last = chunk
    assert "".join(pieces) == text
    assert last.choices[0].finish_reason == "stop" and last.model_extra["citations"] == citations


@pytest.mark.slow
def test_streamed_response_is_server_sent_events_ending_in_done(served):
    r = httpx.post(served.url + "/v1/chat/completions", timeout=120,
                   json={"model": "wpqa", "stream": True, "messages": [{"role": "user", "content": ZH_QUESTION}]})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    data = [d for e, d in sse_events(r.text) if e == "message"]
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[-1]["citations"] and chunks[-1]["choices"][0]["finish_reason"] == "stop"
    body = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert re.search(r"\n> \[\d+\] ", body) and not body.startswith("文档中没有")


@pytest.mark.slow
def test_langchain_chat_openai_uses_wpqa_as_a_model(served):
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(base_url=served.url + "/v1", api_key="unused", model="wpqa", max_retries=0)
    reply = llm.invoke(EN_QUESTION)
    assert re.search(r"\n> \[\d+\] ", reply.content)


@pytest.mark.slow
def test_follow_up_with_the_conversation_in_messages(served):
    """Earlier turns are the conversation: without an answer model the follow-up is searched
    together with the previous question."""
    r = httpx.post(served.url + "/v1/chat/completions", timeout=120, json={"messages": [
        {"role": "system", "content": "ignored"},
        {"role": "user", "content": EN_QUESTION},
        {"role": "assistant", "content": "Several risks."},
        {"role": "user", "content": "What about its members?"}]})
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"]


@pytest.mark.slow
def test_search_returns_ranked_contexts_with_citation_metadata(served):
    r = httpx.post(served.url + "/v1/search", json={"query": ZH_QUESTION, "k": 3})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert [d["rank"] for d in data] == [1, 2, 3]
    assert all(d["doc"].endswith(".pdf") and d["page"] >= 1 and d["url"].startswith(served.url + "/view/")
               for d in data)
    assert data[0]["score"] >= data[-1]["score"]


@pytest.mark.slow
@pytest.mark.parametrize("path", [
    "/view/..%2F..%2Fetc%2Fpasswd/1", "/view/../../etc/passwd/1", "/view/%2e%2e/1", "/view/etc%2Fpasswd/1",
    "/view/0123456789abcdef/1", "/page/0123456789abcdef/1.png", "/view//etc/passwd/1",
    "/static/..%2F..%2Fconfig.toml", "/static/../server.py", "/page/..%2Fconfig.toml/1.png",
])
def test_no_path_trick_reaches_the_file_system(served, path):
    r = httpx.get(served.url + path)
    assert r.status_code == 404, (path, r.status_code, r.text[:200])
    assert r.headers["content-type"].startswith("application/json") and "error" in r.json()
    assert "root:" not in r.text and "[paths]" not in r.text


@pytest.mark.slow
def test_bad_requests_get_one_line_json_errors_and_the_server_goes_on(served):
    url = served.url
    cases = [
        (httpx.post(url + "/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"}), 400),
        (httpx.post(url + "/v1/chat/completions", json=[1, 2]), 400),
        (httpx.post(url + "/v1/chat/completions", json={"messages": []}), 400),
        (httpx.post(url + "/v1/chat/completions", json={"messages": [{"role": "user", "content": "  "}]}), 400),
        (httpx.post(url + "/v1/chat/completions", json={"messages": [{"role": "wizard", "content": "hi"}]}), 400),
        (httpx.post(url + "/v1/chat/completions", json={"messages": [{"role": "assistant", "content": "hi"}]}), 400),
        (httpx.post(url + "/v1/chat/completions", json={"messages": [{"role": "user", "content": "x" * 5000}]}), 413),
        (httpx.post(url + "/v1/search", content=b"a" * 70000, headers={"content-type": "application/json"}), 413),
        (httpx.post(url + "/api/ask", content=b"\xff\xfe", headers={"content-type": "application/json"}), 400),
        (httpx.get(url + "/v1/nothing-here"), 404),
        (httpx.delete(url + "/v1/models"), 405),
    ]
    for r, status in cases:
        assert r.status_code == status, (r.request.url, r.status_code, r.text[:300])
        err = r.json()["error"]
        assert err["code"] == status and err["message"] and "\n" not in err["message"]
        assert "Traceback" not in r.text
    # a chunked body without a length is counted as it arrives
    def chunks():
        for _ in range(40):
            yield b"x" * 4096
    assert httpx.post(url + "/v1/search", content=chunks()).status_code == 413
    assert httpx.get(url + "/healthz").status_code == 200


@pytest.mark.slow
def test_six_parallel_clients_are_all_answered(served):
    questions = [EN_QUESTION, ZH_QUESTION, "How is artificial intelligence governance discussed?",
                 "电子商务规则的谈判进展如何？", "What role does the ITU play in digital governance?",
                 "数据安全方面提出了什么倡议？"]
    results: dict[int, httpx.Response] = {}

    def ask(i: int) -> None:
        results[i] = httpx.post(served.url + "/v1/chat/completions", timeout=300,
                                json={"messages": [{"role": "user", "content": questions[i]}]})

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == list(range(6))
    for r in results.values():
        assert r.status_code == 200, r.text
        assert r.json()["choices"][0]["message"]["content"]


@pytest.mark.slow
def test_the_command_line_uses_the_running_server(served, corpus_index):
    rec = wpqa_json(*corpus_index["args"], "ask", "--json", EN_QUESTION)
    assert f"served-by: {served.url}" in rec["flags"]
    assert {"id", "question", "answer", "abstained", "citations", "contexts", "timings_ms"} <= set(rec)
    assert all("url" not in c for c in rec["citations"]), "records are the same as a local run writes"
    local = wpqa_json(*corpus_index["args"], "ask", "--json", "--local", "--llm", "extractive", EN_QUESTION)
    assert not any(f.startswith("served-by") for f in local["flags"])
    assert local["answer"] == rec["answer"] and local["citations"] == rec["citations"]
    p = wpqa(*corpus_index["args"], "ask", "--server", "http://127.0.0.1:9", EN_QUESTION, check=False)
    assert p.returncode == 1 and p.stderr.startswith("error: http://127.0.0.1:9: cannot reach the wpqa server")
    assert "Traceback" not in p.stderr


@pytest.mark.slow
def test_batch_through_the_server(served, corpus_index, tmp_path):
    qfile = tmp_path / "q.txt"
    qfile.write_text(EN_QUESTION + "\n" + ZH_QUESTION + "\n", encoding="utf-8")
    out = tmp_path / "a.jsonl"
    wpqa(*corpus_index["args"], "batch", str(qfile), "-o", str(out))
    recs = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert len(recs) == 2 and all(any(f.startswith("served-by") for f in r["flags"]) for r in recs)


@pytest.mark.slow
def test_off_loopback_needs_an_api_key(corpus_index):
    p = wpqa(*corpus_index["args"], "serve", "--host", "0.0.0.0", "--port", "0", check=False,
             env={"WPQA_API_KEY": ""})
    assert p.returncode == 1 and "WPQA_API_KEY" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    s = Served(corpus_index["args"], ["--host", "0.0.0.0", "--llm", "extractive"], env={"WPQA_API_KEY": "s3cret-key"})
    try:
        assert httpx.get(s.url + "/healthz").status_code == 200  # health and the page's files are open
        assert httpx.get(s.url + "/").status_code == 200
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret-key"}):
            r = httpx.get(s.url + "/v1/models", headers=headers)
            assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
        assert httpx.get(s.url + "/v1/models", headers={"Authorization": "Bearer s3cret-key"}).status_code == 200
        assert httpx.get(s.url + "/v1/models", cookies={"wpqa-key": "s3cret-key"}).status_code == 200
        # the command line finds it and sends the key from the environment
        rec = wpqa_json(*corpus_index["args"], "ask", "--json", EN_QUESTION, env={"WPQA_API_KEY": "s3cret-key"})
        assert any(f.startswith("served-by") for f in rec["flags"])
    finally:
        s.stop()


@pytest.mark.slow
def test_a_rebuild_while_questions_go_on_loses_no_question(tmp_path):
    """Reports dropped into the corpus are indexed from the API and from another shell while
    clients ask; every question is answered, and the next ones find the new reports."""
    corpus, args = small_corpus(tmp_path)
    s = Served(args, ["--llm", "extractive"])
    try:
        stop = threading.Event()
        answers: list[httpx.Response] = []

        def keep_asking() -> None:
            while not stop.is_set():
                answers.append(httpx.post(s.url + "/v1/chat/completions", timeout=120, json={
                    "messages": [{"role": "user", "content": "How often does the Lindholm tram run?"}]}))

        askers = [threading.Thread(target=keep_asking) for _ in range(2)]
        for t in askers:
            t.start()
        before = httpx.get(s.url + "/healthz").json()["generation"]
        (corpus / "ferries.md").write_text("# Ferry crossings\n\nThe Osterby ferry crosses to Mull Island "
                                           "twice a day in winter.\n", encoding="utf-8")
        r = httpx.post(s.url + "/v1/index")
        assert r.status_code == 202 and r.json()["build"]["state"] == "running"
        assert httpx.post(s.url + "/v1/index").status_code in (202, 409)
        done = wait_until(lambda: (i := httpx.get(s.url + "/api/index").json())["build"]["state"] != "running" and i)
        assert done["build"]["state"] == "done", done["build"]
        assert "1 added" in done["build"]["message"]
        assert any(d["name"] == "ferries.md" for d in done["documents"])
        # another shell's `wpqa index` is picked up as well
        (corpus / "bridges.md").write_text("# Bridge tolls\n\nThe Caddon bridge toll is waived for bicycles.\n",
                                           encoding="utf-8")
        wpqa(*args, "index")
        time.sleep(1.0)
        stop.set()
        for t in askers:
            t.join()
        assert answers and all(a.status_code == 200 and a.json()["citations"] for a in answers), \
            [a.text[:200] for a in answers if a.status_code != 200]
        for question, doc in (("How often does the Osterby ferry cross in winter?", "ferries.md"),
                              ("Who is exempt from the Caddon bridge toll?", "bridges.md")):
            r = httpx.post(s.url + "/v1/chat/completions", json={"messages": [{"role": "user", "content": question}]})
            assert r.json()["citations"][0]["doc"] == doc, r.text[:400]
        after = httpx.get(s.url + "/healthz").json()["generation"]
        assert after != before
        # a text document's citation opens the text with the quote marked
        cite = r.json()["citations"][0]
        view = httpx.get(cite["url"])
        assert view.status_code == 200 and "<mark" in view.text and "Caddon" in view.text
    finally:
        s.stop()


@pytest.mark.llm
def test_bundled_model_streams_in_both_languages_and_queues(corpus_index):
    """The bundled model answers through the API in each language; a second client waiting for
    the model hears its place in the queue; a client that disconnects frees its slot."""
    s = Served(corpus_index["args"], ["--llm", "llama-cpp"])
    try:
        events: dict[str, list] = {}

        def page_ask(name: str, question: str) -> None:
            with httpx.stream("POST", s.url + "/api/ask", json={"question": question}, timeout=600) as r:
                events[name] = sse_events(r.read().decode("utf-8"))

        first = threading.Thread(target=page_ask, args=("en", LLM_EN))
        first.start()
        time.sleep(0.5)
        page_ask("zh", LLM_ZH)
        first.join()
        for name in ("en", "zh"):
            kinds = [e for e, _ in events[name]]
            assert "sources" in kinds and kinds[-1] == "answer", kinds
            assert kinds.index("sources") < kinds.index("answer")
            answer = json.loads(events[name][-1][1])
            assert answer["lang"] == name and answer["citations"] and answer["body"]
        queued = [json.loads(d)["position"] for e, d in events["zh"] if e == "queue"]
        assert queued and max(queued) >= 1 and queued[-1] == 0, queued

        # a client that goes away while it waits or generates: the next one is still answered
        with httpx.stream("POST", s.url + "/api/ask", json={"question": LLM_ZH}, timeout=600) as r:
            for line in r.iter_lines():
                if line.startswith("event: sources"):
                    break
        r = httpx.post(s.url + "/v1/chat/completions", timeout=600,
                       json={"messages": [{"role": "user", "content": LLM_EN}]})
        assert r.status_code == 200 and r.json()["citations"]
        assert httpx.get(s.url + "/healthz").json()["queue"] == 0
    finally:
        s.stop()
