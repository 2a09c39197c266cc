"""Showing an answer as it is made, for `wpqa ask` and `wpqa chat`.

The pipeline's events arrive in order: the checked source quotes (as soon as retrieval and
evidence selection are done), the lead as the model writes it, then the checked answer. The
quotes are printed at once; the draft is shown live on a terminal and replaced in place by the
checked answer, so the reader sees one answer, never a draft and a second copy.
"""
from __future__ import annotations

from rich.console import Console
from rich.live import Live
from rich.text import Text

from qa.chain import Answered, Draft, Sources
from qa.sentences import quote_line


def answer_body(record: dict) -> str:
    return record["answer"].split("\n\n> ")[0]


def source_lines(record: dict) -> list[str]:
    return [f"  [{c['n']}] {c['doc']} › {c['section'] or '—'} › p.{c['page']}" for c in record.get("citations", [])]


def show_answer(events, out: Console, status=None) -> dict | None:
    """Prints the events of `QAPipeline.stream` and returns the record. `status` is a rich
    Status ("searching…") to stop once the first thing to show arrives."""
    live: Live | None = None
    draft = ""
    shown_quotes: list[str] = []
    record = None

    def stop_status() -> None:
        nonlocal status
        if status is not None:
            status.stop()
            status = None

    try:
        for ev in events:
            if isinstance(ev, Sources):
                stop_status()
                for q in ev.quotes:
                    line = quote_line(q["n"], q["quote"])
                    shown_quotes.append(line)
                    out.print(line, highlight=False, markup=False, soft_wrap=True)
                out.print("", highlight=False)
            elif isinstance(ev, Draft):
                draft += ev.text
                if out.is_terminal:
                    stop_status()
                    if live is None:
                        live = Live(Text(draft), console=out, transient=True, auto_refresh=False)
                        live.start()
                    live.update(Text(draft, style="dim"), refresh=True)
            elif isinstance(ev, Answered):
                record = ev.record
    finally:
        if live is not None:
            live.stop()
        stop_status()
    if record is None:
        return None
    out.print(answer_body(record), highlight=False, markup=False, soft_wrap=True)
    final_quotes = [quote_line(c["n"], c["quote"]) for c in record.get("citations", [])]
    if final_quotes and final_quotes != shown_quotes:  # the answer came to rest on other sentences
        out.print("", highlight=False)
        for line in final_quotes:
            out.print(line, highlight=False, markup=False, soft_wrap=True)
    if record.get("citations"):
        out.print("\nSources:" if record.get("lang") == "en" else "\n来源：", highlight=False)
        for line in source_lines(record):
            out.print(line, highlight=False, markup=False)
    return record
