"""The `wpqa` command. The only place that reads config.toml and wires ingest, index and qa together."""
from __future__ import annotations

import json
import statistics
import sys
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, NoReturn, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from common.errors import WpqaError, one_line

if TYPE_CHECKING:
    from rich.status import Status


class WpqaApp(typer.Typer):
    """The typer app, whose call (the `wpqa` console script and `python -m wpqa.cli`) is the one place
    where an error wpqa raises on purpose (`WpqaError`) or a file the system refuses (`OSError`) becomes
    one line on stderr and exit 1. Anything else is a bug and keeps its traceback."""

    def __call__(self, *args, **kwargs):
        try:
            return super().__call__(*args, **kwargs)
        except (WpqaError, OSError) as e:
            err.print(f"[red]error:[/] {escape(one_line(e))}", highlight=False)
            sys.exit(1)


app = WpqaApp(add_completion=False, pretty_exceptions_show_locals=False, no_args_is_help=True, rich_markup_mode=None,
              help="wpqa: cited answers from policy white papers, in Chinese and English, offline.")
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True)


from .wiring import Ctx  # noqa: E402  (re-exported: tests and bench import it from here)


def fail(msg: str) -> NoReturn:
    """Stop the command with a one-line error (printed by `WpqaApp`, exit 1)."""
    raise WpqaError(msg)


@app.callback()
def main(ctx: typer.Context,
         config: Path = typer.Option(Path("config.toml"), "--config", help="Config file (default ./config.toml)."),
         corpus: Optional[Path] = typer.Option(None, "--corpus", help="Corpus folder (overrides config)."),
         index_dir: Optional[Path] = typer.Option(None, "--index-dir", help="Index folder (overrides config).")):
    ctx.obj = Ctx(config, corpus, index_dir,
                  notice=lambda text: err.print(f"[yellow]notice:[/] {text}", highlight=False))


# ---------------------------------------------------------------------------------- index


