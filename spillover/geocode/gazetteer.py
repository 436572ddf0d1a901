"""Gazetteer loaders (Geolonia, MLIT 位置参照情報, the shared test layout) and the index.

Every supported file is reduced to two tidy tables before the index is built:

``towns``
    one row per 大字・町丁目 (optionally per 小字・通称名):
    ``pref_code, pref, city, town, koaza, lat, lon``;
``blocks``
    one row per 街区 (MLIT 街区レベル only): the same columns plus ``block``
    (the leading integer of 街区符号・地番).

Coordinates are WGS84 / JGD2011 degrees throughout.
"""

from __future__ import annotations

import csv
import functools
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
import unicodedata
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from spillover.errors import SpilloverError
from spillover.geocode._prefectures import PREF_CODE, PREFECTURES
from spillover.geocode.normalize import RULES_VERSION, canonical_text

__all__ = ["GazetteerFormatError", "GazetteerIndex", "load_gazetteer", "FORMATS"]

INDEX_VERSION = 2
"""Bump when the persisted index layout changes (normalisation changes bump
:data:`spillover.geocode.normalize.RULES_VERSION`); both enter the checksum."""

_BLOCK_KEY_BASE = 1_000_000
"""Block lookup key = town_id * _BLOCK_KEY_BASE + block number (block < 10**6)."""

_SAME_BLOCK_DEG = 0.01
"""Rows sharing a (town, block) key but spread wider than this (degrees) are dropped."""


class GazetteerFormatError(SpilloverError, ValueError):
    """A gazetteer file is unreadable, of an unknown layout, or lacks columns."""


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
"""Supported layouts, keyed by the name reported in :attr:`GazetteerIndex.formats`.

``towns`` is the layout of ``../shared/gazetteer/japan_towns.csv.gz``; ``geolonia``
is Geolonia's ``latest.csv`` (the older 12-column file without 小字・通称名 is also
accepted); ``mlit_oaza`` and ``mlit_gaiku`` are the MLIT 位置参照情報
大字・町丁目レベル and 街区レベル CSVs (CP932).
"""

_TOWN_COLS = ["pref_code", "pref", "city", "town", "koaza", "lat", "lon"]
_LEADING_INT = re.compile(r"^\s*(\d+)")
_CHOME_TAIL = re.compile(r"^(.+?)[〇一二三四五六七八九十百千\d]+丁目$")
_CHOME_KEY = re.compile(r"^(.+?)(\d+)丁目$")
_SEIREI = re.compile(r"^(.+?市)(.+区)$")
_GUN = re.compile(r"^(.+?郡)(.+[町村])$")


# --------------------------------------------------------------------------- reading


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
    keep = (rows["town"] != "") & rows["block"].notna() & rows["lat"].notna()
    return rows[keep & rows["lon"].notna()].reset_index(drop=True)


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
    keep = (towns["town"] != "") & towns["lat"].notna() & towns["lon"].notna()
    return towns[keep].reset_index(drop=True)


def _gazetteer_files(path: Path) -> list[Path]:
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


def _checksum(files: list[Path]) -> str:
    h = hashlib.sha256(f"index{INDEX_VERSION}-rules{RULES_VERSION}".encode())
    for f in files:
        h.update(f.name.encode())
        with f.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------- building


def _city_table(towns: pd.DataFrame) -> pd.DataFrame:
    cities = (
        towns.groupby(["pref_code", "pref", "city"], sort=True)[["lat", "lon"]]
        .median()
        .reset_index()
    )
    cities["city_key"] = cities["city"].map(canonical_text)
    seirei = cities["city"].str.extract(_SEIREI)[0]
    cities["seirei_base"] = seirei.where(seirei.notna(), None)
    return cities


