"""File-system helpers for writing an index safely, and the crash-test failpoints."""
from __future__ import annotations

import os
import signal
from pathlib import Path


def failpoint(name: str) -> None:
    """Crash-test hook: `WPQA_FAILPOINT=name` makes the process SIGKILL itself here;
    `WPQA_FAILPOINT=name:raise` raises a RuntimeError instead (an unexpected error at that point)."""
    point = os.environ.get("WPQA_FAILPOINT")
    if point == name:
        os.kill(os.getpid(), signal.SIGKILL)
    if point == f"{name}:raise":
        raise RuntimeError(f"failpoint {name}")


def fsync_dir(path: Path) -> None:
    fd = os.open(str(path), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(folder: Path) -> None:
    """Flush every file under `folder`, then the folder itself."""
    for p in folder.rglob("*"):
        if p.is_file():
            with open(p, "rb") as f:
                os.fsync(f.fileno())
    fsync_dir(folder)


def write_atomic(path: Path, data: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)
