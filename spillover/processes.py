"""Pure-Python work over many items on every usable core, in forked worker processes.

Threads do not help code that holds the interpreter (geocoding an address is string work):
worker processes do. They are forked, so the function and everything it reads (a
gazetteer index of ~10⁶ entries) are inherited, not pickled; only the items and the results
cross. Where ``fork`` is not available (Windows), in a daemonic process (which may not have
children), on one core or for few items the work runs in this process, with the same results
in the same order. Workers ignore Ctrl-C (the caller gets it and stops them) and die on
SIGTERM without running the handlers they inherited (an Airflow task's would act for the task
from a worker).
"""

from __future__ import annotations

import multiprocessing
import signal
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

#: Signals whose handlers a worker resets (see :func:`_as_worker`).
_WORKER_SIGNALS = {signal.SIGINT, signal.SIGTERM}

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
    if (
        workers <= 1
        or "fork" not in multiprocessing.get_all_start_methods()
        or multiprocessing.current_process().daemon  # may not have children
    ):
        for chunk in chunks:
            yield [function(item) for item in chunk]
        return
    with _one_at_a_time:
        _work = function
        try:
            # forked with both signals blocked: until a worker has reset its handlers, one
            # sent to it (terminate() below) waits instead of running the caller's handler
            caller_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _WORKER_SIGNALS)
            try:
                pool = multiprocessing.get_context("fork").Pool(workers, initializer=_as_worker)
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, caller_mask)
            with pool:  # terminated on the way out, whether every chunk came back or not
                yield from pool.imap(_apply, chunks)
        finally:
            _work = None


def _as_worker() -> None:
    """In a new worker: Ctrl-C is the caller's, SIGTERM ends it (no inherited handler)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _WORKER_SIGNALS)


def _apply(chunk: Sequence) -> list:
    """In a worker: the inherited function of each item of ``chunk``."""
    return [_work(item) for item in chunk]
