"""The gazetteer index: building its tables from the raw rows, and the lookups.

:func:`build_tables` aggregates the raw ``towns`` and ``blocks`` rows of
:func:`spillover.geocode.readers.read_gazetteer` into the tables that
:mod:`spillover.geocode.store` persists; :class:`GazetteerIndex` holds them with
the lookup structures the matcher (:mod:`spillover.geocode.match`) reads.

Coordinates are WGS84 / JGD2011 degrees throughout.
"""

from __future__ import annotations

import datetime as dt
import functools
import re

import numpy as np
import pandas as pd

from spillover.geocode._prefectures import PREFECTURES
from spillover.geocode.history import MunicipalHistory, history_aliases
from spillover.geocode.normalize import canonical_text
from spillover.geocode.readers import GazetteerFormatError

__all__ = ["GazetteerIndex", "build_tables"]

_BLOCK_KEY_BASE = 1_000_000
"""Block lookup key = town_id * _BLOCK_KEY_BASE + block number (block < 10**6)."""

_SAME_BLOCK_DEG = 0.01
"""Rows sharing a (town, block) key but spread wider than this (degrees) are dropped."""

_TOWN_ID_COLS = ["pref_code", "pref", "city", "town"]
"""Columns naming one town; its ``town_id`` is its row in the sorted ``towns`` table."""

_CHOME_TAIL = re.compile(r"^(.+?)[〇一二三四五六七八九十百千\d]+丁目$")
_CHOME_KEY = re.compile(r"^(.+?)(\d+)丁目$")
_SEIREI = re.compile(r"^(.+?市)(.+区)$")
_GUN = re.compile(r"^(.+?郡)(.+[町村])$")


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
    return {
        "keys": keys,
        "groups": groups,
        "members": members,
        "oaza_names": oaza_names,
        "lengths": _prefix_lengths(keys),
    }


def _prefix_lengths(keys: pd.DataFrame) -> pd.DataFrame:
    """Distinct town-key lengths (characters) of each scope, longest first.

    A chome key (「元町1丁目」) also adds its length minus one, that of the
    shorthand 「元町1-」/「元町1丁」.
    """
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
    return lengths.reset_index(drop=True)


