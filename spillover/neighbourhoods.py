"""The neighbourhoods stage: sums around every centre, overlap diagnostics, dominance shares.

Each reads the classified plants of the exports stage (one row per year and establishment,
with ``lat, lon, is_centre, large_firm, exports, export_method``) and applies the neighbour
rule of :mod:`spillover.spatial` year by year.
"""

from __future__ import annotations

import pandas as pd

from spillover.config import NeighbourhoodConfig
from spillover.options import DIRECT_SHARE
from spillover.plants import centre_plants
from spillover.spatial import neighbour_pairs, neighbourhood_sums, overlap_diagnostics

#: Neighbourhood sums computed for every centre (million yen; employees in persons).
VALUE_COLUMNS = ["employees", "shipments", "exports", "exports_imputed"]


def _points(plants: pd.DataFrame, settings: NeighbourhoodConfig) -> pd.DataFrame:
    """Establishments as neighbour candidates: values, and the exclusion flag."""
    return plants.assign(
        exports_imputed=plants["exports"].where(plants["export_method"] != DIRECT_SHARE, 0.0),
        excluded=plants["large_firm"] if settings.exclude_large_firms else False,
    ).rename(columns={"establishment_id": "point_id"})[
        ["year", "point_id", "lat", "lon", "excluded", *VALUE_COLUMNS]
    ]


def _centres(plants: pd.DataFrame) -> pd.DataFrame:
    return centre_plants(plants)[["year", "centre_id", "lat", "lon"]]


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
    leading = ["radius_km", "year", "centre_id", "n_neighbours"]
    return table[leading + [c for c in table.columns if c not in leading]]


def overlap_table(plants: pd.DataFrame, settings: NeighbourhoodConfig) -> pd.DataFrame:
    """Per year and radius: neighbours shared between centres and repeat-counted exports."""
    return overlap_diagnostics(
        _centres(plants),
        _points(plants, settings),
        list(settings.radii_km),
        ["exports", "shipments"],
        exclude="excluded",
        by="year",
    )


def neighbourhood_tables(
    plants: pd.DataFrame, settings: NeighbourhoodConfig
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The stage's two tables: (:func:`neighbourhood_table`, :func:`overlap_table`)."""
    return neighbourhood_table(plants, settings), overlap_table(plants, settings)


def top_shares(plants: pd.DataFrame, settings: NeighbourhoodConfig, top_n: int) -> pd.DataFrame:
    """Share (0–1) of each neighbourhood's shipments held by its ``top_n`` largest plants.

    One row per radius × year × centre with neighbours (for the dominance rule of
    :mod:`spillover.disclosure`).
    """
    centres = _centres(plants)
    points = _points(plants, settings)
    shipments = points.set_index(["year", "point_id"])["shipments"]
    frames = []
    for radius in settings.radii_km:
        pairs = neighbour_pairs(centres, points, radius, exclude="excluded", by="year")
        keys = pd.MultiIndex.from_arrays([pairs["year"], pairs["point_id"]])
        pairs = pairs.assign(shipments=shipments.reindex(keys).fillna(0.0).to_numpy())
        pairs = pairs.sort_values(["year", "centre_id", "shipments"], ascending=[True, True, False])
        rank = pairs.groupby(["year", "centre_id"]).cumcount()
        grouped = pairs.groupby(["year", "centre_id"])["shipments"]
        top = pairs[rank < top_n].groupby(["year", "centre_id"])["shipments"].sum()
        share = (top / grouped.sum()).fillna(0.0).rename("top_share").reset_index()
        frames.append(share.assign(radius_km=radius))
    return pd.concat(frames, ignore_index=True)
