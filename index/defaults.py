"""Defaults of the index layer, importable without loading FAISS, numpy or the embedding models:
the index code and the settings model (wpqa/settings.py) both refer to them."""

VECTOR_INDEX = "auto"  # "flat" | "hnsw" | "auto" (hnsw when the largest language partition has more than HNSW_ABOVE chunks)
HNSW_ABOVE = 90000  # measured in bench/REPORT.md
HNSW_EF_SEARCH = 128  # HNSW search breadth at load time (FAISS and Milvus)
VECTOR_STORE = "faiss"  # "faiss" | "milvus"
EMBED_THREADS = 2  # threads of the e5 engine
EMBED_BATCH = 16  # texts per embedding call
