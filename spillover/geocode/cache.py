"""On-disk cache of geocoding results, keyed by canonical address.

One Parquet file per gazetteer (its checksum) and matcher version, so a changed
gazetteer or changed matching rules never serve stale results. Writes go to a
temporary file in the same directory followed by :func:`os.replace`, so a run
that crashes midway leaves either the previous or the new complete file.
Concurrent runs on one cache directory do not corrupt it, but the last writer's
entries win.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from spillover.geocode.match import RESULT_FIELDS, MatchResult
from spillover.storage import replace_atomically

__all__ = ["MATCHER_VERSION", "cache_path", "read_cache", "write_cache"]

MATCHER_VERSION = 2
"""Bump whenever matching rules change results (normalisation changes are covered
by the gazetteer checksum, which includes the normalisation rules version)."""

COLUMNS = ("key", *RESULT_FIELDS)


def cache_path(cache_dir: Path, checksum: str) -> Path:
    """Cache file for a gazetteer checksum under `cache_dir`."""
    return Path(cache_dir) / f"geocode-cache-{checksum[:24]}-m{MATCHER_VERSION}.parquet"


def read_cache(path: Path) -> dict[str, MatchResult]:
    """Read a cache file; a missing file gives an empty cache.

    Parameters
    ----------
    path : pathlib.Path
        From :func:`cache_path`.

    Returns
    -------
    dict
        Canonical address → match result tuple.
    """
    if not path.exists():
        return {}
    df = pd.read_parquet(path)
    cols = [df[c].astype(object).where(df[c].notna(), None).tolist() for c in COLUMNS[1:]]
    cols[1] = [int(x) for x in cols[1]]
    cols[5] = [float("nan") if x is None else float(x) for x in cols[5]]
    cols[6] = [float("nan") if x is None else float(x) for x in cols[6]]
    return dict(zip(df["key"].tolist(), zip(*cols, strict=True), strict=True))


def write_cache(path: Path, entries: dict[str, MatchResult]) -> None:
    """Atomically replace the cache file with `entries`.

    Parameters
    ----------
    path : pathlib.Path
        From :func:`cache_path`; its directory is created if needed.
    entries : dict
        Canonical address → match result tuple.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = list(entries)
    rows = list(entries.values())
    df = pd.DataFrame(rows, columns=list(COLUMNS[1:]))
    df.insert(0, "key", keys)
    df = df.astype({"pref_code": "int16", "lat": "float64", "lon": "float64", "ambiguous": "bool"})
    replace_atomically(path, lambda temporary: df.to_parquet(temporary, index=False))
