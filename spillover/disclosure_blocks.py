"""What secondary suppression found in each block, kept across runs by the block's content.

Disclosure control searches every connected block of released rows for values of fewer than
the minimum establishments (:mod:`spillover.disclosure_span`): at national scale about half
of its block work, and most of it for blocks that the run before had already searched (a new
survey year leaves the earlier years' blocks as they were). What the search finds — each
value's atoms and the rows that derive it, as positions in the block — is a function of the
block's matrix, of which of its atoms have fewer than the minimum establishments, of how
establishments share those atoms (their codes ranked within the block) and of the minimum.
So a kept result under the same content is the result, bit for bit, as long as the code and
the arithmetic are the same: the key holds the source of the modules that decide it,
NumPy's and SciPy's versions and the BLAS library, its version and the CPU kernels it chose
(another machine's rounding is not reused).

The results live in one Parquet file per code and arithmetic (~170 KB at national scale),
read whole when a run starts and written whole, under a temporary name then renamed, when it
ends: the entries this run used or added and those used within :data:`KEEP_DAYS` days. Two
runs ending at once keep the entries of the later one. Files of other code or arithmetic
that no run has touched for :data:`KEEP_DAYS` days are removed.
"""

from __future__ import annotations

import hashlib
import json
import platform
import secrets
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import scipy
from threadpoolctl import threadpool_info

from spillover.cache_folders import prune_entries
from spillover.partitions import code_digest

__all__ = ["KEEP_DAYS", "BlockStore", "arithmetic"]

#: Days an entry (or a file of other code) no run has used is kept.
KEEP_DAYS = 30
#: Modules whose code decides a block's search.
BLOCK_MODULES = ("disclosure_span.py", "disclosure_support.py", "disclosure_blocks.py")
#: The integer arrays of an entry, in order.
FIELDS = ("support", "support_sizes", "rows", "row_sizes")

Entry = tuple[np.ndarray, ...]


def arithmetic() -> dict:
    """What decides the rounding of the search: the machine, NumPy, SciPy and the BLAS."""
    blas = [
        {key: info.get(key) for key in ("internal_api", "version", "architecture", "prefix")}
        for info in threadpool_info()
        if info.get("user_api") == "blas"
    ]
    blas.sort(key=lambda info: json.dumps(info, sort_keys=True))  # found in no fixed order
    return {
        "machine": platform.machine(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "blas": blas,
    }


class BlockStore:
    """Kept block results in ``folder`` (``None``: nothing kept), for one code and arithmetic.

    :meth:`get` and :meth:`put` take a key from :meth:`key` and may be called from several
    threads; :meth:`close` writes the file. ``loaded``, ``repeated`` and ``computed`` count
    the blocks taken from earlier runs, from this one (the same content twice) and searched.
    """

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        prefix = {"code": code_digest(BLOCK_MODULES), "arithmetic": arithmetic()}
        self.prefix = json.dumps(prefix, sort_keys=True).encode()
        name = hashlib.sha256(self.prefix).hexdigest()[:24]
        self.path = folder / f"blocks-{name}.parquet" if folder is not None else None
        self.loaded = 0
        self.repeated = 0
        self.computed = 0
        self._lock = threading.Lock()
        self._entries, self._used = self._read()
        self._earlier = set(self._entries)
        self._looked_up = False  # nothing to write when no block was looked up or kept
        self._now = time.time()

    def key(self, *arrays: np.ndarray) -> str:
        """Digest of the code, the arithmetic and ``arrays`` (dtype, shape and bytes, in order)."""
        digest = hashlib.blake2b(self.prefix, digest_size=20)
        for array in arrays:
            array = np.ascontiguousarray(array)
            digest.update(f"{array.dtype.str}{array.shape}".encode())
            digest.update(array.data)
        return digest.hexdigest()

    def get(self, key: str) -> Entry | None:
        """The arrays kept under ``key`` (:data:`FIELDS`), or None."""
        entry = self._entries.get(key)
        with self._lock:
            self._looked_up = True
            if entry is None:
                self.computed += 1
            elif key in self._earlier:
                self.loaded += 1
                self._used[key] = self._now
            else:
                self.repeated += 1
        return entry

    def put(self, key: str, entry: Entry) -> None:
        """Keep ``entry`` (:data:`FIELDS`, int64 arrays) under ``key``."""
        with self._lock:
            self._looked_up = True
            self._entries[key] = entry
            self._used[key] = self._now

    def close(self) -> None:
        """Write the entries used within :data:`KEEP_DAYS` days.

        Nothing is written without a folder or when no block was looked up.
        """
        if self.path is None or not self._looked_up:
            return
        oldest = self._now - KEEP_DAYS * 86400
        keys = [key for key, used in self._used.items() if used >= oldest]
        columns = {"key": pa.array(keys, pa.string())}
        columns["used"] = pa.array([self._used[key] for key in keys], pa.float64())
        for number, field in enumerate(FIELDS):
            arrays = [self._entries[key][number] for key in keys]
            offsets = np.concatenate([[0], np.cumsum([len(a) for a in arrays])])
            values = np.concatenate([np.zeros(0, np.int64), *arrays])
            columns[field] = pa.LargeListArray.from_arrays(offsets, values)
        self.folder.mkdir(parents=True, exist_ok=True)
        temporary = self.folder / f".{self.path.name}.{secrets.token_hex(8)}.tmp"
        try:
            pq.write_table(pa.table(columns), temporary)
            temporary.replace(self.path)
        finally:
            temporary.unlink(missing_ok=True)

    def prune(self, *, keep_days: float = KEEP_DAYS) -> None:
        """Remove other code's or arithmetic's files no run has written for ``keep_days``."""
        if self.path is not None:
            prune_entries(self.folder, {self.path.name}, keep_days)

    def summary(self) -> dict:
        """How many blocks were searched, taken from earlier runs and repeated in this one."""
        return {
            "blocks_searched": self.computed,
            "blocks_from_store": self.loaded,
            "blocks_repeated": self.repeated,
        }

    def _read(self) -> tuple[dict[str, Entry], dict[str, float]]:
        """The kept entries and when each was last used (empty without a readable file)."""
        if self.path is None:
            return {}, {}
        try:
            table = pq.read_table(self.path)
        except (FileNotFoundError, OSError, pa.ArrowInvalid):
            return {}, {}  # absent, or not a Parquet file: searched again
        keys = table.column("key").to_pylist()
        used = dict(zip(keys, table.column("used").to_pylist(), strict=True))
        fields = []
        for field in FIELDS:
            column = table.column(field).combine_chunks()
            values = column.values.to_numpy(zero_copy_only=False).astype(np.int64)
            offsets = column.offsets.to_numpy()
            fields.append([values[a:b] for a, b in zip(offsets[:-1], offsets[1:], strict=True)])
        return dict(zip(keys, zip(*fields, strict=True), strict=True)), used
