"""Loading a gazetteer: read its files, build the index, or reuse a persisted one.

:func:`load_gazetteer` ties together :mod:`spillover.geocode.readers` (file
formats), :mod:`spillover.geocode.index` (building and the index class) and
:mod:`spillover.geocode.store` (persisted indexes).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path

from spillover.geocode.history import HISTORY_PATH, read_history
from spillover.geocode.index import GazetteerIndex, build_tables
from spillover.geocode.readers import gazetteer_files, read_gazetteer
from spillover.geocode.store import index_folder, read_index, source_checksum, write_index

__all__ = ["load_gazetteer"]


def load_gazetteer(
    path: str | os.PathLike,
    *,
    index_dir: Path | None = None,
    vintage: dt.date | None = None,
    history: str | os.PathLike = HISTORY_PATH,
) -> GazetteerIndex:
    """Load a gazetteer file (or a directory of them) and build the lookup index.

    Parameters
    ----------
    path : path-like
        A ``.csv``, ``.csv.gz`` or ``.zip`` file in one of the
        :data:`spillover.geocode.readers.FORMATS` layouts (UTF-8 or CP932,
        detected), or a directory of such files, e.g. one MLIT 大字・町丁目 and one
        街区 file per prefecture. The layout of each file is detected from its
        header. Rows without coordinates are skipped.
    index_dir : pathlib.Path, optional
        If given, the built tables are persisted there as Parquet in a folder
        named after the SHA-256 of the source file(s), and reused by later calls
        on identical files (no CSV parsing then). Written atomically.
    vintage : datetime.date, optional
        The date the gazetteer's municipalities are of. Default: read from the names it
        contains, change by change (see :mod:`spillover.geocode.history`).
    history : path-like, default the packaged ``municipal_history.csv``
        Municipal history table; it and ``vintage`` enter :attr:`GazetteerIndex.checksum`,
        so a changed table never serves cached answers of the old one.

    Returns
    -------
    GazetteerIndex

    Raises
    ------
    GazetteerFormatError
        If a file is missing, unreadable, truncated, of an unknown layout or
        lacks required columns; the message names the file and the columns.
    MunicipalHistoryError
        If the history table is malformed; the message names the file and line.
    """
    path = Path(path)
    files = gazetteer_files(path)
    changes = read_history(history)
    checksum = source_checksum(files)
    folder = index_folder(index_dir, checksum) if index_dir is not None else None
    results_key = hashlib.sha256(
        f"{checksum}-history{changes.checksum}-vintage{vintage}".encode()
    ).hexdigest()
    stored = read_index(folder) if folder is not None else None
    if stored is None:
        formats, towns_raw, blocks_raw = read_gazetteer(files)
        tables = build_tables(towns_raw, blocks_raw)
        if folder is not None:
            write_index(folder, tables, formats=formats, source=str(path))
    else:
        tables, formats = stored
    return GazetteerIndex(
        tables,
        checksum=results_key,
        formats=formats,
        source=str(path),
        history=changes,
        vintage=vintage,
    )
