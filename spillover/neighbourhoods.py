"""The neighbourhoods stage: sums around every centre, overlap diagnostics, cell members.

Each reads the classified plants of the exports stage (one row per year and establishment,
with ``lat, lon, is_centre, large_firm, exports, export_method``) and applies the neighbour
rule of :mod:`spillover.spatial` year by year.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd

from spillover.config import NeighbourhoodConfig
from spillover.options import DIRECT_SHARE, VALUE_COLUMN_NAMES
from spillover.partitions import TableCache, in_order, per_year, radius_major
from spillover.plants import centre_plants, with_membership
from spillover.spatial import BOUNDARY_TOLERANCE_KM, neighbourhood_sums
from spillover.spatial.overlap import sums_and_overlap
from spillover.spatial.sums import neighbour_pair_rows

#: Neighbourhood sums computed for every centre (million yen; employees in persons).
VALUE_COLUMNS = list(VALUE_COLUMN_NAMES)


def _points(plants: pd.DataFrame, settings: NeighbourhoodConfig) -> pd.DataFrame:
    """Establishments as neighbour candidates: values, and the exclusion flag."""
    values = [c for c in VALUE_COLUMNS if c != "exports_imputed"]
    return (
        plants[["year", "establishment_id", "lat", "lon", *values]]
        .assign(
            exports_imputed=plants["exports"].where(plants["export_method"] != DIRECT_SHARE, 0.0),
            excluded=plants["large_firm"] if settings.exclude_large_firms else False,
        )
        .rename(columns={"establishment_id": "point_id"})[
            ["year", "point_id", "lat", "lon", "excluded", *VALUE_COLUMNS]
        ]
    )


def _centres(plants: pd.DataFrame) -> pd.DataFrame:
    located = plants[["year", "establishment_id", "lat", "lon", "is_centre"]]
    return located[located["is_centre"]].rename(columns={"establishment_id": "centre_id"})[
        ["year", "centre_id", "lat", "lon"]
    ]


def neighbourhood_table(plants: pd.DataFrame, settings: NeighbourhoodConfig) -> pd.DataFrame:
    """Sums over each centre's neighbourhood, one row per radius × year × centre."""
    table = neighbourhood_sums(
        _centres(plants),
        _points(plants, settings),
        list(settings.radii_km),
        VALUE_COLUMNS,
        exclude="excluded",
        by="year",
    )
    return _keys_first(table)


