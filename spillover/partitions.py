"""Stage results kept by what made them: a new year computes one year, a re-run none.

The neighbourhood sums, overlap diagnostics and exposure of a year depend only on that year's
plants (and the settings): centres meet establishments of the same year. The neighbourhoods
and exposure stages therefore compute year by year and keep each year's tables in the
``spatial`` cache under a key that hashes the stage, its settings, the source of the modules
that compute it, the package version and the content of the year's input columns. A yearly
run that adds 2019 loads 2012–2018 and computes 2019; a year whose plants changed (a revised
file, a membership rule that looks across years) is computed again. Tables are then put in
the order the whole-panel computation gives (:func:`in_order`), so the stage writes the same
bytes whether a year came from the cache or not.

The disclose stage keeps its whole result the same way (one part, ``"all"``, keyed by its
inputs' content, settings and the disclosure code): a run on unchanged tables does not
search the release again.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from spillover import __version__
from spillover.cache_folders import prune_entries, write_entry
from spillover.keys import joint_codes
from spillover.storage import write_internal

__all__ = [
    "DISCLOSURE_MODULES",
    "KEEP_DAYS",
    "SPATIAL_MODULES",
    "TableCache",
    "code_digest",
    "in_order",
    "per_year",
    "radius_major",
]

#: Days an unused entry is kept.
KEEP_DAYS = 30
#: Modules whose code decides a year's spatial tables.
SPATIAL_MODULES = (
    "neighbourhoods.py",
    "exposure.py",
    "plants.py",
    "spatial/__init__.py",
    "spatial/_frames.py",
    "spatial/_sweep.py",
    "spatial/exposure.py",
    "spatial/kernels.py",
    "spatial/overlap.py",
    "spatial/sums.py",
)
#: Modules whose code decides the disclose stage's suppression (a folder: all its modules).
DISCLOSURE_MODULES = (
    "disclosure.py",
    "disclosure_blocks.py",
    "disclosure_span.py",
    "disclosure_support.py",
    "neighbourhoods.py",
    "plants.py",
    "options.py",
    "specs.py",
    "spatial",
    "estimate",
)


@cache
def code_digest(modules: tuple[str, ...]) -> str:
    """SHA-256 of the package version and the source of ``modules`` (paths in the package)."""
    digest = hashlib.sha256(__version__.encode())
    package = Path(__file__).parent
    for name in modules:
        path = package / name
        for source in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            digest.update(source.relative_to(package).as_posix().encode())
            digest.update(source.read_bytes())
    return digest.hexdigest()


def _frame_digest(frame: pd.DataFrame) -> str:
    """SHA-256 of a frame's columns, dtypes and values (row order included, index not).

    Text columns are hashed as their UTF-8 bytes, lengths and missing values through Arrow
    (pandas hashes unique strings one by one: 1.8 s for 2 million ids); numbers and flags
    as their memory (values, then the missing-value mask of nullable types: ~4× faster than
    row hashes); the others as :func:`pandas.util.hash_pandas_object` row hashes.
    """
    digest = hashlib.sha256(json.dumps([list(map(str, frame.columns))]).encode())
    digest.update(json.dumps([str(t) for t in frame.dtypes]).encode())
    others = []
    for name in frame.columns:
        parts = _text_parts(frame[name])
        if parts is None:
            parts = _number_parts(frame[name])
        if parts is None:
            others.append(name)
            continue
        digest.update(f"\0{name}".encode())
        for part in parts:
            digest.update(part)
    if others:
        rows = pd.util.hash_pandas_object(frame[others], index=False)
        digest.update(rows.to_numpy().tobytes())
    return digest.hexdigest()


def _number_parts(column: pd.Series) -> tuple | None:
    """A numeric, flag or time column as its values' memory (and missing mask); else None."""
    values = column.array
    if isinstance(values, pd.arrays.NumpyExtensionArray) and values.dtype.kind in "biufmM":
        return (np.ascontiguousarray(values.to_numpy()).data,)
    if isinstance(
        values, (pd.arrays.IntegerArray, pd.arrays.FloatingArray, pd.arrays.BooleanArray)
    ):
        mask = np.ascontiguousarray(values.isna())
        data = values.to_numpy(dtype=values.dtype.numpy_dtype, na_value=0)  # 0 under the mask
        return np.ascontiguousarray(data).data, mask.data
    return None


def _text_parts(column: pd.Series) -> tuple | None:
    """A text column as (missing mask, byte lengths, UTF-8 bytes); ``None`` if not all text."""
    if not pd.api.types.is_string_dtype(column.dtype) or isinstance(
        column.dtype, pd.CategoricalDtype
    ):
        return None
    try:
        array = pa.array(column, type=pa.large_string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # e.g. an object column of numbers
        return None
    if isinstance(array, pa.ChunkedArray):  # a column read from Parquet, or concatenated
        array = array.combine_chunks()
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)[
        array.offset : array.offset + len(array) + 1
    ]
    data = array.buffers()[2]
    text = b"" if data is None else memoryview(data)[offsets[0] : offsets[-1]]
    missing = array.is_null().to_numpy(zero_copy_only=False)
    return missing.tobytes(), np.diff(offsets).tobytes(), text


