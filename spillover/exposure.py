"""The exposure stage: plant-level exposure of every establishment to global-firm plants."""

from __future__ import annotations

import pandas as pd

from spillover.config import NeighbourhoodConfig
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
    centres = centre_plants(located).merge(
        global_firms[["year", "firm_id", "opr"]], on=["year", "firm_id"], how="left"
    )[["year", "centre_id", "lat", "lon", "opr"]]
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


def exposure_tables(
    plants: pd.DataFrame,
    global_firms: pd.DataFrame,
    settings: NeighbourhoodConfig,
    memberships: list[str] = (),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The stage's tables: :func:`exposure_table` and the other membership rules' exposure.

    The second has the exposure under each rule of ``memberships``
    (:func:`spillover.plants.with_membership`) and a ``membership`` column.
    """
    table = exposure_table(plants, global_firms, settings)
    others = [
        exposure_table(with_membership(plants, rule), global_firms, settings).assign(
            membership=rule
        )
        for rule in memberships
    ]
    empty = table.iloc[:0].assign(membership=pd.Series(dtype="str"))
    return table, pd.concat([empty, *others], ignore_index=True)
