"""`wpqa chat`: a REPL with history, follow-up rewriting and streamed answers."""
from __future__ import annotations

import re

from rich.console import Console

from common.errors import WpqaError, one_line
from ingest.text import detect_lang

from qa.answer import generate

HELP = """Ask a question in Chinese or English. Follow-up questions may refer to the previous ones.
  /sources   show the sources of the last answer (with quotes)
  /help      this help
  /quit      leave (Ctrl-D works too; Ctrl-C cancels the current answer)"""

_FOLLOW_EN = re.compile(r"\b(it|its|they|them|their|this|that|these|those|he|she|his|her|there|what about|how about|"
                        r"and|also|why|same)\b", re.I)
_FOLLOW_ZH = re.compile(r"(它|它们|其|这|那|该|此|上述|他们|她们|还有|为什么|呢)")


def looks_like_follow_up(question: str) -> bool:
    if detect_lang(question) == "zh":
        return bool(_FOLLOW_ZH.search(question)) or len(question) <= 8
    words = question.split()
    return bool(_FOLLOW_EN.search(question)) or len(words) <= 4


def rewrite_follow_up(llm, history: list[tuple[str, str]], question: str) -> str:
    """A standalone question in the user's language, from the conversation and the follow-up."""
    return rewrite_follow_up_checked(llm, history, question)[0]


def rewrite_follow_up_checked(llm, history: list[tuple[str, str]], question: str) -> tuple[str, bool]:
    """The standalone question, and whether the model's rewrite failed (the previous question
    and the follow-up are then searched together, and the record says so)."""
    if not history or not looks_like_follow_up(question):
        return question, False
    lang = detect_lang(question)
    last_q, last_a = history[-1]
    if llm is None:
        return f"{last_q} {question}", False
    lang_name = "Chinese" if lang == "zh" else "English"
    prev_answer = re.sub(r"\s+", " ", last_a.split("\n\n> ")[0])[:300]
    messages = [
        {"role": "system", "content": "Rewrite the follow-up question so that it can be understood without the "
                                      f"conversation. Keep its meaning. Write it in {lang_name}. Output only the question."},
        {"role": "user", "content": f"Previous question: {last_q}\nPrevious answer: {prev_answer}\n"
                                    f"Follow-up question: {question}\nStandalone question:"},
    ]
    try:
        out = generate(llm, messages, 80).strip().strip('"“”')
    except Exception:  # noqa: BLE001 - fall back to the plain concatenation, flagged
        out = ""
    out = out.splitlines()[0].strip() if out else ""
    if not out or detect_lang(out) != lang:
        return f"{last_q} {question}", True
    return out, False


class ChatSession:
    def __init__(self, pipeline, console: Console):
        self.pipe = pipeline
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

        status = self.con.status("working…", spinner="dots") if self.con.is_terminal else None
        if status is not None:
            status.start()
        standalone, rewrite_failed = rewrite_follow_up_checked(self.pipe.llm, self.history, question)
        if standalone != question:
            if status is not None:
                status.stop()
            self._print(f"(understood as: {standalone})" + (" (the follow-up rewrite failed)" if rewrite_failed else ""))
            if status is not None:
                status.start()
        if status is not None:
            status.update("searching…")
        try:
            rec = show_answer(self.pipe.stream(standalone, qid=f"chat-{len(self.history) + 1}"), self.con, status)
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
        if rewrite_failed:
            rec["flags"].append("rewrite-failed")
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