def build_tables(towns_raw: pd.DataFrame, blocks_raw: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Aggregate raw gazetteer rows into the tables of a :class:`GazetteerIndex`.

    Parameters
    ----------
    towns_raw, blocks_raw : pandas.DataFrame
        Town and 街区 rows from :func:`spillover.geocode.readers.read_gazetteer`
        (``lat``, ``lon`` in degrees).

    Returns
    -------
    dict of str to pandas.DataFrame
        ``towns``, ``cities``, ``koaza`` and ``blocks`` (see :class:`GazetteerIndex`)
        and the town-key tables ``keys``, ``groups``, ``members``, ``oaza_names``
        and ``lengths``; :mod:`spillover.geocode.store` persists them as they are.

    Raises
    ------
    GazetteerFormatError
        If no town has coordinates.
    """
    # A town's point is its own row (小字 empty) where present, else the mean of its 小字;
    # towns known only from 街区 rows get the mean of their blocks.
    base = (
        towns_raw[towns_raw["koaza"] == ""]
        .groupby(_TOWN_ID_COLS, sort=False)[["lat", "lon"]]
        .mean()
    )
    sub = towns_raw.groupby(_TOWN_ID_COLS, sort=False)[["lat", "lon"]].mean()
    from_blocks = blocks_raw.groupby(_TOWN_ID_COLS, sort=False)[["lat", "lon"]].mean()
    towns = base.combine_first(sub).combine_first(from_blocks).reset_index()
    if towns.empty:
        raise GazetteerFormatError("the gazetteer holds no town with coordinates")
    towns = towns.sort_values(_TOWN_ID_COLS, kind="stable").reset_index(drop=True)
    towns["pref_code"] = towns["pref_code"].astype("int16")
    towns["town_key"] = towns["town"].map({t: canonical_text(t) for t in towns["town"].unique()})
    cities = _city_table(towns)
    city_id = pd.Series(
        np.arange(len(cities)), index=pd.MultiIndex.from_frame(cities[["pref_code", "city"]])
    )
    towns["city_id"] = city_id.reindex(
        pd.MultiIndex.from_frame(towns[["pref_code", "city"]])
    ).to_numpy(dtype=np.int32)
    town_id = pd.Series(np.arange(len(towns)), index=pd.MultiIndex.from_frame(towns[_TOWN_ID_COLS]))
    return {
        "towns": towns,
        "cities": cities,
        "koaza": _koaza_table(towns_raw, town_id),
        "blocks": _block_table(blocks_raw, town_id),
        **_key_tables(towns),
    }


def _koaza_table(towns_raw: pd.DataFrame, town_id: pd.Series) -> pd.DataFrame:
    """小字 points (mean of their rows, degrees) by ``town_id`` and canonical 小字 key."""
    kz = towns_raw[towns_raw["koaza"] != ""]
    kz = kz.assign(
        town_id=town_id.reindex(pd.MultiIndex.from_frame(kz[_TOWN_ID_COLS])).to_numpy(),
        koaza_key=kz["koaza"].map(canonical_text),
    )
    koaza = (
        kz[kz["koaza_key"] != ""]
        .groupby(["town_id", "koaza_key"], sort=True)
        .agg(koaza=("koaza", "first"), lat=("lat", "mean"), lon=("lon", "mean"))
        .reset_index()
    )
    koaza["town_id"] = koaza["town_id"].astype("int32")
    return koaza


def _block_table(blocks_raw: pd.DataFrame, town_id: pd.Series) -> pd.DataFrame:
    """街区 points (mean of their rows, degrees) keyed by ``town_id * _BLOCK_KEY_BASE + block``.

    Blocks whose rows spread wider than :data:`_SAME_BLOCK_DEG` are dropped.
    """
    if not len(blocks_raw):
        return pd.DataFrame({"key": np.array([], "int64"), "lat": [], "lon": []})
    b = blocks_raw.assign(
        town_id=town_id.reindex(pd.MultiIndex.from_frame(blocks_raw[_TOWN_ID_COLS])).to_numpy()
    )
    b = b[b["block"] < _BLOCK_KEY_BASE]
    b = b.assign(key=b["town_id"].astype("int64") * _BLOCK_KEY_BASE + b["block"].astype("int64"))
    g = b.groupby("key", sort=True)
    blocks = g[["lat", "lon"]].mean()
    spread = np.maximum(g["lat"].max() - g["lat"].min(), g["lon"].max() - g["lon"].min())
    return blocks[spread <= _SAME_BLOCK_DEG].reset_index()


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

    Build it with :func:`spillover.geocode.load_gazetteer`; the constructor is internal.

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
        SHA-256 over the source file(s), the index layout version, the normalisation
        rules version, the municipal history table and the vintage given; keys the
        geocode cache.
    history : spillover.geocode.history.HistoryAliases
        Municipality names of the municipal history that the gazetteer lacks, mapped to
        its municipalities (already merged into :attr:`city_alias`), and the vintage read
        from its names.
    formats : tuple of str
        Layouts of the source files (keys of :data:`spillover.geocode.readers.FORMATS`).
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
        history: MunicipalHistory,
        vintage: dt.date | None = None,
    ) -> None:
        self.towns = tables["towns"]
        self.cities = tables["cities"]
        self.koaza = tables["koaza"]
        self.blocks = tables["blocks"]
        self.checksum = checksum
        self.formats = formats
        self.source = source
        # Plain Python lists where the matcher reads single elements (several times
        # faster than from a NumPy array); the per-town ones are cached properties.
        self._build_city_lookups(history, vintage)
        self._build_town_lookups(tables)
        self._build_koaza_block_lookups()

    def __repr__(self) -> str:
        return (
            f"GazetteerIndex({self.source!r}, formats={self.formats}, towns={len(self.towns)}, "
            f"koaza={len(self.koaza)}, blocks={len(self.blocks)}, cities={len(self.cities)})"
        )

    def _build_city_lookups(self, history: MunicipalHistory, vintage: dt.date | None) -> None:
        """Prefecture and municipality lookups: points, names and alias keys.

        Names of the municipal history that the gazetteer lacks become aliases too.
        """
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
        self.history = history_aliases(history, self.city_alias, vintage=vintage)
        for scope, table in self.history.aliases.items():
            self.city_alias.setdefault(scope, {}).update(table)
        self.city_lengths = {
            s: tuple(sorted({len(k) for k in table}, reverse=True))
            for s, table in self.city_alias.items()
        }
        self.pref_cities: dict[int, list[int]] = {}
        for cid, pc in enumerate(self.city_pref):
            self.pref_cities.setdefault(pc, []).append(cid)

    def _build_town_lookups(self, tables: dict[str, pd.DataFrame]) -> None:
        """Town-key lookups of each municipality (the dicts themselves are built lazily)."""
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

    def _build_koaza_block_lookups(self) -> None:
        """小字 row ranges of each town (dicts built lazily) and the sorted 街区 arrays."""
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
        """Town keys of one municipality → key value (see ``_build_town_lookups``)."""
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
