"""A real `wpqa serve` in a subprocess on loopback, for the server and browser tests."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time

import httpx

from tests.helpers import ROOT


class Served:
    """`python -m wpqa.cli ARGS serve --port 0 EXTRA`: started, waited for until /healthz says
    ready, stopped with Ctrl-C (SIGINT) by `stop()`."""

    def __init__(self, args: list[str], extra: list[str] = (), env: dict | None = None, ready_timeout: float = 300):
        e = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200", **(env or {})}
        self.proc = subprocess.Popen([sys.executable, "-m", "wpqa.cli", *args, "serve", "--port", "0", *extra],
                                     cwd=ROOT, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self._url = threading.Event()
        self.url = ""
        threading.Thread(target=self._drain, daemon=True).start()
        threading.Thread(target=lambda: self.proc.stdout.read(), daemon=True).start()
        if not self._url.wait(60):
            self.stop()
            raise AssertionError("wpqa serve printed no address:\n" + "".join(self.lines))
        deadline = time.time() + ready_timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("wpqa serve exited:\n" + "".join(self.lines))
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise AssertionError("wpqa serve never became ready:\n" + "".join(self.lines))

    def _drain(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line)
            m = re.search(r"wpqa serve: (http://\S+?)/ ", line)
            if m:
                self.url = m.group(1)
                self._url.set()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode

    @property
    def log(self) -> str:
        return "".join(self.lines)


def sse_events(text: str) -> list[tuple[str, str]]:
    """(event, data) of a server-sent event stream body; comment lines are kept as ("comment", text)."""
    out = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        if not block.strip():
            continue
        event, data = "message", []
        for line in block.split("\n"):
            if line.startswith(":"):
                out.append(("comment", line[1:].strip()))
            elif line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip())
        if data:
            out.append((event, "\n".join(data)))
    return out


def wait_until(check, timeout: float = 60, every: float = 0.3):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("condition not met in time")