def _key_tables(towns: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Build the town lookup keys of each municipality.

    Returns the tables ``keys`` (scope = city_id, key, group), ``groups`` (kind,
    start, stop into ``members``), ``members`` (town_id ordered by group),
    ``oaza_names`` (大字 stem key → display name) and ``lengths`` (scope, length:
    the distinct prefix lengths worth trying, including the chome shorthand
    「元町1-」/「元町1丁」, one shorter than 「元町1丁目」, which the matcher maps
    back to the full key). Kind 0: the town itself; kind 1: the 大字 stem shared
    by chome towns (「元町」), used only where no town has that key.
    """
    tid = np.arange(len(towns), dtype=np.int64)
    base = pd.DataFrame(
        {"scope": towns["city_id"].astype("int64"), "key": towns["town_key"], "tid": tid, "kind": 0}
    )
    chome = towns["town_key"].str.extract(_CHOME_KEY)
    has = chome[0].notna().to_numpy()
    stem = chome[0][has]
    rows = pd.concat([base, base[has].assign(key=stem.to_numpy(), kind=1)], ignore_index=True)
    # Kind 0 dominates kind 1 for the same (scope, key).
    min_kind = rows.groupby(["scope", "key"], sort=False)["kind"].transform("min")
    rows = rows[rows["kind"] == min_kind].drop_duplicates(["scope", "key", "tid"])
    rows = rows.sort_values(["scope", "key", "tid"], kind="stable").reset_index(drop=True)
    group = rows.groupby(["scope", "key"], sort=False).ngroup().to_numpy()
    first = np.r_[True, group[1:] != group[:-1]]
    keys = rows.loc[first, ["scope", "key", "kind"]].reset_index(drop=True)
    counts = np.bincount(group, minlength=len(keys))
    stops = np.cumsum(counts)
    groups = pd.DataFrame(
        {"kind": keys["kind"].astype("int8"), "start": stops - counts, "stop": stops}
    )
    keys = pd.DataFrame(
        {
            "scope": keys["scope"].astype("int32"),
            "key": keys["key"],
            "group": np.arange(len(keys), dtype=np.int32),
        }
    )
    members = pd.DataFrame({"tid": rows["tid"].astype("int32")})
    oaza_names = (
        pd.DataFrame(
            {"stem": stem.to_numpy(), "name": towns["town"][has].str.extract(_CHOME_TAIL)[0]}
        )
        .drop_duplicates("stem")
        .reset_index(drop=True)
    )
    key_len = keys["key"].str.len().to_numpy(dtype=np.int64)
    is_chome = keys["key"].str.endswith("丁目").to_numpy(dtype=bool)
    lengths = (
        pd.DataFrame(
            {
                "scope": np.r_[keys["scope"].to_numpy(), keys["scope"].to_numpy()[is_chome]],
                "length": np.r_[key_len, key_len[is_chome] - 1],
            }
        )
        .drop_duplicates()
        .sort_values(["scope", "length"], ascending=[True, False])
    )
    return {
        "keys": keys,
        "groups": groups,
        "members": members,
        "oaza_names": oaza_names,
        "lengths": lengths.reset_index(drop=True),
    }


def _build_tables(towns_raw: pd.DataFrame, blocks_raw: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Aggregate raw rows into the tables persisted by :func:`load_gazetteer`."""
    keys = ["pref_code", "pref", "city", "town"]
    # A town's point is its own row (小字 empty) where present, else the mean of its 小字;
    # towns known only from 街区 rows get the mean of their blocks.
    base = towns_raw[towns_raw["koaza"] == ""].groupby(keys, sort=False)[["lat", "lon"]].mean()
    sub = towns_raw.groupby(keys, sort=False)[["lat", "lon"]].mean()
    from_blocks = blocks_raw.groupby(keys, sort=False)[["lat", "lon"]].mean()
    towns = base.combine_first(sub).combine_first(from_blocks).reset_index()
    if towns.empty:
        raise GazetteerFormatError("the gazetteer holds no town with coordinates")
    towns = towns.sort_values(keys, kind="stable").reset_index(drop=True)
    towns["pref_code"] = towns["pref_code"].astype("int16")
    towns["town_key"] = towns["town"].map({t: canonical_text(t) for t in towns["town"].unique()})
    cities = _city_table(towns)
    city_id = pd.Series(
        np.arange(len(cities)), index=pd.MultiIndex.from_frame(cities[["pref_code", "city"]])
    )
    towns["city_id"] = city_id.reindex(
        pd.MultiIndex.from_frame(towns[["pref_code", "city"]])
    ).to_numpy(dtype=np.int32)
    town_id = pd.Series(np.arange(len(towns)), index=pd.MultiIndex.from_frame(towns[keys]))

    kz = towns_raw[towns_raw["koaza"] != ""]
    kz = kz.assign(
        town_id=town_id.reindex(pd.MultiIndex.from_frame(kz[keys])).to_numpy(),
        koaza_key=kz["koaza"].map(canonical_text),
    )
    koaza = (
        kz[kz["koaza_key"] != ""]
        .groupby(["town_id", "koaza_key"], sort=True)
        .agg(koaza=("koaza", "first"), lat=("lat", "mean"), lon=("lon", "mean"))
        .reset_index()
    )
    koaza["town_id"] = koaza["town_id"].astype("int32")

    if len(blocks_raw):
        b = blocks_raw.assign(
            town_id=town_id.reindex(pd.MultiIndex.from_frame(blocks_raw[keys])).to_numpy()
        )
        b = b[b["block"] < _BLOCK_KEY_BASE]
        b = b.assign(
            key=b["town_id"].astype("int64") * _BLOCK_KEY_BASE + b["block"].astype("int64")
        )
        g = b.groupby("key", sort=True)
        blocks = g[["lat", "lon"]].mean()
        spread = np.maximum(g["lat"].max() - g["lat"].min(), g["lon"].max() - g["lon"].min())
        blocks = blocks[spread <= _SAME_BLOCK_DEG].reset_index()
    else:
        blocks = pd.DataFrame({"key": np.array([], "int64"), "lat": [], "lon": []})
    return {
        "towns": towns,
        "cities": cities,
        "koaza": koaza,
        "blocks": blocks,
        **_key_tables(towns),
    }


# --------------------------------------------------------------------------- index


def _slices(sorted_ids: np.ndarray) -> dict[int, tuple[int, int]]:
    """Row range ``(start, stop)`` of each id in an array sorted by id."""
    if not len(sorted_ids):
        return {}
    bounds = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1], True])
    return dict(
        zip(
            sorted_ids[bounds[:-1]].tolist(),
            zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True),
            strict=True,
        )
    )