class TableCache:
    """Kept tables of one stage, part by part (a year, or ``"all"``), in ``folder``.

    Parameters
    ----------
    folder : pathlib.Path or None
        The cache folder (``None``: nothing kept).
    stage : str
        Name of the stage (part of the key).
    settings : dict
        JSON-serialisable settings the tables depend on (part of the key).
    modules : tuple of str
        Modules of the package whose code decides the tables (part of the key).
    """

    def __init__(
        self,
        folder: Path | None,
        stage: str,
        settings: dict,
        modules: tuple[str, ...] = SPATIAL_MODULES,
    ) -> None:
        self.folder = folder
        self.prefix = json.dumps(
            {"code": code_digest(modules), "stage": stage, "settings": settings},
            sort_keys=True,
        )
        self.computed: list = []
        self.loaded: list = []
        self.used: set[str] = set()

    def tables(
        self,
        year,
        inputs: dict[str, pd.DataFrame],
        compute: Callable[[dict[str, pd.DataFrame]], dict[str, pd.DataFrame]],
    ) -> dict[str, pd.DataFrame]:
        """The tables of part ``year``: kept ones if ``inputs`` are unchanged, else computed."""
        digest = hashlib.sha256(self.prefix.encode())
        digest.update(json.dumps(str(year)).encode())
        for name in sorted(inputs):
            digest.update(f"{name}:{_frame_digest(inputs[name])}".encode())
        key = digest.hexdigest()
        kept = self._load(key)
        if kept is not None:
            self.loaded.append(year)
            return kept
        tables = compute(inputs)
        self.computed.append(year)
        self._store(key, tables)
        return tables

    def _load(self, key: str) -> dict[str, pd.DataFrame] | None:
        if self.folder is None:
            return None
        entry = self.folder / key
        try:
            names = json.loads((entry / "tables.json").read_text(encoding="utf-8"))
            tables = {name: pd.read_parquet(entry / f"{name}.parquet") for name in names}
        except (FileNotFoundError, NotADirectoryError):
            return None
        self.used.add(key)
        os.utime(entry)
        return tables

    def _store(self, key: str, tables: dict[str, pd.DataFrame]) -> None:
        if self.folder is None:
            return
        self.used.add(key)

        def write(folder: Path) -> None:
            for name, frame in tables.items():
                write_internal(frame, folder / f"{name}.parquet")
            (folder / "tables.json").write_text(json.dumps(list(tables)), encoding="utf-8")

        write_entry(self.folder, key, write)

    def prune(self, *, keep_days: float = KEEP_DAYS) -> None:
        """Remove entries not used by this cache and not used for ``keep_days`` days."""
        prune_entries(self.folder, self.used, keep_days)

    def summary(self) -> dict:
        """Which years were computed and which loaded (for the stage report)."""
        return {
            "years_computed": [int(y) for y in self.computed],
            "years_from_cache": [int(y) for y in self.loaded],
        }


def per_year(
    cache: TableCache,
    frames: dict[str, pd.DataFrame],
    compute: Callable[[dict[str, pd.DataFrame]], dict[str, pd.DataFrame]],
) -> list[dict[str, pd.DataFrame]]:
    """Each year's tables from that year's rows of ``frames``, kept in or taken from ``cache``.

    ``frames[""]`` are the plants (``year``, ``is_centre``); years come in the spatial
    engine's group order: first appearance among the centres, then among all plants.
    """
    plants = frames[""]
    years = pd.unique(np.concatenate([plants.loc[plants["is_centre"], "year"], plants["year"]]))
    parts = []
    for year in years:
        rows = {name: frame[frame["year"].to_numpy() == year] for name, frame in frames.items()}
        parts.append(cache.tables(year, rows, compute))
    return parts


def radius_major(radii: Sequence[float], rows: pd.DataFrame, id_column: str) -> pd.DataFrame:
    """Keys ``radius_km, year, <id_column>`` of ``rows`` repeated radius by radius."""
    return pd.DataFrame(
        {
            "radius_km": np.repeat(np.array(radii, dtype=float), len(rows)),
            "year": np.tile(rows["year"].to_numpy(), len(radii)),
            id_column: np.tile(rows[id_column].to_numpy(), len(radii)),
        }
    )


def in_order(parts: Sequence[pd.DataFrame], keys: list[str], target: pd.DataFrame) -> pd.DataFrame:
    """Concatenate per-year ``parts`` and put their rows in the order of ``target``'s keys.

    ``target`` lists the ``keys`` of every row in the whole-panel order; each must occur
    exactly once in the parts. The parts usually hold each (radius, year) group's rows in
    the target's order already: the rows are then matched by the numeric keys and their
    place in the group, and the text keys are compared, not hashed (national exposure:
    2.7·10⁶ establishment ids); otherwise every key is hashed.
    """
    combined = pd.concat(parts, ignore_index=True)
    ordered = _in_group_order(combined, keys, target)
    if ordered is not None:
        return ordered
    have, want = joint_codes([combined, target], keys)
    rows = pd.Index(have)
    position = rows.get_indexer(want) if rows.is_unique else np.full(len(want), -1)
    if (position < 0).any() or len(position) != len(combined):
        raise RuntimeError("per-year spatial tables do not match the whole panel's rows")
    return combined.take(position).reset_index(drop=True)


def _in_group_order(
    combined: pd.DataFrame, keys: list[str], target: pd.DataFrame
) -> pd.DataFrame | None:
    """``combined`` in ``target``'s order, matched within each group of the numeric keys.

    None unless every key then equals the target's, row by row.
    """
    numeric = [key for key in keys if pd.api.types.is_numeric_dtype(target[key])]
    if len(combined) != len(target) or not numeric:
        return None
    have, want = joint_codes([combined, target], numeric)
    position = np.empty(len(target), dtype=np.int64)
    position[np.argsort(want, kind="stable")] = np.argsort(have, kind="stable")
    ordered = combined.take(position).reset_index(drop=True)
    for key in keys:
        mine, theirs = ordered[key], target[key].reset_index(drop=True)
        if mine.dtype != theirs.dtype and key in numeric:
            mine, theirs = mine.astype("float64"), theirs.astype("float64")
        if not mine.equals(theirs):
            return None
    return ordered
