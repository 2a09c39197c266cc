"""`wpqa serve`: the index and the models loaded once, a web page, and an OpenAI-compatible API.

Routes (JSON unless said otherwise; every error is `{"error": {"message", "type", "code"}}`):

    GET  /healthz                 200 once the index is loaded, else 503 with the reason
    GET  /                        the web page (wpqa/web/, no network needed)
    POST /api/ask                 the page's question: server-sent events, evidence first
    GET  /api/index, /v1/index    documents, chunks, last build, and the running build's progress
    POST /v1/index                bring the index up to date (incremental build, in the background)
    GET  /view/{doc}/{page}?q=    a cited page with the quote highlighted (HTML)
    GET  /page/{doc}/{page}.png   the page image behind it
    GET  /v1/models               the one model, "wpqa"
    POST /v1/chat/completions     OpenAI chat completions (stream true or false), plus `citations`
    POST /v1/search               a question -> ranked contexts with citation metadata

Documents are addressed by an id derived from their indexed name; a request never names a
path. Off loopback every route but /healthz and the page's files needs `Authorization: Bearer
KEY` (or the page's cookie), compared in constant time.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import json
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Literal
from urllib.parse import quote as urlquote, unquote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from common.errors import WpqaError, one_line
from llm.queue import GENERATION_QUEUE, Cancelled, waiting
from qa.chain import Answered, Draft, Sources

from .service import AnswerService, BuildJob, Understood
from .wiring import Ctx

log = logging.getLogger("wpqa.server")
WEB = Path(__file__).parent / "web"
MODEL_ID = "wpqa"
SERVER_FILE = "server.json"  # in the index folder: how `wpqa ask` finds a running server
KEY_COOKIE = "wpqa-key"


class ApiError(WpqaError):
    """An error the client caused or must hear about: a status code and one line."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.message, self.kind = status, message, kind


def error_body(status: int, message: str, kind: str) -> dict:
    return {"error": {"message": message, "type": kind, "code": status}}


def doc_id(name: str) -> str:
    """A document's id in URLs: from its indexed name, never a path."""
    return hashlib.sha256(name.encode("utf-8")).hexdigest()[:16]


# ---------------------------------------------------------------------------------- requests


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Turn(BaseModel):
    question: str
    answer: str


class AskBody(_Body):
    question: str
    history: list[Turn] = Field(default_factory=list, max_length=50)
    k: int = Field(0, ge=0, le=50)
    id: str | None = None


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "user", "assistant", "developer", "tool", "function"]
    content: str | list[dict] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(str(p.get("text", "")) for p in self.content if p.get("type") in ("text", "input_text"))
        return self.content or ""


class ChatBody(_Body):
    model: str = MODEL_ID
    messages: list[Message] = Field(min_length=1, max_length=100)
    stream: bool = False


class SearchBody(_Body):
    query: str | None = None
    question: str | None = None
    k: int = Field(5, ge=1, le=50)


def _validation_message(e: ValidationError | RequestValidationError) -> str:
    first = e.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
    return f"{where}: {first.get('msg', 'invalid')}"


# ---------------------------------------------------------------------------------- the server


@dataclass
class Limits:
    max_body_bytes: int = 65536
    max_question_chars: int = 2000
    max_waiting: int = 32


