"""Run the publish stage of a run directory and SIGKILL this process at one publish step.

Usage: ``python tests/publish_child.py WORKDIR STEP`` (driven by ``test_crash_safety.py``).
The kill is deterministic: the storage call that performs the step is wrapped so that the
process sends itself SIGKILL right before or after it, the way a power cut or the OOM
killer would stop it there. No production code knows about this harness.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
from pathlib import Path

import pyarrow.parquet as pq

from spillover import pipeline, stages, storage


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _wrap(owner, name: str, *, before=None, after=None) -> None:
    """Replace ``owner.name`` by a wrapper that dies before or after a matching call."""
    real = getattr(owner, name)

    def wrapper(*args, **kwargs):
        if before is not None and before(*args, **kwargs):
            _die()
        result = real(*args, **kwargs)
        if after is not None and after(*args, **kwargs):
            _die()
        return result

    setattr(owner, name, wrapper)


def _always(*args, **kwargs) -> bool:
    return True


def _renamed_to(name: str):
    return lambda source, target, *args, **kwargs: Path(target).name == name


def _tear_file(table, where, *args, **kwargs) -> bool:
    """After the first dataset file is written: cut it in half (a torn write)."""
    where = Path(where)
    where.write_bytes(where.read_bytes()[: where.stat().st_size // 2])
    return True


def _prune_halfway(path, *args, **kwargs) -> None:
    """Pruning an old version: one file is gone when the process dies."""
    next(Path(path).rglob("*.parquet")).unlink()
    _die()


def _write_every_dataset() -> None:
    """Publishing a run again links its datasets from the last version: write them instead."""
    stages.reusable_datasets = lambda *args, **kwargs: {}


STEPS = {
    "version-created": lambda: _wrap(stages, "version_dir", after=_always),
    "first-dataset-linked": lambda: _wrap(storage, "link_tree", after=_always),
    "first-dataset-written": lambda: (
        _write_every_dataset(),
        _wrap(storage, "write_dataset", after=_always),
    ),
    "dataset-torn": lambda: (_write_every_dataset(), _wrap(pq, "write_table", after=_tear_file)),
    "manifest-not-renamed": lambda: _wrap(os, "replace", before=_renamed_to("manifest.json")),
    "manifest-written": lambda: _wrap(os, "replace", after=_renamed_to("manifest.json")),
    "marked-complete": lambda: _wrap(os, "replace", after=_renamed_to(".complete")),
    "current-switched": lambda: _wrap(os, "replace", after=_renamed_to("current")),
    "pruning": lambda: setattr(shutil, "rmtree", _prune_halfway),
}

if __name__ == "__main__":
    workdir, step = sys.argv[1:]
    STEPS[step]()
    pipeline.run_stage("publish", workdir)
    sys.exit(f"publish ended without reaching step {step!r}")