class GazetteerIndex:
    """An in-memory gazetteer with the lookup tables the matcher needs.

    Build it with :func:`load_gazetteer`; the constructor is internal.

    Attributes
    ----------
    towns : pandas.DataFrame
        One row per 大字・町丁目 (``town_id`` = row position): ``pref_code, pref,
        city, town, lat, lon, town_key, city_id``; degrees WGS84.
    cities : pandas.DataFrame
        One row per municipality (``city_id`` = row position): ``pref_code, pref,
        city, lat, lon, city_key, seirei_base`` (point = median of its towns).
    koaza : pandas.DataFrame
        小字・通称名 points: ``town_id, koaza_key, koaza, lat, lon``.
    blocks : pandas.DataFrame
        街区 points keyed by ``town_id * 1_000_000 + block``: ``key, lat, lon``.
    checksum : str
        SHA-256 over the source file(s), the index layout version and the
        normalisation rules version; keys persisted indexes and the geocode cache.
    formats : tuple of str
        Layouts of the source files (keys of :data:`FORMATS`).
    source : str
        The path the index was loaded from.
    """

    def __init__(
        self,
        tables: dict[str, pd.DataFrame],
        *,
        checksum: str,
        formats: tuple[str, ...],
        source: str,
    ) -> None:
        self.towns = tables["towns"]
        self.cities = tables["cities"]
        self.koaza = tables["koaza"]
        self.blocks = tables["blocks"]
        self.checksum = checksum
        self.formats = formats
        self.source = source
        self._build_lookups(tables)

    def __repr__(self) -> str:
        return (
            f"GazetteerIndex({self.source!r}, formats={self.formats}, towns={len(self.towns)}, "
            f"koaza={len(self.koaza)}, blocks={len(self.blocks)}, cities={len(self.cities)})"
        )

    def _build_lookups(self, tables: dict[str, pd.DataFrame]) -> None:
        # Plain Python lists where the matcher reads single elements (several times
        # faster than from a NumPy array); the per-town ones are cached properties.
        towns, cities = self.towns, self.cities
        self.city_lat = cities["lat"].to_numpy(dtype=np.float64).tolist()
        self.city_lon = cities["lon"].to_numpy(dtype=np.float64).tolist()
        self.city_pref = cities["pref_code"].to_numpy(dtype=np.int64).tolist()
        self.city_name = cities["city"].to_numpy(dtype=object).tolist()
        self.city_key = cities["city_key"].to_numpy(dtype=object).tolist()
        self.seirei_base = {
            i: b for i, b in enumerate(cities["seirei_base"].tolist()) if isinstance(b, str)
        }
        pref_pts = towns.groupby("pref_code", sort=True)[["lat", "lon"]].median()
        self.pref_point = {
            int(p): (float(a), float(o))
            for p, a, o in zip(pref_pts.index, pref_pts["lat"], pref_pts["lon"], strict=True)
        }
        self.pref_keys = {canonical_text(PREFECTURES[p - 1]): p for p in self.pref_point}

        # Municipality aliases: full name, 郡 omitted, 政令市 without its 区.
        # Scope 0 holds the same keys nationally (for addresses without prefecture).
        city_alias: dict[tuple[int, str], list[int]] = {}
        for cid, (pc, key) in enumerate(zip(self.city_pref, self.city_key, strict=True)):
            aliases = {key}
            if m := _GUN.match(key):
                aliases.add(m.group(2))
            if m := _SEIREI.match(key):
                aliases.add(m.group(1))
            for a in aliases:
                for scope in (pc, 0):
                    city_alias.setdefault((scope, a), []).append(cid)
        self.city_alias: dict[int, dict[str, tuple[int, ...]]] = {}
        for (scope, key), cids in city_alias.items():
            self.city_alias.setdefault(scope, {})[key] = tuple(cids)
        self.city_lengths = {
            s: tuple(sorted({len(k) for k in table}, reverse=True))
            for s, table in self.city_alias.items()
        }

        keys, groups = tables["keys"], tables["groups"]
        # A key's value is the town id itself when it names exactly one town (kind 0),
        # else -1 - i for the i-th other group (see key_towns).
        kind = groups["kind"].to_numpy(dtype=np.int64)
        start = groups["start"].to_numpy(dtype=np.int64)
        stop = groups["stop"].to_numpy(dtype=np.int64)
        members = tables["members"]["tid"].to_numpy(dtype=np.int64)
        single = (kind == 0) & (stop - start == 1)
        value = np.empty(len(groups), dtype=np.int64)
        value[single] = members[start[single]]
        multi = np.flatnonzero(~single)
        value[multi] = -1 - np.arange(len(multi))
        self._multi_group = multi
        self._group_kind, self._group_start, self._group_stop = kind, start, stop
        self._members = members
        # One dict per municipality, built on first use (rows are sorted by scope):
        # loading stays proportional to reading the Parquet files.
        self._town_key_text = keys["key"].array
        self._town_key_value = value[keys["group"].to_numpy(dtype=np.int64)]
        self._town_key_rows = _slices(keys["scope"].to_numpy(dtype=np.int64))
        self._town_tables: dict[int, dict[str, int]] = {}
        lengths = tables["lengths"]
        ls, ll = lengths["scope"].to_numpy().tolist(), lengths["length"].to_numpy().tolist()
        town_lengths: dict[int, list[int]] = {}
        for sc, n in zip(ls, ll, strict=True):
            town_lengths.setdefault(sc, []).append(n)
        self.town_lengths = {sc: tuple(v) for sc, v in town_lengths.items()}
        oz = tables["oaza_names"]
        self.oaza_name = dict(zip(oz["stem"].tolist(), oz["name"].tolist(), strict=True))
        self.pref_cities: dict[int, list[int]] = {}
        for cid, pc in enumerate(self.city_pref):
            self.pref_cities.setdefault(pc, []).append(cid)

        kz = self.koaza  # sorted by town_id
        self._koaza_text = kz["koaza_key"].array
        self.koaza_rows = _slices(kz["town_id"].to_numpy(dtype=np.int64))
        self._koaza_tables: dict[int, dict[str, int]] = {}
        self.block_keys = self.blocks["key"].to_numpy(dtype=np.int64)
        self.block_lat = self.blocks["lat"].to_numpy(dtype=np.float64)
        self.block_lon = self.blocks["lon"].to_numpy(dtype=np.float64)
        self.has_blocks = bool(len(self.block_keys))

    @functools.cached_property
    def town_city(self) -> list[int]:
        """City id of each town."""
        return self.towns["city_id"].to_numpy(dtype=np.int64).tolist()

    @functools.cached_property
    def town_lat(self) -> list[float]:
        """Latitude (degrees) of each town."""
        return self.towns["lat"].to_numpy(dtype=np.float64).tolist()

    @functools.cached_property
    def town_lon(self) -> list[float]:
        """Longitude (degrees) of each town."""
        return self.towns["lon"].to_numpy(dtype=np.float64).tolist()

    @functools.cached_property
    def koaza_lat(self) -> list[float]:
        """Latitude (degrees) of each 小字 row."""
        return self.koaza["lat"].to_numpy(dtype=np.float64).tolist()

    @functools.cached_property
    def koaza_lon(self) -> list[float]:
        """Longitude (degrees) of each 小字 row."""
        return self.koaza["lon"].to_numpy(dtype=np.float64).tolist()

    @functools.cached_property
    def town_name(self) -> list[str]:
        """Town names by town id (a list: fast single-element reads)."""
        return self.towns["town"].to_numpy(dtype=object).tolist()

    @functools.cached_property
    def town_key(self) -> list[str]:
        """Canonical town keys by town id."""
        return self.towns["town_key"].to_numpy(dtype=object).tolist()

    @functools.cached_property
    def _town_key_list(self) -> list[str]:
        return np.asarray(self._town_key_text, dtype=object).tolist()

    @functools.cached_property
    def _koaza_list(self) -> list[str]:
        return np.asarray(self._koaza_text, dtype=object).tolist()

    def town_table(self, city_id: int) -> dict[str, int]:
        """Town keys of one municipality → key value (see ``_build_lookups``)."""
        table = self._town_tables.get(city_id)
        if table is None:
            a, b = self._town_key_rows.get(city_id, (0, 0))
            table = dict(
                zip(self._town_key_list[a:b], self._town_key_value[a:b].tolist(), strict=True)
            )
            self._town_tables[city_id] = table
        return table

    def koaza_table(self, town_id: int) -> dict[str, int]:
        """小字 keys of one town → row of :attr:`koaza` (empty if it has none)."""
        table = self._koaza_tables.get(town_id)
        if table is None:
            a, b = self.koaza_rows.get(town_id, (0, 0))
            table = dict(zip(self._koaza_list[a:b], range(a, b), strict=True))
            self._koaza_tables[town_id] = table
        return table

    def key_towns(self, value: int) -> tuple[int, tuple[int, ...]]:
        """Kind (0 town, 1 大字 stem) and town ids of a town-key value.

        A value ≥ 0 is the id of the one town with that key; -1 - i refers to the
        i-th key shared by several towns or standing for a 大字 stem.
        """
        if value >= 0:
            return 0, (value,)
        g = self._multi_group[-1 - value]
        members = self._members[self._group_start[g] : self._group_stop[g]]
        return int(self._group_kind[g]), tuple(members.tolist())

    def block_point(self, town_id: int, block: int) -> tuple[float, float] | None:
        """Return the (lat, lon) of a 街区, or None if the gazetteer lacks it."""
        if block >= _BLOCK_KEY_BASE or not len(self.block_keys):
            return None
        key = town_id * _BLOCK_KEY_BASE + block
        i = int(np.searchsorted(self.block_keys, key))
        if i < len(self.block_keys) and self.block_keys[i] == key:
            return float(self.block_lat[i]), float(self.block_lon[i])
        return None


