"""Text pieces from any LangChain chat model (or runnable ending in one), for wpqa's prompts.

wpqa passes its generation limits (``max_tokens``, ``temperature``) to the models it knows take
them per call: its own ChatLlamaCpp and langchain-openai's ChatOpenAI. Any other chat model a
user constructs answers with the settings it was built with, because models differ in what
per-call arguments they accept (Ollama's is ``num_predict``, and unknown ones can be errors).
"""
from __future__ import annotations

from typing import Any, Iterator

from common.errors import WpqaError


def innermost_model(model: Any) -> Any:
    """The chat model under any `.bind(...)` wrappers."""
    while hasattr(model, "bound") and hasattr(model, "kwargs"):  # RunnableBinding from .bind(...)
        model = model.bound
    return model


def is_openai_chat(model: Any) -> bool:
    """Whether ``model`` is a langchain-openai chat model (checked without importing it)."""
    return any(c.__module__.startswith("langchain_openai") for c in type(innermost_model(model)).__mro__)


def takes_generation_limits(model: Any) -> bool:
    """Whether wpqa passes max_tokens and temperature to this model per call."""
    return getattr(innermost_model(model), "backend", None) == "llama-cpp" or is_openai_chat(model)


def _piece(chunk: Any) -> str:
    if isinstance(chunk, str):
        return chunk
    content = getattr(chunk, "content", "")
    if isinstance(content, str):
        return content
    return "".join(p if isinstance(p, str) else str(p.get("text", "")) for p in content or []
                   if isinstance(p, str) or p.get("type") == "text")


def stream_text(model: Any, messages: list, *, max_tokens: int, temperature: float = 0.0) -> Iterator[str]:
    """Stream ``model``'s reply to ``messages`` (role/content dicts or LangChain messages) as text
    pieces. Failures of the openai client become a one-line ``LLMError`` naming the URL."""
    kwargs = {"max_tokens": max_tokens, "temperature": temperature} if takes_generation_limits(model) else {}
    try:
        for chunk in model.stream(messages, **kwargs):
            piece = _piece(chunk)
            if piece:
                yield piece
    except WpqaError:
        raise
    except Exception as e:
        from .openai import llm_error

        mapped = llm_error(innermost_model(model), e)
        if mapped is None:
            raise
        raise mapped from e

