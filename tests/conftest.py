"""Session fixtures: one real index of the bundled corpus, shared by the tests that only read it."""
from __future__ import annotations

import os
import shutil

import pytest

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# grpc (the Milvus client) installs fork handlers that restart its pollers in a forked child;
# pexpect forks this process to start `wpqa chat` after the Milvus tests have loaded grpc, and
# the child's poller then fails on descriptors the pty set-up closed ("Epoll1Poller epoll_wait
# error: Bad file descriptor") before the chat starts. The tests never use grpc across a fork.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

from tests.helpers import CORPUS, wpqa, write_config  # noqa: E402


@pytest.fixture(scope="session")
def corpus_index(tmp_path_factory) -> dict:
    """The five corpus PDFs indexed with the default configuration (real e5, FAISS, BM25)."""
    tmp = tmp_path_factory.mktemp("corpus_index")
    corpus = tmp / "corpus"
    shutil.copytree(CORPUS, corpus)
    cfg = write_config(tmp / "config.toml")
    index = tmp / "index"
    wpqa("--config", str(cfg), "--corpus", str(corpus), "--index-dir", str(index), "index")
    return {"tmp": tmp, "corpus": corpus, "index": index, "cfg": cfg,
            "args": ["--config", str(cfg), "--corpus", str(corpus), "--index-dir", str(index)]}


def pytest_collection_modifyitems(config, items):
    """Model-heavy tests run last, so a quick failure elsewhere shows first."""
    items.sort(key=lambda it: 1 if it.get_closest_marker("llm") else 0)
