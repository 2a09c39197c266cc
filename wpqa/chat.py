"""`wpqa chat`: a REPL with history, follow-up rewriting and streamed answers."""
from __future__ import annotations

from rich.console import Console

from common.errors import WpqaError, one_line

HELP = """Ask a question in Chinese or English. Follow-up questions may refer to the previous ones.
  /sources   show the sources of the last answer (with quotes)
  /help      this help
  /quit      leave (Ctrl-D works too; Ctrl-C cancels the current answer)"""


class ChatSession:
    """The REPL over an answer service: `wpqa.service.AnswerService` in this process (which picks
    up a rebuilt index at the next question) or `wpqa.client.RemoteService` (a running
    `wpqa serve`). Either gives `turn(question, history, qid)` events."""

    def __init__(self, service, console: Console):
        self.service = service
        self.con = console
        self.history: list[tuple[str, str]] = []
        self.last: dict | None = None
        try:
            import readline  # noqa: F401 - line editing and history for input()
        except ImportError:  # pragma: no cover
            pass

    def _print(self, text: str, end: str = "\n") -> None:
        self.con.print(text, end=end, highlight=False, markup=False, soft_wrap=True)

    def show_sources(self, quotes: bool = False) -> None:
        if not self.last or not self.last.get("citations"):
            self._print("(no sources)")
            return
        for c in self.last["citations"]:
            self._print(f"  [{c['n']}] {c['doc']} › {c['section'] or '—'} › p.{c['page']}")
            if quotes:
                self._print(f"      “{c['quote']}”")

    def answer(self, question: str) -> None:
        from .display import show_answer
        from .service import Understood

        status = self.con.status("working…", spinner="dots") if self.con.is_terminal else None
        if status is not None:
            status.start()
        standalone = question

        def events():
            nonlocal standalone
            for ev in self.service.turn(question, self.history, qid=f"chat-{len(self.history) + 1}"):
                if isinstance(ev, Understood):
                    standalone = ev.question
                    if status is not None:
                        status.stop()
                    self._print(f"(understood as: {ev.question})"
                                + (" (the follow-up rewrite failed)" if ev.rewrite_failed else ""))
                    if status is not None:
                        status.start()
                        status.update("searching…")
                    continue
                yield ev

        try:
            rec = show_answer(events(), self.con, status)
        except KeyboardInterrupt:
            self._print("\n(cancelled)")
            return
        except (WpqaError, OSError) as e:  # the model server, Milvus or the index failed: say so, go on
            self._print("error: " + one_line(e))
            return
        finally:
            if status is not None:
                status.stop()
        if rec is None:
            return
        self.last = rec
        self.history.append((standalone, rec["answer"]))

    def run(self) -> None:
        self._print("wpqa chat: ask about the indexed reports. /help for commands, /quit to leave.")
        while True:
            try:
                line = input("you> ")
            except EOFError:
                self._print("")
                break
            except KeyboardInterrupt:
                self._print("")
                continue
            q = line.strip()
            if not q:
                continue
            if q in ("/quit", "/exit", "/q"):
                break
            if q == "/help":
                self._print(HELP)
                continue
            if q == "/sources":
                self.show_sources(quotes=True)
                continue
            if q.startswith("/"):
                self._print(f"unknown command {q}; /help lists the commands")
                continue
            self.answer(q)
        self._print("bye")
