"""The command line's way to a running `wpqa serve`: found through `server.json` in the index
folder (or `--server URL`), asked over HTTP, its events turned back into the pipeline's own
(`Sources`, `Draft`, `Answered`, `Understood`) so `ask`, `chat` and `batch` show the same thing
either way, without loading the index or the answer model."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterator

from common.errors import WpqaError, one_line
from index.lock import process_alive
from qa.chain import Answered, Draft, Sources

from .service import Understood

# what the server adds to a record for its web page; the command line's records stay as a
# local run writes them
_SERVER_ONLY = ("body", "generation")


def _plain_record(record: dict, url: str) -> dict:
    record.setdefault("flags", []).append(f"served-by: {url}")
    for key in _SERVER_ONLY:
        record.pop(key, None)
    for c in record.get("citations", []) + record.get("contexts", []):
        c.pop("url", None)
    return record


class ServerError(WpqaError):
    pass


class RemoteService:
    """A running `wpqa serve`, with the `turn` / `ask` of `wpqa.service.AnswerService`."""

    def __init__(self, url: str, api_key: str | None = None):
        import httpx

        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        # a question may wait behind others for the answer model: no read timeout
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=httpx.Timeout(10.0, read=None))

    def health(self, timeout: float = 2.0) -> dict:
        import httpx

        try:
            r = self._http.get("/healthz", timeout=timeout)
        except httpx.HTTPError as e:
            raise ServerError(f"{self.url}: cannot reach the wpqa server ({one_line(e)})") from None
        if r.status_code != 200:
            raise ServerError(f"{self.url}: the wpqa server is not ready ({_message(r)})")
        return r.json()

    def turn(self, question: str, history: list[tuple[str, str]] | None = None, qid: str | None = None,
             k: int = 0) -> Iterator[object]:
        import httpx

        body = {"question": question, "history": [{"question": q, "answer": a} for q, a in (history or [])][-6:],
                "k": k, "id": qid}
        try:
            with self._http.stream("POST", "/api/ask", json=body) as r:
                if r.status_code != 200:
                    r.read()
                    raise ServerError(f"{self.url}: {_message(r)}")
                for event, data in sse_events(r.iter_lines()):
                    if event == "sources":
                        yield Sources(data["quotes"], data["lang"])
                    elif event == "token":
                        yield Draft(data["text"])
                    elif event == "understood":
                        yield Understood(data["question"], data.get("rewrite_failed", False))
                    elif event == "answer":
                        yield Answered(_plain_record(data, self.url))
                    elif event == "error":
                        raise ServerError(f"{self.url}: {data.get('message', 'the question failed')}")
        except httpx.HTTPError as e:
            raise ServerError(f"{self.url}: the wpqa server stopped answering ({one_line(e)})") from None

    def ask(self, question: str, qid: str | None = None, k: int = 0) -> dict:
        record = None
        for ev in self.turn(question, [], qid, k):
            if isinstance(ev, Answered):
                record = ev.record
        if record is None:
            raise ServerError(f"{self.url}: the server sent no answer")
        return record


def _message(r) -> str:
    """The one-line message of an error response: the API's `error.message`, or /healthz's
    `error`, else the status code."""
    try:
        body = r.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        error = error.get("message")
    return error or f"HTTP {r.status_code}"


def sse_events(lines: Iterator[str]) -> Iterator[tuple[str, dict]]:
    """(event, data) of a server-sent event stream."""
    event, data = "message", []
    for line in lines:
        if not line:
            if data:
                yield event, json.loads("\n".join(data))
            event, data = "message", []
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())
    if data:
        yield event, json.loads("\n".join(data))


def find_server(index_dir: Path, url: str | None = None, backend: str | None = None,
                key_env: str = "WPQA_API_KEY") -> RemoteService | None:
    """The server to ask: `url` when given (an error when it does not answer), else the one
    `server.json` in the index folder names, when it runs, is ready and answers with `backend`
    (None: any); otherwise None and the command answers in its own process."""
    from .server import server_file

    if url:
        remote = RemoteService(url, os.environ.get(key_env) or None)
        remote.health()
        return remote
    try:
        info = json.loads(server_file(index_dir).read_text(encoding="utf-8"))
        pid, found = int(info["pid"]), str(info["url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not process_alive(pid):
        return None
    remote = RemoteService(found, os.environ.get(info.get("api_key_env") or key_env) or None)
    try:
        health = remote.health(timeout=1.0)
    except ServerError:
        return None
    if backend is not None and backend != health.get("backend"):
        return None
    return remote
