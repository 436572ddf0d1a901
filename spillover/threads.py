"""How many threads the engines' parallel parts use: the cores this process may run on."""

from __future__ import annotations

import os


def usable_cores(at_most: int) -> int:
    """The cores this process may use (its CPU affinity), at most ``at_most``."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, min(len(os.sched_getaffinity(0)), at_most))
    return max(1, min(os.cpu_count() or 1, at_most))
