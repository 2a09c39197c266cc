"""Chunks -> vectors, lexical index, chunk store, manifest."""
import os as _os

# faiss, the e5 engine and llama.cpp each bring an OpenMP runtime; with the default (active)
# wait policy their idle threads spin and starve each other: a 4 s answer took 50 s. Set before
# any of them loads.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
