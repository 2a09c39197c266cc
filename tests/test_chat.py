"""`wpqa chat` driven through a real pseudo-terminal (pexpect)."""
from __future__ import annotations

import os
import sys

import pexpect
import pytest

from wpqa.chat import looks_like_follow_up
from tests.helpers import ROOT


def spawn(args: list[str], llm: str) -> pexpect.spawn:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "160", "TERM": "dumb"}
    child = pexpect.spawn(sys.executable, ["-m", "wpqa.cli", *args, "chat", "--llm", llm], cwd=str(ROOT), env=env,
                          encoding="utf-8", timeout=240, dimensions=(50, 160))
    child.expect("wpqa chat")
    child.expect("you> ")
    return child


def test_follow_up_detection():
    assert looks_like_follow_up("What about its members?")
    assert looks_like_follow_up("那它的成员有哪些？")
    assert not looks_like_follow_up("What initiative on international data transfers did China launch in November 2024?")


def test_chat_extractive_session(corpus_index):
    child = spawn(corpus_index["args"], "extractive")
    child.sendline("/help")
    child.expect("/sources")
    child.expect("you> ")
    child.sendline("APEC设立了哪些机构来推进电子商务和数字经济合作？")
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
    child.sendline("What initiative on international data transfers did China launch in November 2024?")
    child.expect("Sources:", timeout=300)
    child.expect("Leading the Development of International Rules for the Digital Economy.pdf")
    child.expect("you> ")
    child.sendline("What kind of environment does it promote?")
    child.expect(r"\(understood as: ([^)]*)\)", timeout=300)
    rewritten = child.match.group(1)
    assert "data" in rewritten.lower() or "initiative" in rewritten.lower(), rewritten
    child.expect("Sources:", timeout=300)
    child.expect("Leading the Development")
    child.expect("you> ")
    child.sendline("/quit")
    child.expect("bye")
    child.expect(pexpect.EOF)