@app.command("index")
def index_cmd(ctx: typer.Context,
              rebuild: bool = typer.Option(False, "--rebuild", help="Start from nothing (the embedding cache still applies)."),
              as_json: bool = typer.Option(False, "--json", help="Print the report as JSON.")):
    """Bring the index up to date with the corpus: embed only new and changed documents."""
    from index.build import build_index

    c: Ctx = ctx.obj
    s = c.settings
    if not s.corpus.is_dir():
        fail(f"{s.corpus}: corpus folder not found")
    if s.index_dir.exists() and not s.index_dir.is_dir():
        fail(f"{s.index_dir}: cannot write the index (not a folder)")
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=err, transient=True, disable=as_json or not err.is_terminal)
    tasks: dict[str, int] = {}
    warned: set[str] = set()
    ocr = {"read": 0, "cached": 0}  # scanned pages: OCR'd now / taken from the OCR cache

    def events(event, **kw):
        if event == "ocr-page":
            ocr["cached" if kw["cached"] else "read"] += 1
            if "ingest" in tasks:
                progress.update(tasks["ingest"], description=f"reading documents ({sum(ocr.values())} pages OCR'd)")
        elif event == "ingest-start":
            tasks["ingest"] = progress.add_task("reading documents", total=kw["total"])
        elif event in ("ingested", "skip"):
            if "ingest" in tasks:  # files skipped before reading starts (symlinks, unchanged broken files) too
                progress.advance(tasks["ingest"])
            if event == "skip":
                warned.add(kw["name"])
                err.print(f"[yellow]warning:[/] {escape(kw['name'])}: {escape(kw['reason'])}", highlight=False)
        elif event == "embed-start":
            tasks["embed"] = progress.add_task("embedding chunks", total=kw["total"])
        elif event == "embedded":
            progress.advance(tasks["embed"], kw["n"])
        elif event == "write-start":
            tasks["write"] = progress.add_task("writing index", total=None)

    try:
        with progress:
            report = build_index(s.corpus, s.index_dir, c.build_settings(), c.embeddings, rebuild=rebuild, events=events)
    except OSError as e:  # the index folder refused a write: say which folder
        fail(f"{s.index_dir}: cannot write the index ({one_line(e)})")
    for w in report.warnings:
        err.print(f"[yellow]warning:[/] {escape(w)}", highlight=False)
    for x in report.skipped:
        if x["name"] not in warned:
            err.print(f"[yellow]warning:[/] {escape(x['name'])}: {escape(x['reason'])}", highlight=False)
    if report.stale_lock:
        err.print(f"note: cleared a stale lock left by a killed run ({escape(report.stale_lock)})", highlight=False)
    if as_json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=1))
    else:
        t = Table(title=f"wpqa index: {s.corpus}", show_lines=False)
        t.add_column("status")
        t.add_column("documents", justify="right")
        t.add_column("files")
        for label, names in (("added", report.added), ("changed", report.changed), ("removed", report.removed),
                             ("unchanged", report.unchanged)):
            t.add_row(label, str(len(names)), escape(", ".join(names[:4]) + (" …" if len(names) > 4 else "")))
        t.add_row("skipped", str(len(report.skipped)), escape(", ".join(x["name"] for x in report.skipped[:4])))
        if report.duplicates:
            t.add_row("duplicate", str(len(report.duplicates)),
                      escape(", ".join(f"{d['name']} = {d['same_as']}" for d in report.duplicates[:3])))
        out.print(t)
        if any(ocr.values()):
            out.print(f"scanned pages: {ocr['read']} read by OCR, {ocr['cached']} from the OCR cache", highlight=False)
        if report.wrote:
            out.print(f"{report.chunks_total} chunks ({report.chunks_new} new, {report.embedded} embedded, "
                      f"the rest from the cache or the previous index) in {report.seconds:.1f} s → {report.generation}",
                      highlight=False)
        else:
            out.print(f"index is up to date: {report.chunks_total} chunks, nothing embedded ({report.seconds:.2f} s)",
                      highlight=False)
    if report.chunks_total == 0 and not report.unchanged:
        fail("nothing could be indexed" + (f" ({len(report.skipped)} file(s) skipped)" if report.skipped else
                                           f": no .pdf, .txt or .md files in {s.corpus}"))


# ---------------------------------------------------------------------------------- inspect


def page_list(pages: list[int]) -> str:
    """[1, 2, 3, 7] -> '1-3, 7' (pages read by OCR)."""
    runs: list[list[int]] = []
    for n in pages:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ", ".join(f"{a}-{b}" if b > a else str(a) for a, b in runs)


@app.command("inspect")
def inspect_cmd(ctx: typer.Context, file: Path = typer.Argument(..., help="A PDF, .txt or .md file."),
                chunks: bool = typer.Option(False, "--chunks", help="Also print the chunks."),
                as_json: bool = typer.Option(False, "--json", help="Print JSON.")):
    """Show how a document is read: its section tree (level, title, pages) and optionally its chunks."""
    from ingest.ocr_cache import OcrCache
    from ingest.pipeline import ingest_file

    c: Ctx = ctx.obj
    if not file.is_file():
        fail(f"{file}: not a file" if file.exists() else f"{file}: file not found")
    doc = ingest_file(file.resolve(), file.resolve().parent, c.settings.chunking,
                      ocr_cache=OcrCache(c.settings.index_dir / "cache" / "ocr"))  # scans the index read are not read again
    if as_json:
        print(json.dumps({
            "doc": doc.document.name,
            "ocr_pages": doc.document.ocr_pages,
            "sections": [{"level": s.level, "title": s.title, "path": s.path, "page_start": s.page_start,
                          "page_end": s.page_end} for s in doc.sections],
            "chunks": [{**ch.to_dict(), "section": ch.section} for ch in doc.chunks],
        }, ensure_ascii=False, indent=1))
        return
    ocr_pages = doc.document.ocr_pages
    out.print(f"[bold]{doc.document.name}[/]  {len(doc.document.pages)} pages, {len(doc.sections)} sections, "
              f"{len(doc.chunks)} chunks", highlight=False)
    if ocr_pages:
        out.print(f"OCR'd pages (no text layer): {page_list(ocr_pages)}", highlight=False)
    t = Table(show_header=True)
    t.add_column("lvl", justify="right")
    t.add_column("title")
    t.add_column("pages", justify="right")
    for s in doc.sections:
        t.add_row(str(s.level), "  " * max(s.level - 1, 0) + (s.title or "(preamble)"),
                  f"{s.page_start}" + (f"–{s.page_end}" if s.page_end != s.page_start else ""))
    out.print(t)
    if chunks:
        for ch in doc.chunks:
            pages = f"{ch.page}–{ch.page_end}" if ch.page_end != ch.page else f"{ch.page}"
            out.rule(f"{ch.id}  p.{pages}  {ch.lang}  {ch.section or '(preamble)'}")
            out.print(ch.text, highlight=False, markup=False)


