"""Panels fed to estimation, and the annual external-demand series.

- neighbourhood panel: one row per (radius_km, centre_id, year) with the neighbourhood sums
  (million yen, persons), the centre firm's OPR (percent) and the external-demand DI (points);
- plant panel: one row per (radius_km, establishment_id, year) with the establishment's own
  exports and its exposure Σ w(d)·OPR (percent) to global-firm plants within the radius.
"""

from __future__ import annotations

import pandas as pd

from spillover.config import ExternalDemandConfig
from spillover.errors import SpilloverError
from spillover.keys import left_lookup, sorted_rows
from spillover.options import DIRECT_SHARE
from spillover.plants import with_membership

#: The columns of the classified plants the panels read (the plants table has 31: addresses
#: and geocoding notes are not read, nationally ~0.5 GB).
INPUT_COLUMNS = [
    "year",
    "establishment_id",
    "firm_id",
    "pref_code",
    "industry",
    "lat",
    "lon",
    "employees",
    "shipments",
    "exports",
    "export_method",
    "is_centre",
    "large_firm",
]
#: The Tankan quarters averaged into a year, as (years after it, quarter): calendar years
#: take Q1–Q4 (surveys of March–December), fiscal years Q2–Q4 and the next year's Q1.
ANNUAL_QUARTERS = {
    "calendar_year": ((0, 1), (0, 2), (0, 3), (0, 4)),
    "fiscal_year": ((0, 2), (0, 3), (0, 4), (1, 1)),
}


def periods_of_year(year: int, aggregation: str) -> list[str]:
    """The Tankan periods (``2015Q2``) averaged into ``year``."""
    return [f"{year + shift}Q{q}" for shift, q in ANNUAL_QUARTERS[aggregation]]


class PanelError(SpilloverError, ValueError):
    """The panel cannot be built from the inputs (e.g. the DI series is missing)."""


def annual_external_demand(di: pd.DataFrame, settings: ExternalDemandConfig) -> pd.DataFrame:
    """Annual mean of quarterly Tankan DIs: columns ``year, industry, external_demand``.

    Calendar years average Q1–Q4 (surveys of March–December); fiscal years average the June,
    September, December and following March surveys. Only complete years (4 quarters) count.
    """
    series = di[di["size_class"] == settings.size_class]
    if series.empty:
        raise PanelError(
            f"external_demand.size_class = {settings.size_class!r} is not in the DI data "
            f"(it has {sorted(di['size_class'].unique())})"
        )
    shift = {q: shift for shift, q in ANNUAL_QUARTERS[settings.aggregation]}
    year = series["period"].str[:4].astype(int) - series["period"].str[-1].astype(int).map(shift)
    annual = (
        series.assign(year=year)
        .groupby(["year", "industry"])["di"]
        .agg(["mean", "size"])
        .reset_index()
    )
    annual = annual[annual["size"] == 4].rename(columns={"mean": "external_demand"})
    wanted = {settings.industry} | (
        set(settings.industry_map.values()) if settings.by_centre_industry else set()
    )
    absent = sorted(wanted - set(annual["industry"]))
    if absent:
        raise PanelError(
            f"external_demand: industries {absent} have no complete year in the DI data "
            f"(it has {sorted(annual['industry'].unique())})"
        )
    return annual[["year", "industry", "external_demand"]].reset_index(drop=True)


def build_panel(
    neighbourhoods: pd.DataFrame,
    centres: pd.DataFrame,
    global_firms: pd.DataFrame,
    demand: pd.DataFrame,
    *,
    settings: ExternalDemandConfig,
) -> pd.DataFrame:
    """Join neighbourhood sums with the centre's firm OPR and the external-demand DI.

    ``centres`` has ``year, establishment_id, firm_id, pref_code, industry``; with
    ``settings.by_centre_industry`` the DI series follows ``settings.industry_map`` (JSIC
    2-digit → Tankan industry name), falling back to ``settings.industry``.
    """
    keys = centres.rename(columns={"establishment_id": "centre_id"})[
        ["year", "centre_id", "firm_id", "pref_code", "industry"]
    ]
    panel = neighbourhoods.merge(keys, on=["year", "centre_id"], how="left", validate="many_to_one")
    panel = panel.merge(
        global_firms[["year", "firm_id", "opr"]], on=["year", "firm_id"], how="left"
    )
    panel = _external_demand_column(panel, demand, settings)
    return panel.sort_values(["radius_km", "centre_id", "year"]).reset_index(drop=True)


