"""Establishment exports, centres and neighbour eligibility (DESIGN.md §4).

``exports = shipments · export_share / 100`` (million yen) where the survey's own share is
reported; otherwise the configured fallbacks in order: ``firm_ratio`` (the firm's
直接輸出額 / 売上高 in 企業活動基本調査) and ``industry_ratio`` (the 鉱工業 export ratio of the
establishment's industry group). ``export_method`` records which rule produced each value.
"""

from __future__ import annotations

import pandas as pd

from spillover.config import Config


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
    method = pd.Series("direct_share", index=out.index, dtype="str").where(exports.notna())
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


def classify_plants(
    plants: pd.DataFrame, global_firms: pd.DataFrame, *, config: Config
) -> pd.DataFrame:
    """Add ``firm_capital``, ``large_firm`` (excluded as neighbour) and ``is_centre``.

    ``global_firms`` (from :func:`spillover.firms.global_firms`) holds every surveyed firm's
    capital and ``is_global`` per year. ``firm_capital`` is the owning firm's capital (million
    yen) from the firm surveys, else the establishment's own reported capital. Unlinked plants
    without any capital count as small unless ``definitions.unlinked_capital_rule`` is
    ``exclude``.
    """
    from spillover.firms import is_manufacturing

    threshold = config.definitions.capital_threshold_million_yen
    firm_columns = global_firms[["year", "firm_id", "capital", "capital_source", "is_global"]]
    out = plants.merge(
        firm_columns.rename(columns={"capital": "firm_capital", "is_global": "_global"}),
        on=["year", "firm_id"],
        how="left",
    )
    own = out["capital"].notna() & out["firm_capital"].isna()
    out.loc[own, "capital_source"] = "establishment"
    out["firm_capital"] = out["firm_capital"].fillna(out["capital"])
    unknown = out["firm_capital"].isna()
    out["large_firm"] = (out["firm_capital"] >= threshold).fillna(False).astype(bool)
    if config.definitions.unlinked_capital_rule == "exclude":
        out["large_firm"] = out["large_firm"] | unknown
    manufacturing = is_manufacturing(out["industry"], config.definitions.manufacturing_jsic_majors)
    out["is_centre"] = out["_global"].astype("boolean").fillna(False).astype(bool) & manufacturing
    return out.drop(columns="_global")