# ---------------------------------------------------------------------------------- ask / chat


def print_sources(record: dict) -> None:
    for cdict in record.get("citations", []):
        out.print(f"  [{cdict['n']}] {cdict['doc']} › {cdict['section'] or '—'} › p.{cdict['page']}",
                  highlight=False, markup=False)


@contextmanager
def loading_status() -> Iterator[Status | None]:
    """What wpqa is doing, on a terminal, at once: before the answer chain's imports and the
    index and model loads (about 2 s); the status is stopped on the way out."""
    status = err.status("loading the index and the answer model…", spinner="dots") if err.is_terminal else None
    if status is not None:
        status.start()
    try:
        yield status
    finally:
        if status is not None:
            status.stop()


def answer_service(c: Ctx, llm: Optional[str], server: Optional[str], local: bool, quiet: bool = False):
    """A running `wpqa serve` for this index (`--server URL`, or found through the index folder)
    unless `--local`; None when there is none (the command then answers in its own process)."""
    from .client import find_server

    if local:
        if server:
            fail("--server and --local contradict each other; give one")
        return None
    remote = find_server(c.settings.index_dir, server, None if llm in (None, "auto") else llm,
                         c.settings.server.api_key_env)
    if remote is not None and not quiet and err.is_terminal:
        err.print(f"[dim]answered by wpqa serve at {escape(remote.url)}[/]", highlight=False)
    return remote


SERVER_OPTION = typer.Option(None, "--server", help="Ask this running `wpqa serve` (default: the one serving this "
                                                    "index, if any).")
LOCAL_OPTION = typer.Option(False, "--local", help="Answer in this process even when `wpqa serve` runs.")


@app.command("ask")
def ask_cmd(ctx: typer.Context, question: str = typer.Argument(..., help="The question, in Chinese or English."),
            as_json: bool = typer.Option(False, "--json", help="Print the batch record as JSON."),
            llm: Optional[str] = typer.Option(None, "--llm", help="auto | llama-cpp | openai | extractive"),
            k: int = typer.Option(0, "--k", help="Contexts to return (default retrieval.top_k)."),
            server: Optional[str] = SERVER_OPTION, local: bool = LOCAL_OPTION):
    """Answer one question with citations (document › section › page)."""
    c: Ctx = ctx.obj
    if not question.strip():
        fail("the question is empty")
    remote = answer_service(c, llm, server, local, quiet=as_json)
    if as_json:
        record = (remote or c.pipeline(llm)).ask(question.strip(), qid="ask", k=k)
        print(json.dumps(record, ensure_ascii=False, indent=1))
        return
    # the checked quotes as soon as retrieval is done, then the answer
    with loading_status() as status:
        from .display import show_answer

        if remote is not None:
            events = remote.turn(question.strip(), [], qid="ask", k=k)
        else:
            pipe = c.pipeline(llm)
            events = pipe.stream(question.strip(), qid="ask", k=k)
        if status is not None:
            status.update("searching…")
        show_answer(events, out, status)


