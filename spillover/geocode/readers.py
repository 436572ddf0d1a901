"""Gazetteer file readers: Geolonia, MLIT 位置参照情報 and the shared test layout.

Every supported file is reduced to two tidy tables before the index is built
(:func:`spillover.geocode.index.build_tables`):

``towns``
    one row per 大字・町丁目 (optionally per 小字・通称名):
    ``pref_code, pref, city, town, koaza, lat, lon``;
``blocks``
    one row per 街区 (MLIT 街区レベル only): the same columns plus ``block``
    (the leading integer of 街区符号・地番).

Coordinates are WGS84 / JGD2011 degrees throughout. Rows whose point lies outside Japan's
territory (:mod:`spillover.geocode.territory`; a row at (0, 0), or with 緯度 and 経度
swapped) are dropped at load with a :class:`GazetteerWarning` counting them, so that no
address is placed abroad; a file with more than :data:`MAX_OUTSIDE_SHARE` of such rows is
rejected as a whole.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import unicodedata
import warnings
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from spillover.errors import SpilloverError
from spillover.geocode._prefectures import PREF_CODE
from spillover.geocode.territory import in_japan

__all__ = [
    "FORMATS",
    "MAX_OUTSIDE_SHARE",
    "GazetteerFormatError",
    "GazetteerWarning",
    "detect_format",
    "gazetteer_files",
    "read_gazetteer",
]

MAX_OUTSIDE_SHARE = 0.01
"""Largest share of a file's located rows that may lie outside Japan and be dropped; above
it the file itself is wrong (swapped 緯度/経度, another datum or projection), not a few rows."""


class GazetteerFormatError(SpilloverError, ValueError):
    """A gazetteer file is unreadable, of an unknown layout, or lacks columns."""


class GazetteerWarning(UserWarning):
    """Rows of a gazetteer file were dropped at load (their point lies outside Japan)."""


@dataclass(frozen=True)
class _Layout:
    name: str
    columns: tuple[str, ...]
    """The full documented header, in order."""
    required: tuple[str, ...]
    """Columns the loader reads; a file missing any of them is rejected."""


FORMATS: dict[str, _Layout] = {
    layout.name: layout
    for layout in (
        _Layout(
            "towns",
            ("pref_code", "pref", "city", "town", "koaza", "lat", "lng"),
            ("pref_code", "pref", "city", "town", "lat", "lng"),
        ),
        _Layout(
            "geolonia",
            (
                "都道府県コード",
                "都道府県名",
                "都道府県名カナ",
                "都道府県名ローマ字",
                "市区町村コード",
                "市区町村名",
                "市区町村名カナ",
                "市区町村名ローマ字",
                "大字町丁目名",
                "大字町丁目名カナ",
                "大字町丁目名ローマ字",
                "小字・通称名",
                "緯度",
                "経度",
            ),
            ("都道府県コード", "都道府県名", "市区町村名", "大字町丁目名", "緯度", "経度"),
        ),
        _Layout(
            "mlit_oaza",
            (
                "都道府県コード",
                "都道府県名",
                "市区町村コード",
                "市区町村名",
                "大字町丁目コード",
                "大字町丁目名",
                "緯度",
                "経度",
                "原典資料コード",
                "大字・字・丁目区分コード",
            ),
            ("都道府県コード", "都道府県名", "市区町村名", "大字町丁目名", "緯度", "経度"),
        ),
        _Layout(
            "mlit_gaiku",
            (
                "都道府県名",
                "市区町村名",
                "大字・丁目名",
                "小字・通称名",
                "街区符号・地番",
                "座標系番号",
                "Ｘ座標",
                "Ｙ座標",
                "緯度",
                "経度",
                "住居表示フラグ",
                "代表フラグ",
                "更新前履歴フラグ",
                "更新後履歴フラグ",
            ),
            ("都道府県名", "市区町村名", "大字・丁目名", "街区符号・地番", "緯度", "経度"),
        ),
    )
}
"""Supported layouts, keyed by the name reported in
:attr:`spillover.geocode.index.GazetteerIndex.formats`.