class Server:
    """What the routes share: the answer service, the build job, readiness and the limits."""

    def __init__(self, ctx: Ctx, backend: Any = None, api_key: str | None = None, limits: Limits | None = None,
                 on_ready=None, on_failed=None):
        self.ctx = ctx
        self.service = AnswerService(ctx, backend, notice=lambda text: log.warning(text))
        self.build = BuildJob(ctx)
        self.api_key = api_key
        self.limits = limits or Limits()
        self.ready = False
        self.load_error: str | None = None
        self._on_ready = on_ready or (lambda: None)  # called each time loading succeeds
        self._on_failed = on_failed or (lambda message: log.warning("not ready: %s", message))
        self._loading = threading.Lock()
        self._documents: tuple | None = None
        self.started = time.time()

    # -- loading
    def load(self) -> None:
        """Open the index and load the models (the embedding model, the answer model)."""
        if not self._loading.acquire(blocking=False):
            return
        try:
            pipe = self.service.pipeline()
            llm = pipe.llm
            if llm is not None and hasattr(llm, "load"):
                llm.load()  # the first question must not pay for it
            pipe.emb.queries(["warm up"])
            self.ready, self.load_error = True, None
        except Exception as e:  # noqa: BLE001 - /healthz says why; a build may fix it
            self.ready, self.load_error = False, one_line(e)
        finally:
            self._loading.release()
        if self.ready:
            self._on_ready()
        else:
            self._on_failed(self.load_error)

    def pipeline(self):
        if not self.ready:
            raise ApiError(503, self.load_error or "the index and models are still loading", "unavailable")
        return self.service.pipeline()

    # -- documents
    def documents(self) -> dict[str, dict]:
        """Indexed documents by id, from the live generation (worked out once per generation)."""
        gen = self.pipeline().searcher.gen
        cached = self._documents
        if cached is not None and cached[0] is gen:
            return cached[1]
        counts: dict[str, int] = {}
        sections: dict[str, list] = {}  # per document: (first page, last page, section), in order
        for c in gen.chunks:
            counts[c.doc] = counts.get(c.doc, 0) + 1
            sections.setdefault(c.doc, []).append((c.page, c.page_end or c.page, c.section))
        docs = {doc_id(d["name"]): {**d, "id": doc_id(d["name"]), "chunks": counts.get(d["name"], 0),
                                    "page_sections": sections.get(d["name"], [])}
                for d in gen.documents()}
        self._documents = (gen, docs)
        return docs

    def document_file(self, did: str) -> tuple[dict, Path]:
        """The indexed document `did` and its file in the corpus; 404 for anything else."""
        doc = self.documents().get(did) if len(did) == 16 and all(ch in "0123456789abcdef" for ch in did) else None
        if doc is None:
            raise ApiError(404, "no such document", "not_found")
        corpus = self.ctx.settings.corpus.resolve()
        path = (corpus / doc["name"]).resolve()
        if corpus not in path.parents or not path.is_file():
            raise ApiError(404, f"{doc['name']}: the file is no longer in the corpus", "not_found")
        return doc, path

    def citation_url(self, base: str, c: dict) -> str:
        return f"{base}/view/{doc_id(c['doc'])}/{int(c['page'] or 1)}?q={urlquote(c.get('quote', '')[:1200])}"

    def with_urls(self, record: dict, base: str) -> dict:
        from .display import answer_body

        for c in record.get("citations", []):
            c["url"] = self.citation_url(base, c)
        for c in record.get("contexts", []):
            c["url"] = self.citation_url(base, {**c, "quote": c.get("text", "")[:300]})
        record["body"] = answer_body(record)
        return record

    def index_info(self) -> dict:
        info: dict[str, Any] = {"ready": self.ready, "build": self.build.status.to_dict()}
        if not self.ready:
            info.update(generation=None, built=None, chunks=0, documents=[], error=self.load_error)
            return info
        gen = self.service.pipeline().searcher.gen
        docs = sorted(self.documents().values(), key=lambda d: d["name"])
        info.update(generation=gen.folder.name, built=gen.manifest.get("created_at"),
                    chunks=len(gen.chunks),
                    documents=[{"id": d["id"], "name": d["name"], "title": d.get("title"), "kind": d.get("kind"),
                                "pages": d.get("pages"), "chunks": d["chunks"]} for d in docs])
        return info

    # -- questions
    def check_question(self, question: str) -> str:
        q = question.strip()
        if not q:
            raise ApiError(400, "the question is empty")
        if len(q) > self.limits.max_question_chars:
            raise ApiError(413, f"the question is {len(q)} characters long; the limit is "
                                f"{self.limits.max_question_chars} (server.max_question_chars)")
        return q

    def admit(self, question: str) -> str:
        """The question, stripped, once it may be asked: within the length limit, the index
        loaded (else 503) and room in the queue (else 503), before any response starts."""
        question = self.check_question(question)
        self.pipeline()
        if GENERATION_QUEUE.waiting_count() >= self.limits.max_waiting:
            raise ApiError(503, f"{self.limits.max_waiting} questions are already waiting for the answer model; "
                                "try again shortly", "overloaded")
        return question

    async def events(self, request: Request, question: str, history: list[tuple[str, str]], qid: str | None,
                     k: int = 0):
        """The events of one turn, produced by a worker thread: ("queue", n), Understood, Sources,
        Draft, Answered or ("error", message). A client that goes away cancels the turn: its
        place in the queue is given up, or its generation stopped at the next token. Callers
        `admit` the question first."""
        loop = asyncio.get_running_loop()
        q: asyncio.Queue = asyncio.Queue()
        cancel = threading.Event()
        done = object()

        def put(item) -> None:
            try:
                loop.call_soon_threadsafe(q.put_nowait, item)
            except RuntimeError:  # the server is shutting down: nobody listens any more
                cancel.set()

        def work() -> None:
            last = [None]

            def position(n: int) -> None:
                if n != last[0]:
                    last[0] = n
                    put(("queue", n))

            try:
                with waiting(position, cancel.is_set):
                    stream: Iterator = self.service.turn(question, history, qid=qid, k=k)
                    try:
                        for ev in stream:
                            if cancel.is_set():
                                break
                            put(ev)
                    finally:
                        close = getattr(stream, "close", None)
                        if close:
                            close()
            except Cancelled:
                pass
            except WpqaError as e:
                put(("error", one_line(e)))
            except Exception as e:  # noqa: BLE001 - the client hears one line; the log keeps the rest
                log.exception("question failed: %s", question[:80])
                put(("error", f"internal error: {type(e).__name__}: {one_line(e)}"))
            finally:
                put(done)

        threading.Thread(target=work, name="wpqa-question", daemon=True).start()
        try:
            while True:
                try:
                    item = await asyncio.wait_for(q.get(), 0.5)
                except asyncio.TimeoutError:
                    if await request.is_disconnected():
                        return
                    continue
                if item is done:
                    return
                yield item
        finally:
            cancel.set()


