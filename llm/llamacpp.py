"""A GGUF model run in process by llama-cpp-python, as a LangChain chat model.

Why not langchain-community's ``ChatLlamaCpp``: it loads its own ``llama_cpp.Llama`` in its
constructor (1.3 s and a fresh KV cache per instance, and the community package is not a
runtime dependency), has no lock around a context that cannot serve two generations at once,
and cannot give question translation its own context. This adapter keeps what wpqa measured it
needs:

- one ``Llama`` per (file, load options, slot) per process, loaded on first use, so a chat, a
  batch or a second chain object reuses the loaded model;
- the fixed system prompt stays evaluated: llama.cpp reuses the KV cache of the common prefix
  of consecutive prompts in one context, and ``with_slot("translate")`` gives translation its
  own context (the weights are memory-mapped once), so translating a question and answering it
  never evict each other's prefix;
- each kind of prompt keeps its fixed part (system prompt, examples) evaluated in a shared
  context too: the context's state is saved per kind and restored when the kind changes
  (``llm.prefix_states``);
- ``max_tokens``, ``temperature`` and ``stop`` as fields, bound (``.bind(max_tokens=80)``) or
  passed per call (``.invoke(msgs, max_tokens=80)``).

Speed on the 2-core target (AMD EPYC Zen 1, AVX2, llama-cpp-python 0.3.36, idle machine):
prompt eval ~17-19 tokens/s and generation ~9 tokens/s with 2 threads; load 1.3 s from a warm
page cache. n_batch 32..512, flash_attn and a Q8_0 K cache measured within noise of each
other, so llama.cpp's own defaults stay. A ~400-token prompt costs ~20-25 s before the first
token: keep prompts small.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, ClassVar, Iterator

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import model_validator

from .defaults import DEFAULT_N_BATCH, DEFAULT_N_CTX, DEFAULT_N_THREADS
from .errors import LLMError, ModelError
from .prefix_states import PrefixStates, fixed_part
from .queue import GENERATION_QUEUE


_MODEL_CACHE: dict[tuple, Any] = {}  # loaded llama_cpp.Llama objects of this process, by ChatLlamaCpp._key
_MODEL_LOCKS: dict[tuple, threading.Lock] = {}
_MODEL_BUSY: dict[tuple, int] = {}  # key -> thread generating on it
_PREFIX_STATES: dict[tuple, PrefixStates] = {}  # key -> the context's saved state per kind of prompt
_CACHE_LOCK = threading.Lock()

_ROLES = {"system": "system", "human": "user", "ai": "assistant", "tool": "tool", "function": "function"}


def loaded_models() -> int:
    """How many llama.cpp contexts this process holds (one per model, options and slot)."""
    with _CACHE_LOCK:
        return len(_MODEL_CACHE)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(p if isinstance(p, str) else str(p.get("text", "")) for p in content or [])


def to_llama_messages(messages: list[BaseMessage]) -> list[dict]:
    """LangChain messages as llama.cpp's chat messages (role, text content)."""
    out = []
    for m in messages:
        role = getattr(m, "role", None) if m.type == "chat" else _ROLES.get(m.type)
        if role is None:
            raise LLMError(f"llama.cpp chat: unsupported message type {m.type!r}")
        out.append({"role": role, "content": _text(m.content)})
    return out