def _external_demand_column(
    frame: pd.DataFrame,
    demand: pd.DataFrame,
    settings: ExternalDemandConfig,
) -> pd.DataFrame:
    """Attach the annual DI series chosen by ``settings`` to rows with ``year, industry``."""
    if settings.by_centre_industry:
        series = frame["industry"].str[:2].map(settings.industry_map).fillna(settings.industry)
    else:
        series = pd.Series(settings.industry, index=frame.index)
    return frame.assign(di_industry=series).merge(
        demand.rename(columns={"industry": "di_industry"}), on=["year", "di_industry"], how="left"
    )


def build_plant_panel(
    exposure: pd.DataFrame,
    plants: pd.DataFrame,
    demand: pd.DataFrame,
    *,
    settings: ExternalDemandConfig,
) -> pd.DataFrame:
    """Establishment × year panel of the plant-level exposure design.

    One row per (radius_km, establishment_id, year) of ``exposure`` (non-excluded,
    non-centre establishments) with the establishment's own exports, shipments and employees,
    ``exports_imputed`` (its exports when not from a direct-export share, else 0) and its
    coordinates (``lat``/``lon``, degrees, for Conley errors).
    """
    columns = ["year", "establishment_id", "firm_id", "pref_code", "industry", "lat", "lon"]
    own = plants[[*columns, "exports", "shipments", "employees"]].assign(
        exports_imputed=plants["exports"].where(plants["export_method"] != DIRECT_SHARE, 0.0)
    )
    # sorted before the join (the join and the DI keep the row order): fewer columns to move
    exposure = exposure.take(sorted_rows(exposure, ["radius_km", "establishment_id", "year"]))
    table = left_lookup(exposure, own, ["year", "establishment_id"])
    return _external_demand_column(table, demand, settings)


def panel_tables(
    neighbourhoods: pd.DataFrame,
    exposure: pd.DataFrame,
    plants: pd.DataFrame,
    global_firms: pd.DataFrame,
    di: pd.DataFrame,
    *,
    settings: ExternalDemandConfig,
    membership_cells: pd.DataFrame | None = None,
    membership_exposure: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The panel stage: (centre × year panel, establishment × year panel, annual DI).

    Each panel has a ``membership`` column: ``yearly`` rows from ``neighbourhoods`` and
    ``exposure``, and rows of every other rule in ``membership_cells`` /
    ``membership_exposure`` (centres and keys then follow
    :func:`spillover.plants.with_membership`).
    """
    demand = annual_external_demand(di, settings)
    cells = {"yearly": neighbourhoods}
    exposures = {"yearly": exposure}
    for frame, target in ((membership_cells, cells), (membership_exposure, exposures)):
        if frame is not None:
            for rule, rows in frame.groupby("membership", sort=True):
                target[rule] = rows.drop(columns="membership")
    panels, plant_panels = [], []
    for rule, rule_cells in cells.items():
        adjusted = with_membership(plants, rule)
        panels.append(
            build_panel(
                rule_cells, adjusted[adjusted["is_centre"]], global_firms, demand, settings=settings
            ).assign(membership=rule)
        )
    for rule, rule_exposure in exposures.items():
        plant_panels.append(
            build_plant_panel(rule_exposure, plants, demand, settings=settings).assign(
                membership=rule
            )
        )
    return pd.concat(panels, ignore_index=True), pd.concat(plant_panels, ignore_index=True), demand
