"""On-disk caches of geocoding results: by canonical address, and by address as written.

The canonical cache (:func:`read_cache`) answers an address whose canonical form was seen.
The raw cache (:func:`read_raw_cache`) answers an address written exactly as before without
normalising it: a yearly run, whose registers repeat last year's strings, looks its
addresses up with one vectorised join and builds no Python object per cached address.

One Parquet file per gazetteer (its checksum) and matcher version, so a changed
gazetteer or changed matching rules never serve stale results. Writes go to a
temporary file in the same directory followed by :func:`os.replace`, so a run
that crashes midway leaves either the previous or the new complete file.
Concurrent runs on one cache directory do not corrupt it, but the last writer's
entries win. A file that cannot be read (a disk error, a copy cut short) is reported with
a :class:`CacheWarning` and rebuilt.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pyarrow as pa

from spillover.geocode.match import RESULT_FIELDS, MatchResult
from spillover.storage import replace_atomically

__all__ = [
    "COLUMNS",
    "MATCHER_VERSION",
    "RAW_COLUMNS",
    "CacheWarning",
    "cache_path",
    "cached_results",
    "empty_cache",
    "empty_raw_cache",
    "raw_cache_path",
    "read_cache",
    "read_raw_cache",
    "write_cache",
    "write_raw_cache",
]

MATCHER_VERSION = 4
"""Bump whenever matching rules change results (normalisation changes and the municipal
history table are covered by the gazetteer checksum, which includes the normalisation rules
version and the table's SHA-256)."""

COLUMNS = ("key", *RESULT_FIELDS)


class CacheWarning(UserWarning):
    """A cache file could not be read and is rebuilt."""


def cache_path(cache_dir: Path, checksum: str) -> Path:
    """Cache file for a gazetteer checksum under `cache_dir`."""
    return Path(cache_dir) / f"geocode-cache-{checksum[:24]}-m{MATCHER_VERSION}.parquet"


#: Columns of the raw cache: the address as written, then :data:`RESULT_FIELDS`.
RAW_COLUMNS = ("raw", *RESULT_FIELDS)
#: Column types of the raw cache (text columns are pandas ``str``; missing names are NA).
RAW_TYPES = {"pref_code": "int16", "lat": "float64", "lon": "float64", "ambiguous": "bool"}


#: What reading a damaged cache file raises.
_UNREADABLE = (OSError, ValueError, KeyError, TypeError, pa.ArrowException)


def _warn_unreadable(path: Path, exc: Exception) -> None:
    warnings.warn(
        f"geocode cache {path} is unreadable ({type(exc).__name__}: {exc}); matching its "
        "addresses again and rebuilding it",
        CacheWarning,
        stacklevel=3,
    )


def raw_cache_path(cache_dir: Path, checksum: str) -> Path:
    """Raw cache file for a gazetteer checksum under `cache_dir`."""
    return Path(cache_dir) / f"geocode-raw-{checksum[:24]}-m{MATCHER_VERSION}.parquet"


def _empty(columns: tuple[str, ...]) -> pd.DataFrame:
    """A cache frame of ``columns`` with no entries (text columns ``str``, typed)."""
    return pd.DataFrame({c: pd.array([], dtype="str") for c in columns}).astype(RAW_TYPES)


def _read(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    """The cache file at ``path`` as a typed frame of ``columns``; empty when missing.

    An unreadable file (truncated, not Parquet, other columns) is reported with a
    :class:`CacheWarning` and left for the caller's next write to replace: the addresses are
    matched again, with the same results as on a fresh run.
    """
    if not path.exists():
        return _empty(columns)
    try:
        frame = pd.read_parquet(path)
        if tuple(frame.columns) != columns:
            raise ValueError(f"columns {list(frame.columns)}")
        return frame.astype(RAW_TYPES)
    except _UNREADABLE as exc:
        _warn_unreadable(path, exc)
        return _empty(columns)


def _write(path: Path, frame: pd.DataFrame, columns: tuple[str, ...]) -> None:
    """Atomically replace the cache file at ``path`` with ``frame``'s ``columns``, typed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table = frame[list(columns)].astype(RAW_TYPES)
    replace_atomically(path, lambda temporary: table.to_parquet(temporary, index=False))


def empty_raw_cache() -> pd.DataFrame:
    """A raw cache with no entries (:data:`RAW_COLUMNS`, typed)."""
    return _empty(RAW_COLUMNS)


def read_raw_cache(path: Path) -> pd.DataFrame:
    """The raw cache as a frame of :data:`RAW_COLUMNS`; empty when missing or unreadable."""
    return _read(path, RAW_COLUMNS)


def write_raw_cache(path: Path, frame: pd.DataFrame) -> None:
    """Atomically replace the raw cache file with ``frame`` (:data:`RAW_COLUMNS`)."""
    _write(path, frame, RAW_COLUMNS)


def empty_cache() -> pd.DataFrame:
    """A canonical cache with no entries (:data:`COLUMNS`, typed)."""
    return _empty(COLUMNS)


def read_cache(path: Path) -> pd.DataFrame:
    """The canonical cache as a frame of :data:`COLUMNS`, one row per key; empty when missing.

    Unreadable files as in :func:`read_raw_cache`. No Python object is built per entry:
    :func:`cached_results` turns only the rows asked for into results.

    Parameters
    ----------
    path : pathlib.Path
        From :func:`cache_path`.
    """
    return _read(path, COLUMNS).drop_duplicates("key", keep="last", ignore_index=True)


def cached_results(rows: pd.DataFrame) -> list[MatchResult]:
    """Rows of a cache frame as match result tuples (missing names None, lat/lon NaN)."""
    cols = [rows[c].astype(object).where(rows[c].notna(), None).tolist() for c in RESULT_FIELDS]
    cols[1] = [int(x) for x in cols[1]]
    cols[5] = [float("nan") if x is None else float(x) for x in cols[5]]
    cols[6] = [float("nan") if x is None else float(x) for x in cols[6]]
    return list(zip(*cols, strict=True))


def write_cache(path: Path, frame: pd.DataFrame) -> None:
    """Atomically replace the canonical cache file with ``frame`` (:data:`COLUMNS`).

    Parameters
    ----------
    path : pathlib.Path
        From :func:`cache_path`; its directory is created if needed.
    frame : pandas.DataFrame
        Key and match result of each canonical address.
    """
    _write(path, frame, COLUMNS)
