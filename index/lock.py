"""The writer's lock: one `wpqa index` at a time per index directory."""
from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from .errors import IndexBusy

LOCK = "index.lock"


class IndexLock:
    """An exclusive flock on index.lock. The kernel releases it when its process dies, so a lock
    left by a killed `wpqa index` is stale by construction: the next run takes it and says so."""

    def __init__(self, index_dir: Path, wait: float = 0.0):
        self.path = index_dir / LOCK
        self.wait = wait
        self.fd: int | None = None
        self.stale_from: str | None = None

    def __enter__(self) -> "IndexLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(str(self.path), os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
                    os.close(fd)
                    raise IndexBusy(f"another `wpqa index` is running ({holder or 'unknown process'}); "
                                    "wait for it to finish") from None
                time.sleep(0.2)
        previous = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
        if previous:
            pid = previous.split()[0].removeprefix("pid=")
            if pid.isdigit() and not process_alive(int(pid)):
                self.stale_from = previous
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid={os.getpid()} since={time.strftime('%Y-%m-%dT%H:%M:%S')}".encode(), 0)
        self.fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def process_alive(pid: int) -> bool:
    """Whether process `pid` runs on this machine (owned by anyone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
