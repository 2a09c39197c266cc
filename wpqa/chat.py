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
    if not history or not looks_like_follow_up(question):
        return question
    lang = detect_lang(question)
    last_q, last_a = history[-1]
    if llm is None:
        return f"{last_q} {question}"
    lang_name = "Chinese" if lang == "zh" else "English"
    prev_answer = re.sub(r"\s+", " ", last_a)[:300]
    messages = [
        {"role": "system", "content": "Rewrite the follow-up question so that it can be understood without the "
                                      f"conversation. Keep its meaning. Write it in {lang_name}. Output only the question."},
        {"role": "user", "content": f"Previous question: {last_q}\nPrevious answer: {prev_answer}\n"
                                    f"Follow-up question: {question}\nStandalone question:"},
    ]
    try:
        out = generate(llm, messages, 80).strip().strip('"“”')
    except Exception:  # noqa: BLE001 - fall back to the plain concatenation
        out = ""
    out = out.splitlines()[0].strip() if out else ""
    if not out or detect_lang(out) != lang:
        return f"{last_q} {question}"
    return out


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
        standalone = rewrite_follow_up(self.pipe.llm, self.history, question)
        if standalone != question:
            self._print(f"(understood as: {standalone})")
        streamed: list[str] = []

        def on_token(t: str) -> None:
            streamed.append(t)
            self.con.print(t, end="", highlight=False, markup=False, soft_wrap=True)
            self.con.file.flush()

        try:
            rec = self.pipe.ask(standalone, qid=f"chat-{len(self.history) + 1}", on_token=on_token)
        except KeyboardInterrupt:
            self._print("\n(cancelled)")
            return
        except (WpqaError, OSError) as e:  # the model server, Milvus or the index failed: say so, go on
            self._print(("\n" if streamed else "") + "error: " + one_line(e))
            return
        if streamed:
            self._print("")
            if rec["abstained"] or rec["answer"].split("\n\n> ")[0].strip() != "".join(streamed).strip():
                self._print("— checked answer —" if not rec["abstained"] else "")
                self._print(rec["answer"])
        else:
            self._print(rec["answer"])
        self.last = rec
        self.history.append((standalone, rec["answer"]))
        if rec["citations"]:
            self._print("Sources:" if rec["lang"] == "en" else "来源：")
            self.show_sources()

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
