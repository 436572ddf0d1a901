"""Persisted gazetteer indexes: the built tables as Parquet, reused across runs.

An index is stored in ``index_dir/gazetteer-<sha256 prefix>/``: one Parquet file
per table of :func:`spillover.geocode.index.build_tables` and a ``meta.json``
(source layouts, source path, :data:`INDEX_VERSION`). The folder name comes from
:func:`source_checksum`, so a changed source file, index layout or set of
normalisation rules gets a new folder and the old one is never read again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from spillover.geocode.normalize import RULES_VERSION

__all__ = ["INDEX_VERSION", "index_folder", "read_index", "source_checksum", "write_index"]

INDEX_VERSION = 3
"""Bump when the persisted index layout changes (normalisation changes bump
:data:`spillover.geocode.normalize.RULES_VERSION`); both enter the checksum."""

_TABLES = (
    "towns",
    "cities",
    "koaza",
    "blocks",
    "keys",
    "groups",
    "members",
    "oaza_names",
    "lengths",
)


def source_checksum(files: list[Path]) -> str:
    """SHA-256 over the gazetteer files, the index layout and the normalisation rules.

    Parameters
    ----------
    files : list of pathlib.Path
        The source files, in reading order; their names and bytes are hashed.

    Returns
    -------
    str
        Hex digest (64 characters); keys persisted indexes and the geocode cache.
    """
    h = hashlib.sha256(f"index{INDEX_VERSION}-rules{RULES_VERSION}".encode())
    for f in files:
        h.update(f.name.encode())
        with f.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def index_folder(index_dir: str | os.PathLike, checksum: str) -> Path:
    """The folder under ``index_dir`` that holds the index of sources with ``checksum``.

    Parameters
    ----------
    index_dir : path-like
        Directory of persisted indexes.
    checksum : str
        From :func:`source_checksum`.

    Returns
    -------
    pathlib.Path
        ``index_dir/gazetteer-<first 24 hex digits of checksum>``.
    """
    return Path(index_dir) / f"gazetteer-{checksum[:24]}"


def write_index(
    directory: Path,
    tables: dict[str, pd.DataFrame],
    *,
    formats: tuple[str, ...],
    source: str,
) -> None:
    """Write the index atomically: build in a temporary directory, then rename.

    If another process has renamed a complete index into place first, that one
    is kept.

    Parameters
    ----------
    directory : pathlib.Path
        Target folder, from :func:`index_folder`; its parent is created if needed.
    tables : dict of str to pandas.DataFrame
        From :func:`spillover.geocode.index.build_tables`.
    formats : tuple of str
        Layouts of the source files, recorded in ``meta.json``.
    source : str
        Path the gazetteer was loaded from, recorded in ``meta.json``.
    """
    meta = {"formats": list(formats), "source": source, "version": INDEX_VERSION}
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        for name in _TABLES:
            tables[name].to_parquet(tmp / f"{name}.parquet", index=False)
        (tmp / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1))
        try:
            os.rename(tmp, directory)
        except OSError:
            if not (directory / "meta.json").exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def read_index(directory: Path) -> tuple[dict[str, pd.DataFrame], tuple[str, ...]] | None:
    """Read an index written by :func:`write_index`.

    Parameters
    ----------
    directory : pathlib.Path
        Folder from :func:`index_folder`.

    Returns
    -------
    tuple of (dict of str to pandas.DataFrame, tuple of str), or None
        The tables and the source layouts, or None if no index is stored there.
    """
    meta_path = directory / "meta.json"
    if not meta_path.exists():
        return None
    meta = json.loads(meta_path.read_text())
    tables = {n: pd.read_parquet(directory / f"{n}.parquet") for n in _TABLES}
    return tables, tuple(meta["formats"])