@app.command("chat")
def chat_cmd(ctx: typer.Context,
             llm: Optional[str] = typer.Option(None, "--llm", help="auto | llama-cpp | openai | extractive"),
             server: Optional[str] = SERVER_OPTION, local: bool = LOCAL_OPTION):
    """Interactive chat: follow-up questions, streamed answers, /sources, /help, /quit."""
    c: Ctx = ctx.obj
    with loading_status():
        from .chat import ChatSession
        from .service import AnswerService

        service = answer_service(c, llm, server, local)
        if service is None:
            service = AnswerService(c, llm)
            service.pipeline()  # a missing index is said now, before the first prompt
        session = ChatSession(service, out)
    session.run()


# ---------------------------------------------------------------------------------- batch


@app.command("batch")
def batch_cmd(ctx: typer.Context, file: Path = typer.Argument(..., help="Questions: .txt (one a line), .jsonl or .csv."),
              output: Path = typer.Option(..., "-o", "--output", help="Answers: .jsonl (resumable), .csv or .md."),
              llm: Optional[str] = typer.Option(None, "--llm", help="auto | llama-cpp | openai | extractive"),
              server: Optional[str] = SERVER_OPTION, local: bool = LOCAL_OPTION):
    """Answer a file of questions. Rerunning skips ids already in the output; errors are recorded per question."""
    from .batch import append_record, check_writable, done_ids, open_journal, read_questions, read_records, \
        write_csv, write_markdown

    c: Ctx = ctx.obj
    questions, warnings = read_questions(file)
    for w in warnings:
        err.print(f"[yellow]warning:[/] {escape(w)}", highlight=False)
    fmt = output.suffix.lower()
    if fmt not in (".jsonl", ".csv", ".md"):
        fail(f"{output}: output must end in .jsonl, .csv or .md")
    # .csv and .md are rendered from a JSONL journal beside them, which is what makes them resumable
    journal = output if fmt == ".jsonl" else output.with_name(output.name + ".jsonl")
    check_writable(output)  # before any question is answered
    open_journal(journal)  # writable, no torn last line, no error records (those questions are asked again)
    done = done_ids(journal)
    todo = [q for q in questions if q.id not in done]
    if done:
        err.print(f"resuming: {len(questions) - len(todo)} of {len(questions)} already answered in "
                  f"{escape(journal.name)}", highlight=False)
    failures = 0
    if todo:
        pipe = answer_service(c, llm, server, local) or c.pipeline(llm)
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=err, disable=not err.is_terminal) as progress:
            task = progress.add_task("answering", total=len(todo))
            for q in todo:
                try:
                    record = pipe.ask(q.question, qid=q.id)
                except Exception as e:  # noqa: BLE001 - one failing question never stops the batch
                    failures += 1
                    record = {"id": q.id, "question": q.question, "answer": "", "abstained": False, "citations": [],
                              "contexts": [], "timings_ms": {}, "error": f"{type(e).__name__}: {e}".splitlines()[0]}
                    err.print(f"[yellow]warning:[/] {escape(file.name)}:{q.line}: {escape(record['error'])}",
                              highlight=False)
                append_record(journal, record)
                progress.advance(task)
    if fmt != ".jsonl":
        wanted = {q.id for q in questions}
        records = [r for r in read_records(journal) if r.get("id") in wanted]
        (write_csv if fmt == ".csv" else write_markdown)(output, records)
    out.print(f"{len(todo)} answered now, {len(questions) - len(todo)} already done, {failures} failed "
              f"→ {escape(str(output))}",
              highlight=False)
    if questions and failures == len(todo) and todo:
        raise typer.Exit(1)


# ---------------------------------------------------------------------------------- eval