``towns`` is the layout of ``../shared/gazetteer/japan_towns.csv.gz``; ``geolonia``
is Geolonia's ``latest.csv`` (the older 12-column file without 小字・通称名 is also
accepted); ``mlit_oaza`` and ``mlit_gaiku`` are the MLIT 位置参照情報
大字・町丁目レベル and 街区レベル CSVs (CP932).
"""

_TOWN_COLS = ["pref_code", "pref", "city", "town", "koaza", "lat", "lon"]
_LEADING_INT = re.compile(r"^\s*(\d+)")


def _nfkc(name: str) -> str:
    return unicodedata.normalize("NFKC", name).strip().strip('"')


def _read_bytes(path: Path) -> list[tuple[str, bytes]]:
    """Return ``(label, raw CSV bytes)`` for a .csv, .csv.gz or .zip file."""
    try:
        if path.suffix.lower() == ".zip":
            with zipfile.ZipFile(path) as zf:
                members = [n for n in zf.namelist() if n.lower().endswith(".csv")]
                if not members:
                    raise GazetteerFormatError(f"{path}: the zip archive holds no .csv file")
                return [(f"{path}!{m}", zf.read(m)) for m in sorted(members)]
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        return [(str(path), raw)]
    except (EOFError, OSError, zlib.error, zipfile.BadZipFile) as exc:
        if isinstance(exc, FileNotFoundError):
            raise GazetteerFormatError(f"{path}: no such gazetteer file") from exc
        raise GazetteerFormatError(
            f"{path}: cannot read the file ({exc}); it looks truncated or corrupt"
        ) from exc


def _decode(label: str, raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp932")
    except UnicodeDecodeError as exc:
        raise GazetteerFormatError(
            f"{label}: neither UTF-8 nor CP932 text (byte offset {exc.start}); "
            "truncated or not a CSV file?"
        ) from exc


def detect_format(header: Iterable[str], *, label: str = "<file>") -> str:
    """Name the gazetteer layout that a CSV header belongs to.

    Parameters
    ----------
    header : iterable of str
        Column names of the file (NFKC-insensitive, so 「Ｘ座標」 = 「X座標」).
    label : str, optional
        File name used in error messages.

    Returns
    -------
    str
        A key of :data:`FORMATS`.

    Raises
    ------
    GazetteerFormatError
        If no layout fits, or the best-fitting layout lacks required columns;
        the message names the file and the missing columns.
    """
    cols = {_nfkc(c) for c in header}
    scored = sorted(
        FORMATS.values(),
        key=lambda lay: -len(cols & {_nfkc(c) for c in lay.columns}),
    )
    best = scored[0]
    overlap = len(cols & {_nfkc(c) for c in best.columns})
    if overlap < 3:
        known = "; ".join(f"{lay.name}: {','.join(lay.columns)}" for lay in FORMATS.values())
        raise GazetteerFormatError(
            f"{label}: unrecognised gazetteer header {sorted(cols)}; expected one of: {known}"
        )
    missing = [c for c in best.required if _nfkc(c) not in cols]
    if missing:
        raise GazetteerFormatError(
            f"{label}: looks like the {best.name} layout but lacks column(s) {missing}"
        )
    return best.name


def _numeric(frame: pd.DataFrame, col: str, label: str) -> np.ndarray:
    """Parse a coordinate column; empty cells become NaN, anything else non-numeric raises."""
    text = _text(frame, col)
    values = pd.to_numeric(text.mask(text == ""), errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(np.isnan(values) & (text != "").to_numpy())
    if bad.size:
        raise GazetteerFormatError(
            f"{label}: {bad.size} row(s) with a non-numeric {col!r} "
            f"(first at data row {bad[0] + 1}: {text.iat[bad[0]]!r})"
        )
    return values


def _check_not_truncated(label: str, text: str, n_columns: int) -> None:
    """Raise if the last record has fewer fields than the header (a cut-off file)."""
    last = text.rstrip("\r\n").rsplit("\n", 1)[-1]
    fields = next(csv.reader([last]), [])
    if len(fields) < n_columns:
        raise GazetteerFormatError(
            f"{label}: the last row has {len(fields)} of {n_columns} fields; "
            "the file looks truncated"
        )


def _read_one(label: str, raw: bytes) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    """Parse one CSV into ``(layout, town rows, block rows)``."""
    text = _decode(label, raw)
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError as exc:
        raise GazetteerFormatError(f"{label}: empty file") from exc
    except (pd.errors.ParserError, ValueError) as exc:
        raise GazetteerFormatError(f"{label}: malformed CSV ({exc})") from exc
    frame.columns = [_nfkc(c) for c in frame.columns]
    fmt = detect_format(frame.columns, label=label)
    if frame.empty:
        raise GazetteerFormatError(f"{label}: header only, no rows")
    _check_not_truncated(label, text, len(frame.columns))
    if fmt == "mlit_gaiku":
        return fmt, pd.DataFrame(columns=_TOWN_COLS), _gaiku_rows(frame, label)
    return fmt, _town_rows(frame, fmt, label), pd.DataFrame(columns=[*_TOWN_COLS, "block"])


def _text(frame: pd.DataFrame, name: str) -> pd.Series:
    """A text column by its documented name (NFKC), or empty strings if absent."""
    col = _nfkc(name)
    if col not in frame.columns:
        return pd.Series("", index=frame.index, dtype="str")
    return frame[col].fillna("").astype(str).str.strip()


def _inside_japan(rows: pd.DataFrame, label: str) -> pd.Series:
    """Rows with a point inside Japan; warn about (or reject) the rest.

    Parameters
    ----------
    rows : pandas.DataFrame
        Town or block rows with ``town``, ``lat`` and ``lon`` (degrees), indexed by data
        row - 1 (the header is not counted).
    label : str
        File name for messages.

    Returns
    -------
    pandas.Series
        True where the row has both coordinates and they lie inside Japan. Rows without
        coordinates are False silently (new towns have no representative point yet).

    Raises
    ------
    GazetteerFormatError
        If more than :data:`MAX_OUTSIDE_SHARE` of the rows with coordinates lie outside.
    """
    located = rows["lat"].notna() & rows["lon"].notna()
    inside = pd.Series(in_japan(rows["lat"], rows["lon"]), index=rows.index)
    outside = located & ~inside
    n_outside, n_located = int(outside.sum()), int(located.sum())
    if n_outside:
        first = rows.loc[outside.idxmax()]
        example = (
            f"first at data row {outside.idxmax() + 1}: {first['town']} at lat {first['lat']:g}, "
            f"lon {first['lon']:g}"
        )
        share = n_outside / n_located
        if share > MAX_OUTSIDE_SHARE:
            raise GazetteerFormatError(
                f"{label}: {n_outside:,} of {n_located:,} rows ({share:.1%}) have coordinates "
                f"outside Japan ({example}), more than {MAX_OUTSIDE_SHARE:.0%}: are 緯度 and "
                "経度 swapped, or in another datum or projection?"
            )
        warnings.warn(
            f"{label}: dropped {n_outside:,} row(s) with coordinates outside Japan ({example}); "
            "addresses there fall back to their 大字 or municipality",
            GazetteerWarning,
            stacklevel=2,
        )
    return inside


def _gaiku_rows(frame: pd.DataFrame, label: str) -> pd.DataFrame:
    """Block rows of an MLIT 街区レベル file (representative rows only, if flagged)."""
    pref = _text(frame, "都道府県名")
    codes = pref.map(PREF_CODE)
    if codes.isna().any():
        unknown = sorted(set(pref[codes.isna()]))[:5]
        raise GazetteerFormatError(f"{label}: unknown prefecture name(s) {unknown}")
    rows = pd.DataFrame(
        {
            "pref_code": codes.astype("int64"),
            "pref": pref,
            "city": _text(frame, "市区町村名"),
            "town": _text(frame, "大字・丁目名"),
            "koaza": _text(frame, "小字・通称名"),
            "lat": _numeric(frame, "緯度", label),
            "lon": _numeric(frame, "経度", label),
            "block": pd.to_numeric(
                _text(frame, "街区符号・地番").str.extract(_LEADING_INT, expand=False),
                errors="coerce",
            ),
        }
    )
    representative = _text(frame, "代表フラグ") == "1"
    if representative.any():
        rows = rows[representative]
    keep = (rows["town"] != "") & rows["block"].notna() & _inside_japan(rows, label)
    return rows[keep].reset_index(drop=True)


def _town_rows(frame: pd.DataFrame, fmt: str, label: str) -> pd.DataFrame:
    """Town rows of a Geolonia, shared-layout or MLIT 大字・町丁目 file."""
    if fmt == "towns":
        names = {
            "pref_code": "pref_code",
            "pref": "pref",
            "city": "city",
            "town": "town",
            "koaza": "koaza",
            "lat": "lat",
            "lon": "lng",
        }
    else:
        names = {
            "pref_code": "都道府県コード",
            "pref": "都道府県名",
            "city": "市区町村名",
            "town": "大字町丁目名",
            "koaza": "小字・通称名",
            "lat": "緯度",
            "lon": "経度",
        }
    codes = pd.to_numeric(frame[names["pref_code"]], errors="coerce")
    valid = codes.between(1, 47).fillna(False).to_numpy(dtype=bool)
    if not valid.all():
        bad = int(np.flatnonzero(~valid)[0]) + 1
        raise GazetteerFormatError(
            f"{label}: invalid {names['pref_code']!r} (JIS 1-47 expected) at data row {bad}"
        )
    towns = pd.DataFrame(
        {
            "pref_code": codes.astype("int64"),
            "pref": _text(frame, names["pref"]),
            "city": _text(frame, names["city"]),
            "town": _text(frame, names["town"]),
            "koaza": _text(frame, names["koaza"]),
            "lat": _numeric(frame, names["lat"], label),
            "lon": _numeric(frame, names["lon"], label),
        }
    )
    # Rows without a representative point (new towns, in the real data) cannot be
    # located; dropping them lets such addresses fall back to their municipality.
    keep = (towns["town"] != "") & _inside_japan(towns, label)
    return towns[keep].reset_index(drop=True)


def gazetteer_files(path: Path) -> list[Path]:
    """List the gazetteer files to read from a file or directory path.

    Parameters
    ----------
    path : pathlib.Path
        A gazetteer file, or a directory whose ``.csv``, ``.csv.gz`` and ``.zip``
        files are all read.

    Returns
    -------
    list of pathlib.Path
        ``[path]`` for a file; the directory's gazetteer files, sorted by name.

    Raises
    ------
    GazetteerFormatError
        If the file does not exist or the directory holds no gazetteer file.
    """
    if path.is_dir():
        files = sorted(
            p
            for p in path.iterdir()
            if p.is_file() and p.name.lower().endswith((".csv", ".csv.gz", ".zip"))
        )
        if not files:
            raise GazetteerFormatError(f"{path}: directory holds no .csv, .csv.gz or .zip file")
        return files
    if not path.exists():
        raise GazetteerFormatError(f"{path}: no such gazetteer file")
    return [path]


def read_gazetteer(files: list[Path]) -> tuple[tuple[str, ...], pd.DataFrame, pd.DataFrame]:
    """Read gazetteer files into the raw ``towns`` and ``blocks`` tables.

    Parameters
    ----------
    files : list of pathlib.Path
        Files from :func:`gazetteer_files`: ``.csv``, ``.csv.gz`` or ``.zip``
        (every ``.csv`` member is read), UTF-8 or CP932, any layout of
        :data:`FORMATS`.

    Returns
    -------
    formats : tuple of str
        Layouts found, in file order, without repeats (keys of :data:`FORMATS`).
    towns : pandas.DataFrame
        Town rows of all files (see the module docstring); ``lat`` and ``lon``
        in degrees.
    blocks : pandas.DataFrame
        街区 rows of all files, the town columns plus ``block``.

    Raises
    ------
    GazetteerFormatError
        If a file is unreadable, truncated, of an unknown layout or lacks
        required columns; the message names the file and the columns.
    """
    formats, town_parts, block_parts = [], [], []
    for f in files:
        for label, raw in _read_bytes(f):
            fmt, towns, blocks = _read_one(label, raw)
            formats.append(fmt)
            town_parts.append(towns)
            block_parts.append(blocks)
    dtypes = {"pref_code": "int64", "lat": "float64", "lon": "float64"}
    towns_raw = pd.concat(town_parts, ignore_index=True).astype(dtypes)
    blocks_raw = pd.concat(block_parts, ignore_index=True).astype(dtypes)
    return tuple(dict.fromkeys(formats)), towns_raw, blocks_raw