# ---------------------------------------------------------------------------------- app


def _sse(event: str | None, data: Any) -> str:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data, ensure_ascii=False)}\n\n"


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _history_from_messages(messages: list[Message]) -> tuple[str, list[tuple[str, str]]]:
    """The last user message is the question; earlier user/assistant pairs are the conversation."""
    users = [i for i, m in enumerate(messages) if m.role == "user"]
    if not users:
        raise ApiError(400, "messages: no user message (the last user message is the question)")
    question = messages[users[-1]].text()
    history: list[tuple[str, str]] = []
    pending: str | None = None
    for m in messages[: users[-1]]:
        if m.role == "user":
            pending = m.text()
        elif m.role == "assistant" and pending is not None:
            history.append((pending, m.text()))
            pending = None
    return question, history


class BodyLimit:
    """ASGI middleware: a request body over `limit` bytes is refused with 413 before it is read
    whole (by its Content-Length; a chunked body is counted as it arrives)."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        too_big = JSONResponse(error_body(413, f"the request body is larger than {self.limit} bytes "
                                               "(server.max_body_bytes)", "invalid_request_error"), status_code=413)
        try:
            if length is not None and int(length) > self.limit:
                return await too_big(scope, receive, send)
        except ValueError:
            return await JSONResponse(error_body(400, "bad Content-Length", "invalid_request_error"),
                                      status_code=400)(scope, receive, send)
        if length is not None:
            return await self.app(scope, receive, send)
        # no length (a chunked body): read it here, up to the limit, and hand it on whole
        parts, seen = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return
            parts.append(message.get("body", b""))
            seen += len(parts[-1])
            if seen > self.limit:
                return await too_big(scope, receive, send)
            if not message.get("more_body"):
                break
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(parts), "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)


def create_app(server: Server, cors_origins: list[str] | None = None) -> FastAPI:
    app = FastAPI(title="wpqa", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.wpqa = server

    # ------------------------------------------------------------------ errors: JSON, one line
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, e: ApiError):
        return JSONResponse(error_body(e.status, e.message, e.kind), status_code=e.status)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, e: StarletteHTTPException):
        message = {404: "not found", 405: "method not allowed"}.get(e.status_code, str(e.detail))
        kind = "not_found" if e.status_code == 404 else "invalid_request_error"
        return JSONResponse(error_body(e.status_code, message, kind), status_code=e.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, e: RequestValidationError):
        return JSONResponse(error_body(400, _validation_message(e), "invalid_request_error"), status_code=400)

    @app.exception_handler(Exception)
    async def _internal(request: Request, e: Exception):
        log.exception("request failed: %s %s", request.method, request.url.path)
        return JSONResponse(error_body(500, f"internal error: {type(e).__name__}: {one_line(e)}", "server_error"),
                            status_code=500)

    # ------------------------------------------------------------------ auth
    open_paths = ("/healthz", "/", "/static/app.js", "/static/app.css", "/favicon.ico")

    @app.middleware("http")
    async def _auth(request: Request, call_next):
        key = server.api_key
        if key and request.url.path not in open_paths:
            given = ""
            auth = request.headers.get("authorization", "")
            if auth[:7].lower() == "bearer ":
                given = auth[7:].strip()
            elif request.cookies.get(KEY_COOKIE):
                given = unquote(request.cookies[KEY_COOKIE])
            if not hmac.compare_digest(given.encode("utf-8"), key.encode("utf-8")):
                return JSONResponse(error_body(401, "missing or wrong API key (Authorization: Bearer KEY)",
                                               "authentication_error"), status_code=401,
                                    headers={"WWW-Authenticate": "Bearer"})
        return await call_next(request)

    async def json_body(request: Request, model: type[BaseModel]):
        raw = await request.body()
        try:
            data = json.loads(raw or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ApiError(400, f"the request body is not valid JSON ({one_line(e)})") from None
        if not isinstance(data, dict):
            raise ApiError(400, "the request body must be a JSON object")
        try:
            return model.model_validate(data)
        except ValidationError as e:
            raise ApiError(400, _validation_message(e)) from None

    # ------------------------------------------------------------------ health, page, static
    @app.get("/healthz")
    async def healthz():
        if not server.ready:
            return JSONResponse({"status": "loading" if server.load_error is None else "unavailable",
                                 "error": server.load_error}, status_code=503)
        pipe = server.service.pipeline()
        return {"status": "ready", "generation": server.service.generation_name, "backend": pipe.backend_name,
                "chunks": len(pipe.searcher.gen.chunks), "queue": GENERATION_QUEUE.waiting_count()}

    @app.get("/")
    async def page():
        return FileResponse(WEB / "index.html", media_type="text/html; charset=utf-8")

    @app.get("/favicon.ico")
    async def favicon():
        return Response(status_code=204)

    @app.get("/static/{name}")
    async def static(name: str):
        files = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}
        if name not in files:
            raise ApiError(404, "not found", "not_found")
        return FileResponse(WEB / name, media_type=files[name])

    # ------------------------------------------------------------------ the page's question
    @app.post("/api/ask")
    async def api_ask(request: Request):
        body: AskBody = await json_body(request, AskBody)
        question = server.admit(body.question)
        history = [(t.question, t.answer) for t in body.history[-6:]]
        base = _base_url(request)

        async def stream():
            async for ev in server.events(request, question, history, body.id or "web", body.k):
                if isinstance(ev, tuple):
                    yield _sse(ev[0], {"position": ev[1]} if ev[0] == "queue" else {"message": ev[1]})
                elif isinstance(ev, Understood):
                    yield _sse("understood", {"question": ev.question, "rewrite_failed": ev.rewrite_failed})
                elif isinstance(ev, Sources):
                    quotes = [{**c, "url": server.citation_url(base, c)} for c in ev.quotes]
                    yield _sse("sources", {"lang": ev.lang, "quotes": quotes})
                elif isinstance(ev, Draft):
                    yield _sse("token", {"text": ev.text})
                elif isinstance(ev, Answered):
                    yield _sse("answer", server.with_urls(ev.record, base))

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    # ------------------------------------------------------------------ index
    @app.get("/api/index")
    @app.get("/v1/index")
    async def index_info():
        return server.index_info()

    @app.post("/v1/index")
    async def index_update():
        if not server.build.start():
            return JSONResponse({**server.index_info(), "started": False}, status_code=409)

        def reload_when_done():
            while server.build.running():
                time.sleep(0.2)
            if not server.ready:  # an index that was missing or broken may now open
                server.load()

        threading.Thread(target=reload_when_done, daemon=True).start()
        return JSONResponse({**server.index_info(), "started": True}, status_code=202)

    # ------------------------------------------------------------------ page views
    @app.get("/view/{did}/{page_no}", response_class=HTMLResponse)
    async def view(did: str, page_no: int, q: str = ""):
        from .pageview import highlight_text_html, pdf_page_has_quote

        doc, path = server.document_file(did)
        pages = int(doc.get("pages") or 1)
        if page_no < 1 or page_no > pages:
            raise ApiError(404, f"{doc['name']} has pages 1-{pages}", "not_found")
        section = next((sec for first, last, sec in doc["page_sections"] if first <= page_no <= last), "")
        qq = urlquote(q[:1200])
        is_pdf = path.suffix.lower() == ".pdf"
        text_html = ""
        note = ""
        if is_pdf and q:
            found = await asyncio.to_thread(pdf_page_has_quote, path, page_no, q[:1200])
            note = "quote highlighted" if found else "the quote could not be located on this page"
        if not is_pdf:
            text = await asyncio.to_thread(path.read_text, encoding="utf-8", errors="replace")
            text_html = highlight_text_html(text, q) if q else html.escape(text)
            note = "quote highlighted" if "<mark" in text_html else ("the quote could not be located" if q else "")
        template = (WEB / "view.html").read_text(encoding="utf-8")
        values = {
            "title": html.escape(f"{doc['name']} · p.{page_no}"),
            "doc": html.escape(doc["name"]), "section": html.escape(section or "—"),
            "page": str(page_no), "pages": str(pages),
            "image_url": html.escape(f"/page/{did}/{page_no}.png?q={qq}") if is_pdf else "",
            "prev_url": html.escape(f"/view/{did}/{page_no - 1}?q={qq}") if page_no > 1 else "",
            "next_url": html.escape(f"/view/{did}/{page_no + 1}?q={qq}") if page_no < pages else "",
            "note": html.escape(note), "text_html": text_html,
        }
        for k, v in values.items():
            template = template.replace("{{" + k + "}}", v)
        return HTMLResponse(template)

    @app.get("/page/{did}/{name}")
    async def page_image(did: str, name: str, q: str = ""):
        from .pageview import render_pdf_page

        if not name.endswith(".png") or not name[:-4].isdigit():
            raise ApiError(404, "not found", "not_found")
        doc, path = server.document_file(did)
        if path.suffix.lower() != ".pdf":
            raise ApiError(404, f"{doc['name']} has no page images", "not_found")
        try:
            img = await asyncio.to_thread(render_pdf_page, path, int(name[:-4]), q[:1200])
        except ValueError as e:
            raise ApiError(404, one_line(e), "not_found") from None
        return Response(img.png, media_type="image/png",
                        headers={"X-Quote-Found": "1" if img.found else "0", "Cache-Control": "private, max-age=300"})

    # ------------------------------------------------------------------ OpenAI-compatible
    @app.get("/v1/models")
    async def models():
        return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": int(server.started),
                                            "owned_by": "wpqa"}]}

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        body: ChatBody = await json_body(request, ChatBody)
        question, history = _history_from_messages(body.messages)
        question = server.admit(question)
        base = _base_url(request)
        cid = "chatcmpl-" + uuid.uuid4().hex[:24]
        created = int(time.time())

        def citations(record: dict) -> list[dict]:
            return [{"n": c["n"], "doc": c["doc"], "section": c["section"], "page": c["page"], "quote": c["quote"],
                     "url": c["url"]} for c in record.get("citations", [])]

        def extras(record: dict) -> dict:
            return {"abstained": record["abstained"], "body": record["body"], "lang": record.get("lang"),
                    "timings_ms": record.get("timings_ms", {}), "generation": record.get("generation")}

        if not body.stream:
            record = None
            async for ev in server.events(request, question, history, cid, 0):
                if isinstance(ev, tuple) and ev[0] == "error":
                    raise ApiError(500, ev[1], "server_error")
                if isinstance(ev, Answered):
                    record = server.with_urls(ev.record, base)
            if record is None:
                raise ApiError(500, "no answer was produced", "server_error")
            return {"id": cid, "object": "chat.completion", "created": created, "model": MODEL_ID,
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": record["answer"]},
                                 "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
                    "citations": citations(record), "wpqa": extras(record)}

        def chunk(delta: dict, finish: str | None = None, **top) -> str:
            return _sse(None, {"id": cid, "object": "chat.completion.chunk", "created": created, "model": MODEL_ID,
                               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **top})

        async def stream():
            yield chunk({"role": "assistant", "content": ""})
            async for ev in server.events(request, question, history, cid, 0):
                if isinstance(ev, tuple) and ev[0] == "queue":
                    yield f": waiting for the answer model, {ev[1]} ahead\n\n"
                elif isinstance(ev, tuple):
                    yield _sse(None, error_body(500, ev[1], "server_error"))
                    break
                elif isinstance(ev, Sources):
                    yield f": {len(ev.quotes)} checked quotes found\n\n"
                elif isinstance(ev, Answered):
                    record = server.with_urls(ev.record, base)
                    # the checked answer (a draft could still be replaced, so none is sent)
                    text = record["answer"]
                    for i in range(0, len(text), 48):
                        yield chunk({"content": text[i:i + 48]})
                    yield chunk({}, "stop", citations=citations(record), wpqa=extras(record))
            yield "data: [DONE]\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    @app.post("/v1/search")
    async def search(request: Request):
        body: SearchBody = await json_body(request, SearchBody)
        question = server.check_question(body.query or body.question or "")
        pipe = server.pipeline()
        base = _base_url(request)
        try:
            res = await asyncio.to_thread(pipe.searcher.search, question, body.k)
        except WpqaError as e:
            raise ApiError(500, one_line(e), "server_error") from None
        data = []
        for i, h in enumerate(res.hits[: body.k]):
            c = h.chunk
            data.append({"rank": i + 1, "doc": c.doc, "section": c.section, "page": c.page, "chunk_id": c.id,
                         "score": round(float(h.score), 4), "text": c.text,
                         "url": server.citation_url(base, {"doc": c.doc, "page": c.page, "quote": c.text[:300]})})
        return {"object": "list", "query": question, "lang": getattr(res, "lang", None),
                "translation": getattr(res, "translation", None), "data": data}

    app.add_middleware(BodyLimit, limit=server.limits.max_body_bytes)
    if cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])
    return app


# ---------------------------------------------------------------------------------- discovery


def server_file(index_dir: Path) -> Path:
    return index_dir / SERVER_FILE


def write_server_file(index_dir: Path, url: str, backend: str, key_env: str | None) -> Path:
    path = server_file(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{SERVER_FILE}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"url": url, "pid": os.getpid(), "backend": backend, "api_key_env": key_env,
                               "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}), encoding="utf-8")
    os.replace(tmp, path)
    return path


def remove_server_file(index_dir: Path) -> None:
    path = server_file(index_dir)
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass
