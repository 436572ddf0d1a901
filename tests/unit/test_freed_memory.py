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
from spillover.heap import release_freed_memory

def resident_mb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) // 1024 for line in status if line.startswith("VmRSS"))

arrays = [np.ones(64_000 // 8) for _ in range(5_000)]
kept = arrays[9::10]
del arrays
gc.collect()
before = resident_mb()
release_freed_memory()
print(before, resident_mb())
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc_trim")
def test_freed_heap_pages_go_back_to_the_system():
    out = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, check=True
    ).stdout
    before, after = map(int, out.split())
    assert before - after > 200, (before, after)  # ~290 MB freed but resident


# Four threads allocate at once; glibc's malloc_info then lists one <heap> per arena in use.
ARENAS = """
import ctypes, re, sys, tempfile, threading
import numpy as np
from spillover.heap import one_arena

if sys.argv[1] == "one":
    one_arena()
start = threading.Barrier(4)

def allocate():
    start.wait()
    kept = [np.ones(1_000) for _ in range(20_000)]
    start.wait()  # all alive at once

threads = [threading.Thread(target=allocate) for _ in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
libc = ctypes.CDLL(None)
libc.fopen.restype = ctypes.c_void_p
with tempfile.NamedTemporaryFile(suffix=".xml") as out:
    stream = libc.fopen(out.name.encode(), b"w")
    libc.malloc_info(0, ctypes.c_void_p(stream))
    libc.fclose(ctypes.c_void_p(stream))
    print(len(re.findall(r"<heap nr=", open(out.name).read())))
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt")
def test_stage_threads_share_one_heap_arena():
    def arenas(mode: str) -> int:
        done = subprocess.run(
            [sys.executable, "-c", ARENAS, mode], capture_output=True, text=True, check=True
        )
        return int(done.stdout)

    assert arenas("default") > 1  # a thread allocating alongside others gets its own
    assert arenas("one") == 1


# ~450 MB of Arrow strings (mimalloc's pool), dropped: their pages stay until released.
ARROW = """
import gc
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from spillover.heap import release_freed_memory

def resident_mb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) // 1024 for line in status if line.startswith("VmRSS"))

numbers = np.arange(10**11, 10**11 + 2_000_000)
strings = [pc.cast(pa.array(numbers + i), pa.string()) for i in range(20)]  # 12 digits each
del strings
gc.collect()
before = resident_mb()
release_freed_memory()
print(before, resident_mb())
"""


def test_freed_arrow_buffers_go_back_to_the_system():
    out = subprocess.run(
        [sys.executable, "-c", ARROW], capture_output=True, text=True, check=True
    ).stdout
    before, after = map(int, out.split())
    assert before - after > 150, (before, after)


def test_a_stage_lets_its_tables_go_before_the_heap_is_trimmed(demo_run, tmp_path, monkeypatch):
    """The trim after a stage comes once its written tables are unreachable (none kept alive)."""
    import shutil
    import weakref

    from spillover import heap, pipeline
    from spillover.runs import Run

    _, workdir, _ = demo_run
    copy = shutil.copytree(workdir, tmp_path / "run")
    written, alive = [], []
    write = Run.write

    def recording_write(self, name, frame):
        written.append(weakref.ref(frame))
        write(self, name, frame)

    def trim():
        alive.extend(ref() is not None for ref in written)

    monkeypatch.setattr(Run, "write", recording_write)
    monkeypatch.setattr(heap, "release_freed_memory", trim)
    pipeline.run_stage("exports", copy)
    assert len(written) >= 1 and len(alive) == len(written)  # the plants, then the trim
    assert not any(alive)
