"""Pure-Python work over many items on every usable core, in forked worker processes.

Threads do not help code that holds the interpreter (geocoding an address is string work):
worker processes do. They are forked, so the function and everything it reads (a
gazetteer index of ~10⁶ entries) are inherited, not pickled; only the items and the results
cross. Where ``fork`` is not available (Windows), on one core or for few items the work runs
in this process, with the same results in the same order.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Iterator, Sequence

from spillover.threads import usable_cores

__all__ = ["PARALLEL_AT_LEAST", "forked_map"]

#: Fewest items worth forking workers for: a fork, the workers' copy-on-write of what they
#: read and the transfers cost some tenths of a second (with 20,000, a national run adding a
#: survey year geocoded no faster: 9.5 s before, 11.3 and 12.3 s after, on a drifting machine).
PARALLEL_AT_LEAST = 50_000
#: Most worker processes.
MAX_WORKERS = 4

_work: Callable | None = None  # what the workers apply, inherited through fork
_one_at_a_time = threading.Lock()


def forked_map(
    function: Callable, items: Sequence, chunk_size: int, *, workers: int | None = None
) -> Iterator[list]:
    """``function`` of each of ``items``, as one list of results per chunk, in order.

    Parameters
    ----------
    function : callable
        Applied to each item; its results must pickle.
    items : sequence
        The items (pickled to the workers chunk by chunk).
    chunk_size : int
        Items per chunk (the caller's unit of progress).
    workers : int, optional
        Worker processes (default: the usable cores, at most :data:`MAX_WORKERS`; fewer
        than :data:`PARALLEL_AT_LEAST` items run in this process).
    """
    global _work
    chunks = [items[start : start + chunk_size] for start in range(0, len(items), chunk_size)]
    if workers is None:
        workers = usable_cores(MAX_WORKERS) if len(items) >= PARALLEL_AT_LEAST else 1
    workers = min(workers, len(chunks))
    if workers <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        for chunk in chunks:
            yield [function(item) for item in chunk]
        return
    with _one_at_a_time:
        _work = function
        try:
            with multiprocessing.get_context("fork").Pool(workers) as pool:
                yield from pool.imap(_apply, chunks)
        finally:
            _work = None


def _apply(chunk: Sequence) -> list:
    """In a worker: the inherited function of each item of ``chunk``."""
    return [_work(item) for item in chunk]
