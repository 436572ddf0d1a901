"""The exports stage: classified plants of the run's years with their exports (DESIGN.md §4).

``exports = shipments · export_share / 100`` (million yen) where the survey's own share is
reported; otherwise the configured fallbacks in order: ``firm_ratio`` (the firm's
直接輸出額 / 売上高 in 企業活動基本調査) and ``industry_ratio`` (the 鉱工業 export ratio of the
establishment's industry group). ``export_method`` records which rule produced each value.
"""

from __future__ import annotations

import pandas as pd

from spillover import quarantine
from spillover.config import Config
from spillover.options import DIRECT_SHARE
from spillover.plants import classify_plants


def plant_table(
    located: pd.DataFrame,
    global_firms: pd.DataFrame,
    firms: pd.DataFrame,
    export_ratios: pd.DataFrame | None,
    concordance: pd.DataFrame | None,
    *,
    config: Config,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Classify the located plants of the run's years and add their exports.

    Returns (plants, quarantine rows): rows outside ``config.years`` are quarantined.
    """
    first, last = config.years
    in_years = located["year"].between(first, last)
    rejected = quarantine.rejected_rows(
        located[~in_years],
        stage="exports",
        table="establishments",
        column="year",
        reasons=pd.Series(f"year outside the run's years {first}–{last}", index=located.index),
    )
    plants = classify_plants(located[in_years], global_firms, config=config)
    plants = establishment_exports(
        plants,
        firms,
        export_ratios,
        concordance,
        fallback=list(config.exports.fallback),
        firm_year_offset=config.definitions.firm_year_offset,
    )
    return plants, rejected


def establishment_exports(
    plants: pd.DataFrame,
    firms: pd.DataFrame,
    export_ratios: pd.DataFrame | None,
    concordance: pd.DataFrame | None,
    *,
    fallback: list[str],
    firm_year_offset: int = 0,
) -> pd.DataFrame:
    """Return ``plants`` with ``exports`` (million yen) and ``export_method`` added."""
    out = plants.copy()
    exports = out["shipments"] * out["export_share"] / 100
    method = pd.Series(DIRECT_SHARE, index=out.index, dtype="str").where(exports.notna())
    for rule in fallback:
        todo = exports.isna()
        if not todo.any():
            break
        if rule == "firm_ratio":
            ratio_table = firms.assign(year=firms["year"] - firm_year_offset)
            ratio_table = ratio_table.assign(
                firm_ratio=ratio_table["exports"]
                / ratio_table["sales"].where(ratio_table["sales"] > 0)
            )[["year", "firm_id", "firm_ratio"]]
            ratio = out[["year", "firm_id"]].merge(ratio_table, on=["year", "firm_id"], how="left")
            candidate = out["shipments"] * ratio["firm_ratio"].to_numpy()
        else:  # industry_ratio
            groups = concordance.set_index("jsic")["industry_group"]
            group = out["industry"].str[:2].map(groups)
            lookup = export_ratios.set_index(["year", "industry_group"])["export_ratio"]
            keys = pd.MultiIndex.from_arrays([out["year"], group])
            candidate = out["shipments"] * lookup.reindex(keys).to_numpy() / 100
        fill = todo & candidate.notna()
        exports = exports.where(~fill, candidate)
        method = method.where(~fill, rule)
    out["exports"] = exports.astype("float64")
    out["export_method"] = method.fillna("none")
    return out