class ChatLlamaCpp(BaseChatModel):
    """The bundled (or any) GGUF chat model in process; its chat template comes from the GGUF
    metadata (ChatML for Qwen2.5). ``ChatLlamaCpp(model_path=...)`` costs nothing until the
    first generation loads the model."""

    model_path: Path
    n_threads: int = DEFAULT_N_THREADS
    n_ctx: int = DEFAULT_N_CTX
    n_batch: int = DEFAULT_N_BATCH
    seed: int = 0
    flash_attn: bool = False
    type_k: int | None = None
    type_v: int | None = None
    slot: str = "answer"  # the llama.cpp context this model generates in (see with_slot)
    max_tokens: int = 256
    temperature: float = 0.0
    stop: list[str] | None = None
    verbose: bool = False

    backend: ClassVar[str] = "llama-cpp"  # the name answer records give

    @model_validator(mode="after")
    def _default_name(self) -> "ChatLlamaCpp":
        if self.name is None:
            self.name = f"llama-cpp:{Path(self.model_path).name}"
        return self

    @property
    def _llm_type(self) -> str:
        return "wpqa-llama-cpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_path": str(self.model_path), "n_ctx": self.n_ctx, "n_threads": self.n_threads,
                "slot": self.slot, "max_tokens": self.max_tokens, "temperature": self.temperature}

    # ---------------------------------------------------------------- the loaded model
    @property
    def _key(self) -> tuple:
        return (str(Path(self.model_path).resolve()), self.n_ctx, self.n_threads, self.n_batch, self.flash_attn,
                self.type_k, self.type_v, self.slot)

    def with_slot(self, slot: str) -> "ChatLlamaCpp":
        """The same model in its own llama.cpp context. The weights are memory-mapped, so a second
        context costs its KV cache and buffers, and each context keeps its fixed prompt prefix
        (system prompt, examples) evaluated."""
        return self.model_copy(update={"slot": slot})

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
            raise LLMError("llama-cpp-python is not installed: pip install 'wpqa[llm]'") from e
        path = Path(self.model_path)
        if not path.is_file():
            raise ModelError(f"model file not found: {path}")
        kwargs: dict[str, Any] = dict(
            model_path=str(path), n_ctx=self.n_ctx, n_threads=self.n_threads, n_threads_batch=self.n_threads,
            n_batch=self.n_batch, seed=self.seed, verbose=self.verbose, flash_attn=self.flash_attn,
        )
        if self.type_k is not None:
            kwargs["type_k"] = self.type_k
        if self.type_v is not None:
            kwargs["type_v"] = self.type_v
        try:
            llama = llama_cpp.Llama(**kwargs)
        except Exception as e:  # llama-cpp raises ValueError on a bad file
            raise LLMError(f"cannot load model {path}: {e}") from e
        with _CACHE_LOCK:
            _MODEL_CACHE.setdefault(key, llama)
            return _MODEL_CACHE[key]

    # ---------------------------------------------------------------- generation
    def _pieces(self, messages: list[BaseMessage], stop: list[str] | None, **kwargs: Any) -> Iterator[str]:
        llama = self.load()
        key = self._key
        lock = _MODEL_LOCKS[key]
        me = threading.get_ident()
        if _MODEL_BUSY.get(key) == me:
            raise LLMError(f"{self.name}: a generation is already running in this thread; finish or close it first")
        max_tokens = kwargs.pop("max_tokens", self.max_tokens)
        temperature = kwargs.pop("temperature", self.temperature)
        stop = stop if stop is not None else kwargs.pop("stop", None) or self.stop
        chat = to_llama_messages(messages)
        fixed = fixed_part(chat)
        # one generation of the process at a time, in arrival order (llm.queue), a question's
        # translation (short; its retrieval waits on it) before answers; and one llama context
        # cannot serve two generations at once
        with GENERATION_QUEUE.slot(priority=0 if self.slot == "translate" else 1), lock:
            _MODEL_BUSY[key] = me
            states = _PREFIX_STATES.setdefault(key, PrefixStates())
            states.before(llama, fixed)  # this kind of prompt's fixed part, evaluated before
            try:
                chunks = llama.create_chat_completion(
                    messages=chat, max_tokens=max_tokens, temperature=temperature,
                    stop=list(stop or []), stream=True, seed=self.seed, **kwargs)
                for chunk in chunks:
                    choices = chunk.get("choices") or []
                    piece = (choices[0].get("delta") or {}).get("content") if choices else None
                    if piece:
                        yield piece
            except ValueError as e:  # e.g. "Requested tokens (N) exceed context window of M"
                raise LLMError(f"{self.name}: {e}") from e
            finally:
                states.after(llama, fixed)
                _MODEL_BUSY.pop(key, None)

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        for piece in self._pieces(messages, stop, **kwargs):
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
            if run_manager:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        text = "".join(self._pieces(messages, stop, **kwargs))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])
