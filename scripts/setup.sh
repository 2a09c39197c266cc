#!/usr/bin/env bash
# Install wpqa into .venv and run the main job on the bundled corpus:
# index corpus/ and answer one question in each language.
#   bash scripts/setup.sh            install + index + two sample questions
#   bash scripts/setup.sh --install  install only
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip wheel setuptools
# torch first, pinned: pip takes the CPU build that lies on this machine's disk instead of a
# CUDA build of several GB (sentence-transformers would otherwise pull one in).
python -m pip install -q "torch==2.13.0"
# llama-cpp-python is compiled from source on first install into .venv (5-10 minutes on 2
# cores); a .venv that has it skips the build. It is built with ggml's own thread pool
# instead of OpenMP: under OMP_WAIT_POLICY=PASSIVE (which wpqa sets so that faiss, the e5 engine
# and llama.cpp do not starve each other) the OpenMP build writes ~40% slower.
# It is built for this machine's CPU (-march=native) but without AMX: on a virtual machine whose
# CPU lists AMX (Xeon Sapphire Rapids) ggml's AMX kernels died with SIGILL ("Illegal instruction",
# `tilezero`) in the first long prompt. Not from pip's wheel cache, which knows no build flags: a
# wheel cached by an earlier build (other flags) would be taken as is.
NO_AMX=""
if [ "$(uname -m)" = x86_64 ]; then
  NO_AMX="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
fi
CFLAGS="${CFLAGS:-} $NO_AMX" CXXFLAGS="${CXXFLAGS:-} $NO_AMX" CMAKE_ARGS="${CMAKE_ARGS:--DGGML_OPENMP=OFF}" \
  python -m pip install -q --no-cache-dir "llama-cpp-python[server]==0.3.36"
python -m pip install -q -e ".[llm,milvus,ocr,dev]"
echo "installed: $(wpqa --help >/dev/null && echo wpqa) into .venv"
if [ "${1:-}" = "--install" ]; then
  exit 0
fi
wpqa index
wpqa status
wpqa ask "世贸组织框架下关于电子商务的诸边谈判是何时正式启动的？"
wpqa ask "What did China launch to promote cross-border data flows?"
