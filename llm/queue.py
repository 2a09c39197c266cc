"""One generation at a time, first come first served, with the waiting caller told its place.

The bundled model runs on the CPU: two generations at once would each run at half speed (and
one llama.cpp context cannot serve two at once at all). Every llama.cpp generation of the
process goes through `GENERATION_QUEUE.slot()`. A single command never waits; a server's
request threads do, and each may say, for its own thread, how to hear its place and whether it
was given up (`waiting(on_position, cancelled)`): a client that disconnected leaves the queue
instead of holding a slot it no longer wants.
"""
from __future__ import annotations

import bisect
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

from common.errors import WpqaError


class Cancelled(WpqaError):
    """The caller gave up its place (its client went away) before its turn came."""


_local = threading.local()


@contextmanager
def waiting(on_position: Callable[[int], None] | None = None,
            cancelled: Callable[[], bool] | None = None) -> Iterator[None]:
    """For this thread's generations: `on_position(n)` hears how many are ahead (0 = its turn),
    and `cancelled()` is asked while it waits."""
    old = getattr(_local, "hooks", None)
    _local.hooks = (on_position, cancelled)
    try:
        yield
    finally:
        _local.hooks = old


class GenerationQueue:
    """A FIFO lock: whoever asked first generates first, within a priority (lower first: a
    question's short translation, which retrieval waits on, goes before answers already
    waiting). Re-entrant per thread (a generation may call another)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._waiting: list[tuple[int, int]] = []  # (priority, ticket), in the order they will run
        self._owner: int | None = None  # thread id holding the slot
        self._depth = 0
        self._next = 0

    def waiting_count(self) -> int:
        with self._cond:
            return len(self._waiting)

    def busy(self) -> bool:
        with self._cond:
            return self._owner is not None

    @contextmanager
    def slot(self, priority: int = 1) -> Iterator[None]:
        me = threading.get_ident()
        on_position, cancelled = getattr(_local, "hooks", None) or (None, None)
        with self._cond:
            if self._owner == me:
                self._depth += 1
                ticket = None
            else:
                ticket = (priority, self._next)
                self._next += 1
                bisect.insort(self._waiting, ticket)
                told = -1
                try:
                    while self._owner is not None or self._waiting[0] != ticket:
                        ahead = self._waiting.index(ticket) + (1 if self._owner is not None else 0)
                        if on_position is not None and ahead != told:
                            told = ahead
                            on_position(ahead)
                        if cancelled is not None and cancelled():
                            raise Cancelled("the client went away while waiting for the answer model")
                        self._cond.wait(0.25)
                except BaseException:
                    self._waiting.remove(ticket)
                    self._cond.notify_all()
                    raise
                self._waiting.pop(0)
                self._owner, self._depth = me, 1
                if on_position is not None and told != 0:
                    on_position(0)
        try:
            yield
        finally:
            with self._cond:
                self._depth -= 1
                if self._depth == 0:
                    self._owner = None
                    self._cond.notify_all()


GENERATION_QUEUE = GenerationQueue()
