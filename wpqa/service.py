"""The answer side of a long-lived process (`wpqa serve`, `wpqa chat`): the live index's pipeline,
conversation turns, and index rebuilds while questions go on.

- `AnswerService.pipeline()` is the pipeline over the live index generation. When `wpqa index`
  (another shell, the web page, `POST /v1/index`) published a newer generation, the next
  question opens it; a question already under way finishes on the generation it started with,
  so no question fails or mixes two indexes. The embedding and answer models stay loaded.
- `AnswerService.turn(question, history)` is one conversation turn: a follow-up is rewritten as
  a standalone question (`Understood`), then the pipeline's events (`Sources`, `Draft`,
  `Answered`).
- `BuildJob` runs the incremental build in a background thread and keeps its progress.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterator

from qa.chain import Answered
from qa.followup import rewrite_follow_up_checked

from .wiring import Ctx


@dataclass
class Understood:
    """A follow-up question as the pipeline searched it (rewritten from the conversation)."""

    question: str
    rewrite_failed: bool = False


class AnswerService:
    def __init__(self, ctx: Ctx, backend: Any = None, notice=None):
        self.ctx = ctx
        self.backend = backend
        self._notice = notice or ctx._notice
        self._lock = threading.Lock()
        self._pipe = None
        self._name: str | None = None
        self._retired: list = []  # generations replaced, closed one swap later (Milvus Lite holds a lock)

    @property
    def generation_name(self) -> str | None:
        return self._name

    def pipeline(self):
        """The pipeline over the live generation, reopened when a newer one was published."""
        from index.generation import current_name

        live = current_name(self.ctx.settings.index_dir)
        with self._lock:
            if self._pipe is not None and live == self._name:
                return self._pipe
            try:
                gen = self.ctx.open_generation()
            except Exception as e:  # noqa: BLE001 - a newer index that cannot be opened: keep the one we have
                if self._pipe is None:
                    raise
                self._notice(f"the index was rebuilt but cannot be opened ({e}); answering from {self._name}")
                return self._pipe
            pipe = self.ctx.pipeline(self.backend, generation=gen)
            for old in self._retired:
                old.close()
            self._retired = [self._pipe.searcher.gen] if self._pipe is not None else []
            self._pipe, self._name = pipe, gen.folder.name
            return pipe

    def turn(self, question: str, history: list[tuple[str, str]] | None = None,
             qid: str | None = None, k: int = 0) -> Iterator[Any]:
        """One conversation turn: `Understood` when the question was rewritten, then the chain's
        events. The record of a failed rewrite carries the flag `rewrite-failed`."""
        pipe = self.pipeline()
        standalone, failed = rewrite_follow_up_checked(pipe.llm, list(history or []), question)
        if standalone != question:
            yield Understood(standalone, failed)
        for ev in pipe.stream(standalone, qid=qid, k=k):
            if isinstance(ev, Answered):
                if failed:
                    ev.record["flags"].append("rewrite-failed")
                ev.record["generation"] = self._name
            yield ev


@dataclass
class BuildState:
    state: str = "idle"  # idle | running | done | failed
    stage: str = ""
    done: int = 0
    total: int = 0
    message: str = ""
    started: float | None = None
    finished: float | None = None
    report: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"state": self.state, "stage": self.stage, "done": self.done, "total": self.total,
                "message": self.message, "report": self.report,
                "seconds": round((self.finished or time.time()) - self.started, 1) if self.started else None}


class BuildJob:
    """The incremental build (`wpqa index`) in a background thread, one at a time; its progress
    and outcome are read by the server. The index lock still keeps a second writer (another
    shell's `wpqa index`) out: that one is reported as a failed build here."""

    def __init__(self, ctx: Ctx):
        self.ctx = ctx
        self._lock = threading.Lock()
        self.status = BuildState()
        self._thread: threading.Thread | None = None

    def running(self) -> bool:
        return self.status.state == "running"

    def start(self) -> bool:
        """Start a build; False when one is already running."""
        with self._lock:
            if self.running():
                return False
            self.status = BuildState(state="running", stage="reading documents", started=time.time())
            self._thread = threading.Thread(target=self._run, name="wpqa-index", daemon=True)
            self._thread.start()
            return True

    def _events(self, event: str, **kw) -> None:
        s = self.status
        if event == "ingest-start":
            s.stage, s.done, s.total = "reading documents", 0, kw["total"]
        elif event in ("ingested", "skip"):
            s.done += 1
        elif event == "embed-start":
            s.stage, s.done, s.total = "embedding chunks", 0, kw["total"]
        elif event == "embedded":
            s.done += kw["n"]
        elif event == "write-start":
            s.stage, s.done, s.total = "writing index", 0, 0

    def _run(self) -> None:
        from common.errors import one_line
        from index.build import build_index

        s = self.ctx.settings
        try:
            if not s.corpus.is_dir():
                raise FileNotFoundError(f"{s.corpus}: corpus folder not found")
            report = build_index(s.corpus, s.index_dir, self.ctx.build_settings(), self.ctx.embeddings,
                                 events=self._events)
        except Exception as e:  # noqa: BLE001 - the server goes on; the page shows the reason
            self.status.state, self.status.message = "failed", one_line(e)
        else:
            self.status.report = report.to_dict()
            added, changed, removed = len(report.added), len(report.changed), len(report.removed)
            self.status.message = (f"{added} added, {changed} changed, {removed} removed: {report.chunks_total} chunks "
                                   f"({report.embedded} embedded)" if report.wrote else
                                   f"the index is up to date: {report.chunks_total} chunks")
            if report.skipped:
                self.status.message += f"; {len(report.skipped)} skipped"
            self.status.state = "done"
        finally:
            self.status.stage = ""
            self.status.finished = time.time()
