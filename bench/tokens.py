"""Prompt and generation speed of the bundled model in one llama-cpp-python build, in this process.

    python -m bench.tokens --model GGUF --out FILE [--threads 2] [--new 64] [--repeats 3]

Run by `bench.answers` once per (build, OMP_WAIT_POLICY): the policy is read when the OpenMP
runtime loads, so it must be in the environment before this process starts, and a build other
than the installed one comes first on PYTHONPATH. Tokens are counted exactly: the prompt is
tokenized, evaluated once (prompt tokens/s to the first generated token), then `--new` tokens are
generated greedily one by one (generation tokens/s between the first and the last), whatever they
are, so every run does the same work.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from .common import loadavg, write_json

# a real answer prompt of the size wpqa sends (system rules, two evidence passages, the question)
PROMPT = (
    "<|im_start|>system\nAnswer the question from the numbered sources only, in one or two sentences, "
    "in English, citing sources as [n]. If the sources do not answer it, write NOT_FOUND.<|im_end|>\n"
    "<|im_start|>user\nSources:\n[1] 2019年1月，76个世贸组织成员签署《关于电子商务的联合声明》，确认有意在世贸组织"
    "现有协定和框架基础上，启动与贸易有关的电子商务议题谈判。谈判议题涵盖电子商务便利化、开放和电子商务、信任和"
    "电子商务、交叉问题、电信、市场准入等六大类。\n[2] The G20 and the OECD have made more headway on digital "
    "governance than the WTO talks, because their members agree on principles before rules, and soft commitments "
    "let members move at different speeds on data flows, privacy and digital taxation.\n"
    "Question: When did the WTO members launch the plurilateral e-commerce negotiations, and how many took part?"
    "<|im_end|>\n<|im_start|>assistant\n"
)


def openmp_loaded() -> bool:
    """Whether an OpenMP runtime (libgomp / libomp) is mapped into this process."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return False
    return "libgomp" in maps or "libomp" in maps


def one_run(llama, tokens: list[int], new: int) -> dict:
    llama.reset()
    t0 = time.perf_counter()
    stamps = []
    for _tok in llama.generate(tokens, temp=0.0, top_k=1, reset=True):
        stamps.append(time.perf_counter())
        if len(stamps) >= new:
            break
    prompt_s = stamps[0] - t0
    gen_s = stamps[-1] - stamps[0]
    return {"prompt_tok_s": round(len(tokens) / prompt_s, 2),
            "gen_tok_s": round((len(stamps) - 1) / gen_s, 2) if gen_s > 0 else None}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--new", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    import llama_cpp

    load0 = loadavg()
    t = time.perf_counter()
    llama = llama_cpp.Llama(model_path=a.model, n_ctx=2048, n_threads=a.threads, n_threads_batch=a.threads,
                            n_batch=512, verbose=False)
    load_s = time.perf_counter() - t
    tokens = llama.tokenize(PROMPT.encode("utf-8"), add_bos=False, special=True)
    one_run(llama, tokens, 8)  # warm-up: pages in the weights
    runs = [one_run(llama, tokens, a.new) for _ in range(a.repeats)]
    write_json(Path(a.out), {
        "llama_cpp": llama_cpp.__version__, "module": llama_cpp.__file__, "openmp_runtime_loaded": openmp_loaded(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"), "threads": a.threads, "prompt_tokens": len(tokens),
        "new_tokens": a.new, "load_s": round(load_s, 2), "runs": runs,
        "prompt_tok_s": statistics.median(r["prompt_tok_s"] for r in runs),
        "gen_tok_s": statistics.median(r["gen_tok_s"] for r in runs if r["gen_tok_s"]),
        "loadavg_start": load0, "loadavg_end": loadavg(),
    })


if __name__ == "__main__":
    main()