# --------------------------------------------------------------------------- persistence

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


def _write_index(directory: Path, tables: dict[str, pd.DataFrame], meta: dict) -> None:
    """Write the index atomically: build in a temporary directory, then rename."""
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


def _read_index(directory: Path) -> tuple[dict[str, pd.DataFrame], dict] | None:
    meta_path = directory / "meta.json"
    if not meta_path.exists():
        return None
    meta = json.loads(meta_path.read_text())
    return {n: pd.read_parquet(directory / f"{n}.parquet") for n in _TABLES}, meta


def load_gazetteer(path: str | os.PathLike, *, index_dir: Path | None = None) -> GazetteerIndex:
    """Load a gazetteer file (or a directory of them) and build the lookup index.

    Parameters
    ----------
    path : path-like
        A ``.csv``, ``.csv.gz`` or ``.zip`` file in one of the :data:`FORMATS`
        layouts (UTF-8 or CP932, detected), or a directory of such files, e.g.
        one MLIT 大字・町丁目 and one 街区 file per prefecture. The layout of each
        file is detected from its header. Rows without coordinates are skipped.
    index_dir : pathlib.Path, optional
        If given, the built tables are persisted there as Parquet in a folder
        named after the SHA-256 of the source file(s), and reused by later calls
        on identical files (no CSV parsing then). Written atomically.

    Returns
    -------
    GazetteerIndex

    Raises
    ------
    GazetteerFormatError
        If a file is missing, unreadable, truncated, of an unknown layout or
        lacks required columns; the message names the file and the columns.
    """
    path = Path(path)
    files = _gazetteer_files(path)
    checksum = _checksum(files)
    cached_dir = Path(index_dir) / f"gazetteer-{checksum[:24]}" if index_dir is not None else None
    if cached_dir is not None and (loaded := _read_index(cached_dir)) is not None:
        tables, meta = loaded
        return GazetteerIndex(
            tables, checksum=checksum, formats=tuple(meta["formats"]), source=str(path)
        )
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
    tables = _build_tables(towns_raw, blocks_raw)
    fmts = tuple(dict.fromkeys(formats))
    if cached_dir is not None:
        _write_index(
            cached_dir,
            tables,
            {"formats": list(fmts), "source": str(path), "version": INDEX_VERSION},
        )
    return GazetteerIndex(tables, checksum=checksum, formats=fmts, source=str(path))
