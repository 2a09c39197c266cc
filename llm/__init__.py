"""Answer models: the bundled GGUF model's distribution and the LangChain chat models wpqa answers with.

    bundled    the 22-part model assembly: join, size + SHA-256 check, stamp, file lock
    llamacpp   ChatLlamaCpp: the bundled (or any GGUF) model in process, a LangChain BaseChatModel
    openai     ChatOpenAI (langchain-openai) for any OpenAI-compatible server, built from config
    factory    make_chat_model(name, settings, data_dir) -> (model | None, notice | None)
    stream     stream_text(model, messages, max_tokens): text pieces from any LangChain chat model
    defaults   backend names, llama.cpp and OpenAI client defaults (no heavy imports)

Importing this package is light: the modules load llama.cpp, openai and the part packages only
when they are used. Errors are `LLMError` and `ModelError` (both `common.errors.WpqaError`).
"""
from .errors import LLMError, ModelError

__all__ = ["LLMError", "ModelError"]
