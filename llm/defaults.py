"""Defaults of the answer-model layer, importable without loading LangChain or llama.cpp
(the settings model refers to them)."""

BACKENDS = ("llama-cpp", "openai", "extractive", "auto")

# Measured on the 2-core target (see llm/llamacpp.py): 2 threads, llama.cpp's own batch size.
DEFAULT_N_THREADS = 2
DEFAULT_N_CTX = 2048
DEFAULT_N_BATCH = 512

# OpenAI-compatible servers: seconds per request, and retries of connection errors, 408/409/429, 5xx.
DEFAULT_OPENAI_TIMEOUT = 120.0
DEFAULT_OPENAI_MAX_RETRIES = 2
