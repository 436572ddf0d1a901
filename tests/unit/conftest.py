"""Fixtures for the lock tests: another process that holds a lock until told to let go."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

#: Takes the lock given on the command line, says "locked", holds it until stdin closes.
_HOLDER = """
import sys
from spillover import locks
path, holder, mode = sys.argv[1:]
with locks.locked(path, holder=holder, what="test", shared=mode == "shared", timeout=30):
    print("locked", flush=True)
    sys.stdin.read()
"""


@pytest.fixture
def hold_lock():
    """``hold_lock(path, holder, shared=False)``: a process holding the lock file ``path``.

    Returns the process; ``proc.stdin.close()`` makes it release the lock and exit.
    """
    procs: list[subprocess.Popen] = []

    def hold(path, holder: str, *, shared: bool = False) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-c", _HOLDER, str(path), holder, "shared" if shared else "x"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        assert proc.stdout.readline().strip() == "locked"
        return proc

    yield hold
    for proc in procs:
        if not proc.stdin.closed:
            proc.stdin.close()
        proc.wait(timeout=30)
        proc.stdout.close()


@pytest.fixture
def umask():
    """``umask(mask)`` sets the process umask for one test (restored afterwards)."""
    previous = os.umask(0o022)
    os.umask(previous)
    yield os.umask
    os.umask(previous)
