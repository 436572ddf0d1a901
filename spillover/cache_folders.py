"""Folders of content-keyed cache entries: each entry written whole, pruned when long unused.

Shared by the ingest cache (:mod:`spillover.ingest_cache`) and the per-year spatial cache
(:mod:`spillover.partitions`): an entry is a folder ``<key>/`` written under a temporary name
and renamed into place, so a reader sees it complete or not at all, and two runs writing the
same key at once keep one of them.
"""

from __future__ import annotations

import secrets
import shutil
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["prune_entries", "write_entry"]


def write_entry(folder: Path, key: str, write: Callable[[Path], None]) -> None:
    """Create ``folder/key`` whole: ``write`` fills a temporary folder that is then renamed."""
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".{key}.{secrets.token_hex(8)}.tmp"
    temporary.mkdir()
    try:
        write(temporary)
        try:
            temporary.rename(folder / key)
        except OSError:  # another run kept the same entry first
            pass
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def prune_entries(folder: Path | None, used: set[str], keep_days: float) -> None:
    """Remove the entries of ``folder`` not in ``used`` and untouched for ``keep_days`` days.

    An entry is a folder, or a file (the disclosure block store's).
    """
    if folder is None or not folder.is_dir():
        return
    oldest = time.time() - keep_days * 86400
    for entry in folder.iterdir():
        if entry.name.startswith(".") or entry.name in used:
            continue
        if entry.stat().st_mtime < oldest:
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
