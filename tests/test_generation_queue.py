"""llm.queue: one generation at a time, in arrival order, with each waiter told its place and
a waiter that gives up leaving the queue (real threads)."""
from __future__ import annotations

import threading
import time

import pytest

from llm.queue import Cancelled, GenerationQueue, waiting


def _wait_for(check, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.01)
    raise AssertionError("timed out")


def test_first_come_first_served_with_positions():
    q = GenerationQueue()
    order: list[str] = []
    positions: dict[str, list[int]] = {}
    release = threading.Event()

    def worker(name: str) -> None:
        positions[name] = []
        with waiting(positions[name].append):
            with q.slot():
                order.append(name)
                if name == "a":
                    release.wait(5)

    a = threading.Thread(target=worker, args=("a",))
    a.start()
    _wait_for(q.busy)
    others = []
    for name in ("b", "c", "d"):
        t = threading.Thread(target=worker, args=(name,))
        t.start()
        others.append(t)
        _wait_for(lambda n=name: positions.get(n))  # queued before the next one arrives
    assert q.waiting_count() == 3
    release.set()
    for t in [a, *others]:
        t.join(5)
    assert order == ["a", "b", "c", "d"]
    # each hears its place on arrival, then fewer ahead (a turn that passes quickly may not be
    # seen), and 0 when its turn comes
    for name, first in (("b", 1), ("c", 2), ("d", 3)):
        seen = positions[name]
        assert seen[0] == first and seen[-1] == 0, (name, seen)
        assert all(x > y for x, y in zip(seen, seen[1:])), (name, seen)
    assert not q.busy() and q.waiting_count() == 0


def test_a_waiter_that_gives_up_leaves_the_queue():
    q = GenerationQueue()
    gave_up = threading.Event()
    release = threading.Event()
    outcome: dict[str, object] = {}

    def holder() -> None:
        with q.slot():
            release.wait(5)

    def quitter() -> None:
        try:
            with waiting(None, gave_up.is_set):
                with q.slot():
                    outcome["quitter"] = "ran"
        except Cancelled:
            outcome["quitter"] = "cancelled"

    h = threading.Thread(target=holder)
    h.start()
    _wait_for(q.busy)
    w = threading.Thread(target=quitter)
    w.start()
    _wait_for(lambda: q.waiting_count() == 1)
    gave_up.set()
    w.join(5)
    assert outcome["quitter"] == "cancelled" and q.waiting_count() == 0
    release.set()
    h.join(5)
    with q.slot():  # the slot is free again
        pass


def test_reentrant_in_one_thread_and_released_on_error():
    q = GenerationQueue()
    with q.slot():
        with q.slot():  # a generation inside a generation of the same thread
            assert q.busy()
        assert q.busy()
    assert not q.busy()
    with pytest.raises(RuntimeError):
        with q.slot():
            raise RuntimeError("generation failed")
    assert not q.busy()


def test_a_translation_goes_before_answers_already_waiting():
    q = GenerationQueue()
    order: list[str] = []
    release = threading.Event()

    def worker(name: str, priority: int) -> None:
        with q.slot(priority):
            order.append(name)
            if name == "holder":
                release.wait(5)

    threads = [threading.Thread(target=worker, args=("holder", 1))]
    threads[0].start()
    _wait_for(q.busy)
    for name, priority in (("answer-1", 1), ("answer-2", 1), ("translation", 0)):
        t = threading.Thread(target=worker, args=(name, priority))
        t.start()
        threads.append(t)
        _wait_for(lambda n=len(threads) - 1: q.waiting_count() == n)
    release.set()
    for t in threads:
        t.join(5)
    assert order == ["holder", "translation", "answer-1", "answer-2"]
