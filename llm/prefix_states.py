"""The evaluated fixed part of each kind of prompt, kept per llama.cpp context.

llama.cpp reuses the KV cache only for the prefix a prompt shares with the one before it in the
same context. wpqa's answer context takes prompts of several kinds in turn (the check asked in
English or Chinese, the translation of the answer, a term), each opening with its own fixed
part (system prompt and worked examples), so each kind evicted the fixed part of the others: a
check after a translation re-read its ~90-token system prompt (about 2 s here). A second
context per kind would keep them apart, but costs 1.2-1.8 GB each (measured with n_batch 512).

So the context's sequence state (its KV cells, a few MB) is saved after each call under the
call's fixed part (every message before the last), and restored before a call whose fixed part
differs from the last call's: llama-cpp-python then finds the shared prefix in the restored
state and evaluates only the rest. The model reads the same tokens; like any reuse of cached
cells, the cells were computed in another batch, so a long greedy output can come out worded
differently where two tokens were nearly tied (two of 30 dev-set translations did).
"""
from __future__ import annotations

import ctypes
from collections import OrderedDict

Fixed = tuple[tuple[str, str], ...]


def fixed_part(messages: list[dict]) -> Fixed | None:
    """The messages before the last one (system prompt, worked examples), or None when there
    are none."""
    head = tuple((m["role"], m["content"]) for m in messages[:-1])
    return head or None


class PrefixStates:
    """The saved sequence states of one llama.cpp context, by fixed part (at most `most`,
    least recently used dropped first)."""

    def __init__(self, most: int = 8):
        self.most = most
        self.states: OrderedDict[Fixed, tuple[list[int], bytes]] = OrderedDict()
        self.current: Fixed | None = None  # the fixed part of the context's last call
        self.restores = 0

    def before(self, llama, fixed: Fixed | None) -> None:
        """Restore the state saved under `fixed` when the context last served another kind."""
        if fixed is None or fixed == self.current or fixed not in self.states:
            return
        import llama_cpp

        tokens, blob = self.states[fixed]
        ctx = llama._ctx.ctx
        mem = llama_cpp.llama_get_memory(ctx)
        if mem is not None:
            llama_cpp.llama_memory_clear(mem, True)
        buf = (ctypes.c_uint8 * len(blob)).from_buffer_copy(blob)
        if not llama_cpp.llama_state_seq_set_data(ctx, buf, len(blob), 0):
            llama.reset()  # nothing restored: the call evaluates its whole prompt, as without this
            self.current = None
            return
        llama.input_ids[: len(tokens)] = tokens
        llama.n_tokens = len(tokens)
        llama._requires_eval = True  # restored cells: the suffix is decoded before sampling
        self.current = fixed
        self.restores += 1
        self.states.move_to_end(fixed)

    def after(self, llama, fixed: Fixed | None) -> None:
        """Save the context's state under the fixed part of the call it just served."""
        self.current = fixed
        if fixed is None or llama.n_tokens == 0:
            return
        import llama_cpp

        ctx = llama._ctx.ctx
        size = llama_cpp.llama_state_seq_get_size(ctx, 0)
        buf = (ctypes.c_uint8 * size)()
        got = llama_cpp.llama_state_seq_get_data(ctx, buf, size, 0)
        if not got:
            return
        self.states[fixed] = (llama.input_ids[: llama.n_tokens].tolist(), bytes(buf)[:got])
        self.states.move_to_end(fixed)
        while len(self.states) > self.most:
            self.states.popitem(last=False)
