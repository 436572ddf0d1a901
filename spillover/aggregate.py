"""Spatial aggregation stages: neighbourhood sums, overlap diagnostics, plant-level exposure.

All three read the classified plants of the exports stage (one row per year and
establishment, with ``lat, lon, is_centre, large_firm, exports, export_method``) and apply the
neighbour rule of :mod:`spillover.neighbours` year by year.
"""

from __future__ import annotations

import pandas as pd

from spillover.config import NeighbourhoodConfig
from spillover.errors import SpilloverError
from spillover.neighbours import (
    neighbour_pairs,
    neighbourhood_sums,
    overlap_diagnostics,
    plant_exposure,
)

#: Neighbourhood sums computed for every centre (million yen; employees in persons).
VALUE_COLUMNS = ["employees", "shipments", "exports", "exports_imputed"]


class AggregationError(SpilloverError, ValueError):
    """Nothing to aggregate (e.g. no centres in any year)."""


def _points(plants: pd.DataFrame, settings: NeighbourhoodConfig) -> pd.DataFrame:
    """Establishments as neighbour candidates: values, and the exclusion flag."""
    return plants.assign(
        exports_imputed=plants["exports"].where(plants["export_method"] != "direct_share", 0.0),
        excluded=plants["large_firm"] if settings.exclude_large_firms else False,
    ).rename(columns={"establishment_id": "point_id"})[
        ["year", "point_id", "lat", "lon", "excluded", *VALUE_COLUMNS]
    ]


def _centres(plants: pd.DataFrame) -> pd.DataFrame:
    centres = plants[plants["is_centre"]]
    if centres.empty:
        raise AggregationError(
            "no centres (plants of global firms) in any year: nothing to aggregate"
        )
    return centres.rename(columns={"establishment_id": "centre_id"})


def neighbourhood_table(plants: pd.DataFrame, settings: NeighbourhoodConfig) -> pd.DataFrame:
    """Sums over each centre's neighbourhood, one row per radius × year × centre."""
    centres = _centres(plants)[["year", "centre_id", "lat", "lon"]]
    table = neighbourhood_sums(
        centres,
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
    centres = _centres(plants)[["year", "centre_id", "lat", "lon"]]
    return overlap_diagnostics(
        centres,
        _points(plants, settings),
        list(settings.radii_km),
        ["exports", "shipments"],
        exclude="excluded",
        by="year",
    )


def exposure_table(
    plants: pd.DataFrame, global_firms: pd.DataFrame, settings: NeighbourhoodConfig
) -> pd.DataFrame:
    """Plant-level exposure of each non-excluded, non-centre establishment and year.

    exposure = Σ over global-firm plants within the radius of w(d) · OPR of the plant's firm
    (percent); see :func:`spillover.neighbours.plant_exposure`.
    """
    centres = _centres(plants).merge(
        global_firms[["year", "firm_id", "opr"]], on=["year", "firm_id"], how="left"
    )[["year", "centre_id", "lat", "lon", "opr"]]
    points = (
        plants[~plants["is_centre"]]
        .rename(columns={"establishment_id": "point_id"})
        .assign(excluded=plants["large_firm"] if settings.exclude_large_firms else False)[
            ["year", "point_id", "lat", "lon", "excluded"]
        ]
    )
    table = plant_exposure(
        centres,
        points,
        list(settings.radii_km),
        "opr",
        kernel=settings.exposure_kernel,
        bandwidth_km=settings.exposure_bandwidth_km,
        exclude="excluded",
        by="year",
    )
    table = table.rename(columns={"point_id": "establishment_id"}).drop(
        columns=["lat", "lon", "excluded"]
    )
    leading = ["radius_km", "year", "establishment_id"]
    return table[leading + [c for c in table.columns if c not in leading]]


def top_shares(plants: pd.DataFrame, settings: NeighbourhoodConfig, top_n: int) -> pd.DataFrame:
    """Share (0–1) of each neighbourhood's shipments held by its ``top_n`` largest plants.

    One row per radius × year × centre with neighbours (for the dominance rule of
    :mod:`spillover.disclosure`).
    """
    centres = _centres(plants)[["year", "centre_id", "lat", "lon"]]
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
