"""The exposure stage: plant-level exposure of every establishment to global-firm plants."""

from __future__ import annotations

from functools import partial

import pandas as pd

from spillover.config import NeighbourhoodConfig
from spillover.partitions import TableCache, in_order, per_year, radius_major
from spillover.plants import centre_plants, with_membership
from spillover.spatial import plant_exposure


def exposure_table(
    plants: pd.DataFrame, global_firms: pd.DataFrame, settings: NeighbourhoodConfig
) -> pd.DataFrame:
    """Plant-level exposure of each non-excluded, non-centre establishment and year.

    exposure = Σ over global-firm plants within the radius of w(d) · OPR of the plant's firm
    (OPR in percent, so exposure is in percent-weighted counts); see
    :func:`spillover.spatial.plant_exposure`. One row per radius × year × establishment.
    """
    located = plants[["year", "establishment_id", "firm_id", "lat", "lon", "is_centre"]]
    centres = (
        located[located["is_centre"]].rename(columns={"establishment_id": "centre_id"})
    ).merge(global_firms[["year", "firm_id", "opr"]], on=["year", "firm_id"], how="left")[
        ["year", "centre_id", "lat", "lon", "opr"]
    ]
    points = (
        located[~plants["is_centre"]]
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


#: Plant columns the exposure depends on (hashed per year by the year cache).
INPUT_COLUMNS = ["year", "establishment_id", "firm_id", "lat", "lon", "is_centre", "large_firm"]
_KEYS = ["radius_km", "year", "establishment_id"]


def exposure_tables(
    plants: pd.DataFrame,
    global_firms: pd.DataFrame,
    settings: NeighbourhoodConfig,
    memberships: list[str] = (),
    cache: TableCache | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The stage's tables: :func:`exposure_table` and the other membership rules' exposure.

    The second has the exposure under each rule of ``memberships``
    (:func:`spillover.plants.with_membership`) and a ``membership`` column. Computed year by
    year, each year's tables kept in ``cache`` (:mod:`spillover.partitions`), in the rows'
    whole-panel order.
    """
    centre_plants(plants[["establishment_id", "is_centre"]])  # no centres in any year: stop
    cache = cache or TableCache(None, "exposure", {})
    frames = {"": plants[INPUT_COLUMNS]} | {
        rule: with_membership(plants, rule)[INPUT_COLUMNS] for rule in memberships
    }
    frames["global_firms"] = global_firms[["year", "firm_id", "opr"]]
    parts = per_year(cache, frames, partial(_year_tables, settings=settings))
    table = in_order([part[""] for part in parts], _KEYS, _order(frames[""], settings))
    others = [
        in_order([part[rule] for part in parts], _KEYS, _order(frames[rule], settings)).assign(
            membership=rule
        )
        for rule in memberships
    ]
    empty = table.iloc[:0].assign(membership=pd.Series(dtype="str"))
    return table, pd.concat([empty, *others], ignore_index=True)


def _year_tables(frames: dict[str, pd.DataFrame], settings) -> dict[str, pd.DataFrame]:
    """One year's exposure under the yearly rule ("") and each membership rule."""
    firms = frames["global_firms"]
    return {
        rule: exposure_table(frame, firms, settings)
        for rule, frame in frames.items()
        if rule != "global_firms"
    }


def _order(plants: pd.DataFrame, settings: NeighbourhoodConfig) -> pd.DataFrame:
    """Keys of the exposure rows in whole-panel order: radius, then establishments."""
    points = plants[~plants["is_centre"]]
    if settings.exclude_large_firms:
        points = points[~points["large_firm"].astype(bool)]
    return radius_major(settings.radii_km, points, "establishment_id")