@app.command("eval")
def eval_cmd(ctx: typer.Context, file: Path = typer.Argument(..., help="Eval set (see eval/README.md)."),
             as_json: bool = typer.Option(False, "--json", help="Print the scores as JSON."),
             llm: Optional[str] = typer.Option(None, "--llm", help="auto | llama-cpp | openai | extractive"),
             retrieval_only: bool = typer.Option(False, "--retrieval-only", help="Score retrieval only (no answers)."),
             no_translate: bool = typer.Option(False, "--no-translate", help="Do not translate questions for retrieval."),
             records: Optional[Path] = typer.Option(None, "--records", help="Also write every answer record (JSONL).")):
    """Score retrieval (hit@1, hit@5, MRR@10), citations, abstention, answer language and answer text
    (ref_recall, pure, clean, good against each question's reference answer) on an eval set."""
    from .batch import check_writable
    from .evaluate import load_eval_set, score_question, summarise

    c: Ctx = ctx.obj
    if records:
        check_writable(records)  # before any work
    items = load_eval_set(file)
    pipe = c.pipeline(llm, translate=False if no_translate else None)
    scores, latencies = [], []
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, disable=as_json or not err.is_terminal, transient=True) as progress:
        task = progress.add_task("evaluating", total=len(items))
        if records:
            records.write_text("", encoding="utf-8")
        for item in items:
            try:
                if retrieval_only:
                    res = pipe.searcher.search(item["question"], k=10)
                    ctxs = [{"doc": h.chunk.doc, "text": h.chunk.text, "section": h.chunk.section} for h in res.hits]
                    rec = None
                    latencies.append(res.timings_ms["total"])
                else:
                    rec = pipe.ask(item["question"], qid=item["id"], k=10)
                    ctxs = rec["contexts"]
                    latencies.append(rec["timings_ms"]["total"])
                    if records:  # written as it goes: a long run can be watched, and a killed one keeps its answers
                        with open(records, "a", encoding="utf-8") as f:
                            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            except WpqaError as e:
                raise WpqaError(f"{item['id']}: {e}") from e
            scores.append(score_question(item, ctxs, rec))
            progress.advance(task)
    table = summarise(scores)
    lat = sorted(latencies)
    summary = {"backend": pipe.backend_name, "translate": pipe.searcher.translator is not None,
               "retrieval_only": retrieval_only, "table": table,
               "latency_ms": {"p50": round(statistics.median(lat), 1) if lat else None,
                              "p95": round(lat[min(len(lat) - 1, int(0.95 * len(lat)))], 1) if lat else None},
               "questions": [asdict(s) for s in scores]}
    if as_json:
        print(json.dumps(summary, ensure_ascii=False, indent=1))
        return
    cols = ["n", "hit@1", "hit@5", "mrr@10", "cite_doc", "cite_section", "cited_any", "abstain_unanswerable",
            "answer_lang", "answered", "ref_recall", "pure", "clean", "good"]
    t = Table(title=f"wpqa eval: {file.name} (answers: {'none' if retrieval_only else pipe.backend_name}, "
                    f"translation: {'on' if summary['translate'] else 'off'})")
    t.add_column("kind")
    for col in cols:
        t.add_column(col, justify="right")
    for kind, row in table.items():
        t.add_row(kind, *["—" if row.get(col) is None else (f"{row[col]:.2f}" if isinstance(row[col], float) else str(row[col]))
                          for col in cols])
    out.print(t)
    out.print(f"latency per question: p50 {summary['latency_ms']['p50']} ms, p95 {summary['latency_ms']['p95']} ms",
              highlight=False)


