"""The engines' threads: how many (the cores this process may run on), and their scheduling."""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from queue import SimpleQueue
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def usable_cores(at_most: int) -> int:
    """The cores this process may use (its CPU affinity), at most ``at_most``."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, min(len(os.sched_getaffinity(0)), at_most))
    return max(1, min(os.cpu_count() or 1, at_most))


def one_heavy_at_a_time(
    items: Sequence[T], work: Callable[[T], R], *, heavy: Callable[[T], bool], threads: int
) -> Iterator[tuple[T, R]]:
    """``(item, work(item))`` for every item, in the order they finish, on ``threads`` threads.

    Items are taken in the given order, except that no two ``heavy`` items run at once: a
    thread that would start a second takes the last light item instead, or waits. Peak
    memory is then one heavy item's working set, not one per thread, and the threads stay
    busy while light items are left. ``work`` must release the interpreter to gain anything
    (NumPy's linear algebra does). An exception in ``work`` is raised here; the other
    threads finish their current item and stop.
    """
    queue = deque((item, bool(heavy(item))) for item in items)  # each judged once
    condition = threading.Condition()
    heavy_running = False
    results: SimpleQueue = SimpleQueue()

    def take() -> tuple[T, bool] | None:
        nonlocal heavy_running
        with condition:
            while queue:
                if not queue[0][1]:
                    return queue.popleft()
                if not heavy_running:
                    heavy_running = True
                    return queue.popleft()
                if not queue[-1][1]:
                    return queue.pop()
                condition.wait()  # only heavy items are left, and one is running
            return None

    def worker() -> None:
        nonlocal heavy_running
        while (taken := take()) is not None:
            item, is_heavy = taken
            try:
                results.put((item, work(item), None))
            except BaseException as error:  # handed to the caller's thread
                with condition:
                    queue.clear()
                results.put((item, None, error))
            finally:
                if is_heavy:
                    with condition:
                        heavy_running = False
                        condition.notify_all()

    total = len(queue)
    pool = [threading.Thread(target=worker, daemon=True) for _ in range(max(1, threads))]
    for thread in pool:
        thread.start()
    try:
        for _ in range(total):
            item, result, error = results.get()
            if error is not None:
                raise error
            yield item, result
    finally:
        with condition:
            queue.clear()
            condition.notify_all()
        for thread in pool:
            thread.join()
