"""`wpqa chat` driven through a real pseudo-terminal (pexpect)."""
from __future__ import annotations

import os
import sys

import pexpect
import pytest

from qa.followup import looks_like_follow_up
from tests.helpers import OTHERS, ROOT, SMALL_CORPUS, small_corpus, wpqa, write_config


def spawn(args: list[str], llm: str) -> pexpect.spawn:
    """`wpqa ARGS chat --llm LLM` in a pseudo-terminal, at its first prompt."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "160", "TERM": "dumb"}
    child = pexpect.spawn(sys.executable, ["-m", "wpqa.cli", *args, "chat", "--llm", llm], cwd=str(ROOT), env=env,
                          encoding="utf-8", timeout=240, dimensions=(50, 160))
    child.expect("wpqa chat")
    child.expect("you> ")
    return child


def test_follow_up_detection():
    assert looks_like_follow_up("What about its members?")
    assert looks_like_follow_up("那它的成员有哪些？")
    for q in ["What is the name of the initiative on cross-border data flows China put forward in November 2024?",
              "2024年11月中国发起的全球数据跨境流动合作倡议鼓励什么？"]:
        assert not looks_like_follow_up(q), q


@pytest.mark.slow
def test_chat_extractive_session(corpus_index):
    child = spawn(corpus_index["args"], "extractive")
    child.sendline("/help")
    child.expect("/sources")
    child.expect("you> ")
    child.sendline("亚太经合组织内部负责讨论电子商务议题、协调合作的是哪些小组？")
    child.expect("来源：")
    child.expect(r"全球数字治理白皮书\(2020年\)\.pdf › .*（三）亚太经合组织")
    child.expect("you> ")
    child.sendline("/sources")
    child.expect("“")  # quotes shown with /sources
    child.expect("you> ")
    child.sendline("/nonsense")
    child.expect("unknown command")
    child.expect("you> ")
    child.sendcontrol("c")  # Ctrl-C at the prompt: a new prompt, not an exit
    child.expect("you> ")
    child.sendcontrol("d")  # Ctrl-D leaves
    child.expect("bye")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


@pytest.mark.llm
def test_chat_llm_follow_up_streams_and_cites(corpus_index):
    child = spawn(corpus_index["args"], "llama-cpp")
    child.sendline("What is the name of the initiative on cross-border data flows China put forward in November 2024?")
    child.expect("Sources:", timeout=300)
    child.expect("Leading the Development of International Rules for the Digital Economy.pdf")
    child.expect("you> ")
    # a follow-up that names neither the data nor the initiative: the rewrite must bring them in
    child.sendline("What does it encourage?")
    child.expect(r"\(understood as: ([^)]*)\)", timeout=300)
    rewritten = child.match.group(1)
    assert "data" in rewritten.lower() or "initiative" in rewritten.lower(), rewritten
    child.expect("Sources:", timeout=300)
    child.expect("Leading the Development")
    child.expect("you> ")
    child.sendline("/quit")
    child.expect("bye")
    child.expect(pexpect.EOF)


@pytest.mark.slow
def test_chat_reports_a_backend_error_and_goes_on(tmp_path):
    """The answer model's server is down (nothing listens on port 9): each question gets one error
    line, the chat goes on, and /quit leaves normally."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in OTHERS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    cfg = write_config(tmp_path / "config.toml", SMALL_CORPUS + '[llm.openai]\nbase_url = "http://127.0.0.1:9/v1"\n'
                                                               "max_retries = 0\ntimeout = 5.0\n")
    args = ["--config", str(cfg), "--corpus", str(corpus), "--index-dir", str(tmp_path / "index")]
    wpqa(*args, "index")
    child = spawn(args, "openai")
    for question in ("What do apple growers in Vellmark pay a levy for?", "When does the Lindholm tram run?"):
        child.sendline(question)
        child.expect(r"error: [^\r\n]*127\.0\.0\.1:9[^\r\n]*\r\n")
        assert "Traceback" not in child.before
        child.expect("you> ")
        assert "Traceback" not in child.before
    child.sendline("/quit")
    child.expect("bye")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


@pytest.mark.slow
def test_an_open_chat_answers_from_a_report_indexed_in_another_shell(tmp_path):
    """A report added to the corpus and indexed from a second shell is found by the next
    question of a chat that was already open."""
    corpus, args = small_corpus(tmp_path)
    child = spawn(args, "extractive")
    child.sendline("When does the Osterby ferry cross to Mull Island?")
    child.expect("you> ")
    assert "ferries.md" not in child.before
    (corpus / "ferries.md").write_text("# Ferry crossings\n\nThe Osterby ferry crosses to Mull Island twice a day "
                                       "in winter.\n", encoding="utf-8")
    wpqa(*args, "index")  # the second shell
    child.sendline("When does the Osterby ferry cross to Mull Island?")
    child.expect(r"ferries\.md › Ferry crossings")
    child.expect("you> ")
    child.sendline("/quit")
    child.expect(pexpect.EOF)
