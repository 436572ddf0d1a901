"""File-to-file geocoding, the body of ``spillover geocode INPUT --gazetteer PATH --out OUT``."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pandas as pd

from spillover.geocode.api import geocode_addresses
from spillover.geocode.gazetteer import load_gazetteer
from spillover.geocode.match import LEVELS
from spillover.storage import replace_atomically

__all__ = ["geocode_file"]

OUTPUT_COLUMNS = (
    "id",
    "lat",
    "lon",
    "level",
    "pref",
    "city",
    "town",
    "pref_code",
    "ambiguous",
    "normalized",
    "note",
    "municipality_mapped_from",
)


def _read_input(path: Path, encoding: str) -> pd.DataFrame:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        frame = pd.read_parquet(path)
    elif suffix in (".csv", ".gz", ".txt"):
        frame = pd.read_csv(path, dtype=str, encoding=encoding, keep_default_na=False)
    else:
        raise ValueError(f"{path}: input must be .csv or .parquet, not {suffix!r}")
    missing = [c for c in ("id", "address") if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: input lacks column(s) {missing}; found {list(frame.columns)}")
    return frame


def _write_output(frame: pd.DataFrame, path: Path) -> None:
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise ValueError(f"{path}: output must be .csv or .parquet, not {suffix!r}")
    if suffix == ".parquet":
        replace_atomically(path, lambda temporary: frame.to_parquet(temporary, index=False))
    else:
        replace_atomically(path, lambda temporary: frame.to_csv(temporary, index=False))


def geocode_file(
    input_path: str | os.PathLike,
    gazetteer_path: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    encoding: str = "utf-8",
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
    vintage: dt.date | None = None,
) -> dict:
    """Geocode a file of addresses and write one row per input id.

    Parameters
    ----------
    input_path : path-like
        CSV or Parquet with columns ``id`` and ``address``.
    gazetteer_path : path-like
        Gazetteer file or directory, see :func:`spillover.geocode.load_gazetteer`.
    out_path : path-like
        ``.parquet`` or ``.csv`` (chosen by extension), written atomically, with
        columns ``id, lat, lon, level, pref, city, town, pref_code, ambiguous,
        normalized, note, municipality_mapped_from`` in input order.
    encoding : str, default "utf-8"
        Encoding of a CSV input (e.g. ``"cp932"``).
    cache_dir : path-like, optional
        Result cache and persisted gazetteer index directory.
    progress : bool, default True
        Show a rich progress bar for large inputs.
    vintage : datetime.date, optional
        The date the gazetteer's municipalities are of (default: read from its names), see
        :func:`spillover.geocode.load_gazetteer`.

    Returns
    -------
    dict
        ``{"rows": n, "unique_addresses": u, "levels": {level: count, ...},
        "ambiguous": k, "municipality_mapped": m, "vintage": (after, before),
        "output": str(out_path)}``; every level of :data:`spillover.geocode.LEVELS` is
        present in ``levels``; ``municipality_mapped`` counts rows whose municipality was
        mapped through the municipal history; ``vintage`` is the date range the
        gazetteer's names place it in (ISO dates, None where open).

    Raises
    ------
    ValueError
        If the input lacks ``id``/``address`` or an extension is unsupported.
    spillover.geocode.GazetteerFormatError
        If the gazetteer cannot be read.
    """
    input_path, out_path = Path(input_path), Path(out_path)
    frame = _read_input(input_path, encoding)
    cache = Path(cache_dir) if cache_dir is not None else None
    index = load_gazetteer(gazetteer_path, index_dir=cache, vintage=vintage)
    result = geocode_addresses(frame["address"], index, cache_dir=cache, progress=progress)
    out = pd.concat([frame[["id"]], result], axis=1)[list(OUTPUT_COLUMNS)]
    _write_output(out, out_path)
    counts = out["level"].value_counts()
    return {
        "rows": len(out),
        "unique_addresses": int(frame["address"].nunique(dropna=False)),
        "levels": {lvl: int(counts.get(lvl, 0)) for lvl in LEVELS},
        "ambiguous": int(out["ambiguous"].sum()),
        "municipality_mapped": int(out["municipality_mapped_from"].notna().sum()),
        "vintage": tuple(d and d.isoformat() for d in index.history.vintage),
        "output": str(out_path),
    }