def table_and_overlap(
    plants: pd.DataFrame, settings: NeighbourhoodConfig
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`neighbourhood_table` and its overlap diagnostics, one search per year and radius.

    The second has, per year and radius, the neighbours shared between centres and the
    repeat-counted exports and shipments (:func:`spillover.spatial.overlap_diagnostics`).
    """
    table, overlap = sums_and_overlap(
        _centres(plants),
        _points(plants, settings),
        list(settings.radii_km),
        VALUE_COLUMNS,
        ["exports", "shipments"],
        exclude="excluded",
        by="year",
    )
    return _keys_first(table), overlap


def _keys_first(table: pd.DataFrame) -> pd.DataFrame:
    leading = ["radius_km", "year", "centre_id", "n_neighbours"]
    return table[leading + [c for c in table.columns if c not in leading]]


#: Plant columns the stage's tables depend on (hashed per year by the year cache).
INPUT_COLUMNS = [
    "year",
    "establishment_id",
    "lat",
    "lon",
    "is_centre",
    "large_firm",
    "employees",
    "shipments",
    "exports",
    "export_method",
]
_CELL_KEYS = ["radius_km", "year", "centre_id"]


def neighbourhood_tables(
    plants: pd.DataFrame,
    settings: NeighbourhoodConfig,
    memberships: list[str] = (),
    cache: TableCache | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The stage's tables: neighbourhood sums, overlap, and the other membership rules' sums.

    The third has :func:`neighbourhood_table` under each rule of ``memberships``
    (:func:`spillover.plants.with_membership`) and a ``membership`` column (no rows when
    ``memberships`` is empty). Computed year by year, each year's tables kept in ``cache``
    (:mod:`spillover.partitions`), in the rows' whole-panel order.
    """
    centre_plants(plants[["establishment_id", "is_centre"]])  # no centres in any year: stop
    cache = cache or TableCache(None, "neighbourhoods", {})
    frames = {"": plants[INPUT_COLUMNS]} | {
        rule: with_membership(plants, rule)[INPUT_COLUMNS] for rule in memberships
    }
    parts = per_year(cache, frames, partial(_year_tables, settings=settings))
    table = in_order(
        [part["table"] for part in parts], _CELL_KEYS, _cell_order(frames[""], settings)
    )
    overlap = pd.concat([part["overlap"] for part in parts], ignore_index=True)
    empty = table.iloc[:0].assign(membership=pd.Series(dtype="str"))
    others = [
        in_order(
            [part[f"membership/{rule}"] for part in parts],
            _CELL_KEYS,
            _cell_order(frames[rule], settings),
        ).assign(membership=rule)
        for rule in memberships
    ]
    return table, overlap, pd.concat([empty, *others], ignore_index=True)


def _year_tables(frames: dict[str, pd.DataFrame], settings) -> dict[str, pd.DataFrame]:
    """One year's neighbourhood table, overlap and membership-rule tables."""
    out = dict(zip(("table", "overlap"), table_and_overlap(frames[""], settings), strict=True))
    for rule, frame in frames.items():
        if rule:
            out[f"membership/{rule}"] = neighbourhood_table(frame, settings)
    return out


def _cell_order(plants: pd.DataFrame, settings: NeighbourhoodConfig) -> pd.DataFrame:
    """Keys of the neighbourhood table's rows in whole-panel order: radius, then centres."""
    return radius_major(settings.radii_km, _centres(plants), "centre_id")


def cell_members(plants: pd.DataFrame, settings: NeighbourhoodConfig) -> pd.DataFrame:
    """Who contributes to each neighbourhood cell: one row per radius × year × centre × member.

    The members of a cell are the establishments its sums in :func:`neighbourhood_table`
    add up (the same neighbour rule, one neighbour-pair search at
    the largest radius). The disclosure rule counts, per value column, the members with a
    non-zero value (:mod:`spillover.disclosure`).

    Parameters
    ----------
    plants : pandas.DataFrame
        Classified plants of the exports stage.
    settings : NeighbourhoodConfig
        Radii (km) and the exclusion rule.

    Returns
    -------
    pandas.DataFrame
        ``radius_km, year, centre_id, establishment_id``, ``inner_radius_km`` (the smallest
        radius at which it is a member of that centre-year), the member's own
        :data:`VALUE_COLUMNS` (persons, million yen; float, NaN where missing) and its
        ``export_method``; the ids and the method are categoricals (sorted categories).
    """
    return _members(plants, settings)[0]


def cell_members_by_year(plants: pd.DataFrame, settings: NeighbourhoodConfig):
    """:func:`cell_members` one survey year at a time: a national year is ~2.4·10⁶ rows.

    Yields a frame per year (ascending) with :func:`cell_members`' columns plus ``order``
    (int64): the row's place in :func:`cell_members` of all ``plants`` (by radius, centre and
    member), so the parts in ``order`` are that table. Establishment ids share one set of
    categories (every id of ``plants``, sorted).
    """
    ids = pd.Index(pd.unique(plants["establishment_id"].dropna())).sort_values()
    is_centre = plants["is_centre"].to_numpy(dtype=bool)
    centre_rank = np.cumsum(is_centre) - 1  # each plant row's rank among the centres
    n_centres, n_plants = int(is_centre.sum()), len(plants)
    radii = pd.Index(settings.radii_km)
    for _, rows in sorted(plants.groupby("year", sort=True).indices.items()):
        part, centre_at, point_at = _members(plants.iloc[rows], settings)
        radius = radii.get_indexer(part["radius_km"]).astype(np.int64)
        order = (radius * n_centres + centre_rank[rows[centre_at]]) * n_plants + rows[point_at]
        part["establishment_id"] = part["establishment_id"].cat.set_categories(ids)
        yield part.assign(order=order)


def _members(
    plants: pd.DataFrame, settings: NeighbourhoodConfig
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """:func:`cell_members` and, per row, the positions in ``plants`` of its centre and member."""
    points = _points(plants, settings)
    centres = _centres(plants)
    centre_rows, point_rows, distance = neighbour_pair_rows(
        centres, points, max(settings.radii_km), exclude="excluded", by="year"
    )
    # radius by radius (each the pairs within it), every column taken once for all radii
    inside = [np.flatnonzero(distance <= r + BOUNDARY_TOLERANCE_KM) for r in settings.radii_km]
    radius = np.repeat(np.asarray(settings.radii_km, dtype=float), [len(i) for i in inside])
    pairs = np.concatenate(inside)  # radii_km is never empty (config)
    at_centre, at_point = centre_rows[pairs], point_rows[pairs]
    inner = _inner_radius(distance[pairs], settings.radii_km)
    del inside, pairs, centre_rows, point_rows, distance
    columns = {
        "radius_km": radius,
        "year": points["year"].to_numpy(dtype=np.int64)[at_point],
        "centre_id": _categorical(centres["centre_id"], at_centre),
        "establishment_id": _categorical(points["point_id"], at_point),
        "inner_radius_km": inner,
    }
    for column in VALUE_COLUMNS:
        columns[column] = points[column].to_numpy(dtype="float64", na_value=np.nan)[at_point]
    columns["export_method"] = _categorical(plants["export_method"], at_point)
    frame = pd.DataFrame(columns, copy=False)  # the arrays become its columns: no copy
    centre_positions = np.flatnonzero(plants["is_centre"].to_numpy(dtype=bool))
    return frame, centre_positions[at_centre], at_point


def _inner_radius(distance: np.ndarray, radii_km) -> np.ndarray:
    """The smallest of the (sorted) radii that each distance (km) is within."""
    inner = np.full(len(distance), radii_km[-1], dtype=float)
    for radius in radii_km[-2::-1]:  # outer to inner: the smallest one holding it wins
        inner[distance <= radius + BOUNDARY_TOLERANCE_KM] = radius
    return inner


def _categorical(values: pd.Series, rows: np.ndarray) -> pd.Categorical:
    """``values`` at positions ``rows`` as a categorical (sorted categories, NaN kept).

    A member table repeats each id in ~10^2 rows: codes instead of strings (national scale:
    3 columns × 1.9·10^7 rows taken as int32, not as strings).
    """
    codes, uniques = pd.factorize(values, sort=True)
    return pd.Categorical.from_codes(codes[rows], categories=uniques)
