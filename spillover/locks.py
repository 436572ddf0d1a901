"""Advisory file locks (``fcntl.flock``) with a wait limit and the holder named in errors.

A lock is a file (``<run dir>/.lock``, ``<output root>/.lock``) that is never deleted: a
process that dies, even by ``kill -9``, releases its locks with its file descriptors, so a
crashed run never leaves a stale lock behind. The holder writes one line into the file (what
it is doing, its pid and since when); a process that waits longer than the limit fails with a
:class:`LockTimeout` quoting that line.

The wait limit is ``SPILLOVER_LOCK_TIMEOUT`` seconds (default 600; 0 fails at once). Nested
requests for a lock the calling thread already holds are no-ops, so a caller may hold a run's
lock across several stages that each take it.
"""

from __future__ import annotations

import fcntl
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from spillover.errors import SpilloverError

__all__ = ["TIMEOUT_ENV", "LockTimeout", "holds", "locked", "wait_limit"]

#: Environment variable: seconds to wait for a lock before failing.
TIMEOUT_ENV = "SPILLOVER_LOCK_TIMEOUT"
DEFAULT_TIMEOUT_S = 600.0
_POLL_S = 0.1

_local = threading.local()


class LockTimeout(SpilloverError, TimeoutError):
    """Another process held a lock for longer than the wait limit."""


def _held() -> dict[Path, int]:
    """Locks held by the calling thread: resolved lock path → file descriptor."""
    if not hasattr(_local, "held"):
        _local.held = {}
    return _local.held


def holds(path: str | Path) -> bool:
    """Whether the calling thread holds the lock file ``path`` (taken with :func:`locked`)."""
    return Path(path).resolve() in _held()


def wait_limit() -> float:
    """Seconds to wait for a lock: ``SPILLOVER_LOCK_TIMEOUT`` or 600.

    Raises
    ------
    SpilloverError
        When the variable is set to something other than a number of seconds ≥ 0.
    """
    text = os.environ.get(TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_TIMEOUT_S
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:
        raise SpilloverError(f"{TIMEOUT_ENV}={text!r}: give a number of seconds ≥ 0")
    return seconds


def _holder_line(fd: int) -> str:
    text = os.pread(fd, 1000, 0).decode("utf-8", "replace").strip()
    return text or "another process (it has not named itself yet)"


def _acquire(fd: int, path: Path, what: str, mode: int, timeout: float) -> None:
    """Take ``mode`` on ``fd``, polling until ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise LockTimeout(
                    f"{what} {path.parent} is locked by {_holder_line(fd)}; gave up after "
                    f"{timeout:g} s (lock file {path}; set {TIMEOUT_ENV} to wait longer)"
                ) from None
            time.sleep(_POLL_S)


@contextmanager
def locked(
    path: str | Path,
    *,
    holder: str,
    what: str,
    shared: bool = False,
    timeout: float | None = None,
) -> Iterator[None]:
    """Hold the lock file ``path`` for the duration of the ``with`` block.

    Parameters
    ----------
    path : str or pathlib.Path
        The lock file (created if missing; its folder must exist).
    holder : str
        Who takes it, for other processes' error messages (e.g. ``"run X, stage publish"``).
    what : str
        What the lock's folder is, for the error message (e.g. ``"output root"``).
    shared : bool
        Take a shared lock (several holders at once) instead of an exclusive one.
    timeout : float, optional
        Seconds to wait; :func:`wait_limit` if omitted.

    Raises
    ------
    LockTimeout
        When another process holds the lock longer than ``timeout``; the message names the
        folder and the holder.
    """
    path = Path(path)
    key = path.resolve()
    held = _held()
    if key in held:  # the calling thread holds it already (e.g. a run across its stages)
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    try:
        mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        _acquire(fd, path, what, mode, wait_limit() if timeout is None else timeout)
        since = datetime.now(UTC).isoformat(timespec="seconds")
        line = f"{holder} (pid {os.getpid()} on {socket.gethostname()}, since {since})\n"
        os.ftruncate(fd, 0)
        os.pwrite(fd, line.encode(), 0)
        held[key] = fd
        try:
            yield
        finally:
            del held[key]
    finally:
        os.close(fd)  # releases the lock