# ---------------------------------------------------------------------------------- serve


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@app.command("serve")
def serve_cmd(ctx: typer.Context,
              host: Optional[str] = typer.Option(None, "--host", help="Address to listen on (default server.host, "
                                                                     "127.0.0.1). Off loopback an API key is required."),
              port: Optional[int] = typer.Option(None, "--port", help="Port (default server.port, 8000; 0: any free one)."),
              llm: Optional[str] = typer.Option(None, "--llm", help="auto | llama-cpp | openai | extractive")):
    """Serve the web page and the OpenAI-compatible API, with the index and models loaded once."""
    import errno
    import os
    import socket
    import threading

    from .server import Limits, Server, create_app, remove_server_file, write_server_file

    c: Ctx = ctx.obj
    s = c.settings.server
    host = host or s.host
    port = s.port if port is None else port
    if not 0 <= port <= 65535:
        fail(f"--port {port}: not a port number (0-65535)")
    key = os.environ.get(s.api_key_env) or None
    if not _is_loopback(host) and not key:
        fail(f"--host {host} listens beyond this machine: set {s.api_key_env} (server.api_key_env) to the API key "
             "clients must send")
    try:
        import uvicorn
    except ImportError:
        fail("uvicorn is not installed: pip install -e . (it is one of wpqa's dependencies)")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        reason = "address already in use (another `wpqa serve`? --port chooses another)" if e.errno == errno.EADDRINUSE else one_line(e)
        fail(f"{host}:{port}: cannot listen ({reason})")
    sock.listen(128)
    sock.set_inheritable(True)
    real_port = sock.getsockname()[1]
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "localhost") else ("[::1]" if host == "::" else
                                                                      (f"[{host}]" if ":" in host else host))
    url = f"http://{shown_host}:{real_port}"
    index_dir = c.settings.index_dir

    def announce_ready() -> None:
        pipe = server.service.pipeline()
        write_server_file(index_dir, url, pipe.backend_name, s.api_key_env if key else None)
        err.print(f"ready: {escape(server.service.generation_name or '')}, {len(pipe.searcher.gen.chunks)} chunks, "
                  f"answers by {pipe.backend_name}", highlight=False)

    def announce_failed(message: str) -> None:
        err.print(f"[yellow]not ready:[/] {escape(message)} (the page's Update index builds it)", highlight=False)

    server = Server(c, llm, api_key=key, limits=Limits(s.max_body_bytes, s.max_question_chars, s.max_waiting),
                    on_ready=announce_ready, on_failed=announce_failed)
    err.print(f"wpqa serve: {url}/  (API {url}/v1; loading the index and models…; Ctrl-C stops)", highlight=False)
    threading.Thread(target=server.load, name="wpqa-load", daemon=True).start()
    config = uvicorn.Config(create_app(server, s.cors_origins), log_level="warning", access_log=False,
                            timeout_graceful_shutdown=3)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn shut down cleanly, then passed Ctrl-C on
        pass
    finally:
        remove_server_file(index_dir)
        sock.close()


# ---------------------------------------------------------------------------------- status


@app.command("status")
def status_cmd(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print JSON.")):
    """Show the index: documents, chunks per language, model, size on disk, last build, skipped files."""
    from .status import read_status

    c: Ctx = ctx.obj
    info = read_status(c.settings.index_dir)
    gen = info["generation"]
    if as_json:
        print(json.dumps(info, ensure_ascii=False, indent=1))
        return
    st = info["chunks"]
    out.print(f"[bold]index[/] {escape(info['index_dir'])} ({gen}), built {info['built']}", highlight=False)
    store = info["vector_store"] + (f" {info['milvus']['uri']} › {info['milvus']['collection']}" if info["milvus"] else "")
    out.print(f"model {info['embedding']['model_id']} ({info['dim']}-d, {info['vector_index']}, {store}), chunking "
              + ", ".join(f"{k}={v}" for k, v in info['chunking'].items()), highlight=False)
    out.print(f"{len(info['documents'])} documents, {st.get('chunks', 0)} chunks (zh {st.get('zh', 0)}, "
              f"en {st.get('en', 0)}), {info['size_bytes'] / 1e6:.1f} MB on disk "
              f"(+ {info['cache_bytes'] / 1e6:.1f} MB embedding cache)", highlight=False)
    t = Table()
    t.add_column("document")
    t.add_column("pages", justify="right")
    t.add_column("chunks", justify="right")
    t.add_column("OCR'd pages")
    t.add_column("also named")
    for name, d in sorted(info["documents"].items()):
        t.add_row(escape(name), str(d.get("pages", "")), str(d.get("chunks", "")), page_list(d.get("ocr_pages", [])),
                  escape(", ".join(d.get("aliases", []))))
    out.print(t)
    for x in info["skipped"]:
        out.print(f"[yellow]skipped:[/] {escape(x['name'])}: {escape(x['reason'])}", highlight=False)


if __name__ == "__main__":  # pragma: no cover
    app()
