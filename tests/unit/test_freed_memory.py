"""After each stage the pipeline gives freed heap pages back (a long run does not stay big)."""

import platform
import subprocess
import sys

import pytest

# 5,000 arrays of 64 kB come from the heap (below glibc's mmap threshold); every tenth is kept,
# so the freed ones are holes that glibc does not give back by itself (~290 MB).
CHILD = """
import gc
import numpy as np
from spillover.pipeline import _release_freed_memory

def resident_mb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) // 1024 for line in status if line.startswith("VmRSS"))

arrays = [np.ones(64_000 // 8) for _ in range(5_000)]
kept = arrays[9::10]
del arrays
gc.collect()
before = resident_mb()
_release_freed_memory()
print(before, resident_mb())
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc_trim")
def test_freed_heap_pages_go_back_to_the_system():
    out = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, check=True
    ).stdout
    before, after = map(int, out.split())
    assert before - after > 200, (before, after)  # ~290 MB freed but resident
