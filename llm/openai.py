"""Any OpenAI-compatible server (llama.cpp's, vLLM, Ollama, hosted APIs) as langchain-openai's ChatOpenAI.

The client is built once per backend from the ``[llm.openai]`` settings: base URL, model name,
the name of the environment variable holding the API key, timeout and retries (the openai
client retries connection errors, 408/409/429 and 5xx with backoff).
"""
from __future__ import annotations

import os
from typing import Any

from langchain_openai import ChatOpenAI

from .defaults import DEFAULT_OPENAI_MAX_RETRIES as DEFAULT_MAX_RETRIES
from .defaults import DEFAULT_OPENAI_TIMEOUT as DEFAULT_TIMEOUT
from .errors import LLMError

NO_KEY = "not-needed"  # local servers take any key; the openai client insists on one


def openai_base_url(url: str) -> str:
    """The API root ending in ``/v1``: ``http://h:8000``, ``http://h:8000/v1`` and
    ``http://h:8000/v1/chat/completions`` all name the same server."""
    base = str(url or "").strip().rstrip("/")
    if base.endswith("/chat/completions"):
        base = base[: -len("/chat/completions")]
    return base if base.endswith("/v1") else base + "/v1"


class OpenAICompatibleChat(ChatOpenAI):
    """ChatOpenAI that sends the reply limit as ``max_tokens``. ChatOpenAI renames it
    ``max_completion_tokens`` (OpenAI's newer name), which OpenAI-compatible servers such as
    llama-cpp-python's ignore, so replies ran on to the end of the context; those servers and
    OpenAI's non-reasoning chat models take ``max_tokens``."""

    def _get_request_payload(self, input_: Any, *, stop: list[str] | None = None, **kwargs: Any) -> dict:
        payload = super()._get_request_payload(input_, stop=stop, **kwargs)
        if "max_completion_tokens" in payload:
            payload["max_tokens"] = payload.pop("max_completion_tokens")
        return payload


def make_openai_chat(base_url: str, model: str, api_key_env: str | None = None, *,
                     timeout: float = DEFAULT_TIMEOUT, max_retries: int = DEFAULT_MAX_RETRIES, **fields: Any):
    """A ChatOpenAI (``OpenAICompatibleChat``) for ``model`` at ``base_url``; the key is read
    from the variable named ``api_key_env`` (none set: a placeholder, which local servers
    ignore). ``fields`` go to ChatOpenAI as they are (``temperature``, ``max_tokens``, ...)."""
    if not str(base_url or "").strip() or not str(model or "").strip():
        raise LLMError("openai backend needs settings base_url and model ([llm.openai] in config.toml)")
    key = os.environ.get(api_key_env) if api_key_env else None
    return OpenAICompatibleChat(model=model, base_url=openai_base_url(base_url), api_key=key or NO_KEY,
                                timeout=float(timeout), max_retries=int(max_retries), **fields)


def _one_line(text: Any, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def llm_error(model: Any, exc: BaseException) -> LLMError | None:
    """The one-line LLMError for a failure of the openai client (or its httpx transport), naming
    the URL it called; None for anything else."""
    if not any(c.__module__.split(".")[0] in ("openai", "httpx") for c in type(exc).__mro__):
        return None  # (langchain-openai re-raises the openai client's errors as subclasses of them)
    url = (str(getattr(model, "openai_api_base", None) or "") or "the OpenAI-compatible server").rstrip("/")
    url += "/chat/completions" if url.startswith("http") else ""
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return LLMError(f"{url}: timed out after {getattr(model, 'request_timeout', None) or DEFAULT_TIMEOUT:g}s")
    if isinstance(exc, openai.APIConnectionError):
        cause = exc
        while cause.__cause__ is not None:  # the transport's own reason: "[Errno 111] Connection refused"
            cause = cause.__cause__
        return LLMError(f"{url}: connection failed ({_one_line(cause) or 'connection refused'})")
    if isinstance(exc, openai.APIStatusError):
        return LLMError(f"{url}: HTTP {exc.status_code}: {_one_line(exc.message)}")
    return LLMError(f"{url}: {type(exc).__name__}: {_one_line(exc)}")
