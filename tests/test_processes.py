"""forked_map: the same results in the same order, from worker processes."""

from __future__ import annotations

import os
import signal

import pytest

from spillover import processes
from spillover.processes import forked_map


def _tagged(item: int) -> tuple[int, int]:
    return item * item, os.getpid()


def _fails_on_seven(item: int) -> int:
    if item == 7:
        raise ValueError(f"item {item}")
    return item


def test_workers_give_each_chunk_in_order():
    chunks = list(forked_map(_tagged, range(23), 5, workers=2))
    assert [len(chunk) for chunk in chunks] == [5, 5, 5, 5, 3]
    assert [square for chunk in chunks for square, _ in chunk] == [i * i for i in range(23)]
    pids = {pid for chunk in chunks for _, pid in chunk}
    assert os.getpid() not in pids and len(pids) >= 1


def test_few_items_stay_in_this_process(monkeypatch):
    monkeypatch.setattr(processes, "PARALLEL_AT_LEAST", 100)
    chunks = list(forked_map(_tagged, list(range(99)), 10))
    assert {pid for chunk in chunks for _, pid in chunk} == {os.getpid()}
    assert [square for chunk in chunks for square, _ in chunk] == [i * i for i in range(99)]


def test_an_error_in_a_worker_is_raised_here():
    with pytest.raises(ValueError, match="item 7"):
        list(forked_map(_fails_on_seven, range(20), 3, workers=2))
    assert processes._work is None  # released for the next caller


def _map_in_a_daemon(queue) -> None:
    try:
        chunks = list(forked_map(_tagged, range(6), 2, workers=2))
        queue.put(("ok", chunks, os.getpid()))
    except Exception as error:  # reported to the test, not lost in the child
        queue.put(("error", repr(error), os.getpid()))


def test_a_daemonic_process_maps_in_itself():
    """A daemonic process may not have children: its work runs in it, with the same results."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    daemon = context.Process(target=_map_in_a_daemon, args=(queue,), daemon=True)
    daemon.start()
    status, chunks, pid = queue.get(timeout=60)
    daemon.join(60)
    assert status == "ok", chunks
    assert [square for chunk in chunks for square, _ in chunk] == [i * i for i in range(6)]
    assert {worker for chunk in chunks for _, worker in chunk} == {pid}


def _handlers(_item: int) -> tuple:
    return signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)


def test_workers_leave_signals_to_the_caller():
    """A handler the caller installed (Airflow's, say) does not run in the workers."""
    previous = signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        chunks = list(forked_map(_handlers, [0, 1, 2, 3], 1, workers=2))
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert [chunk[0] for chunk in chunks] == [(signal.SIG_IGN, signal.SIG_DFL)] * 4


_STOP_EARLY = """
import signal, time
from spillover.processes import forked_map
signal.signal(signal.SIGTERM, lambda *_: None)  # a caller's handler that does not exit

def slow(item):
    time.sleep(0.05)
    return item

for chunk in forked_map(slow, list(range(400)), 2, workers=2):
    break  # the rest is abandoned: the workers are terminated
print("stopped")
"""


def test_workers_stop_when_the_caller_stops_reading_whatever_its_handlers():
    """Terminating the pool ends workers even if the caller's SIGTERM handler would not."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _STOP_EARLY], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "stopped"
