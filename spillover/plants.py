"""Plant classification: the owning firm's capital, large-firm exclusion and centres.

A *centre* is a domestic manufacturing establishment of a global firm (DESIGN.md §4); a
*large-firm* plant (owning firm's capital ≥ the threshold) never counts as a neighbour.
"""

from __future__ import annotations

import pandas as pd

from spillover.config import Config
from spillover.errors import SpilloverError
from spillover.firms import is_manufacturing


class NoCentresError(SpilloverError, ValueError):
    """No plant of a global firm in any year: there is nothing to aggregate around."""


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


def with_membership(plants: pd.DataFrame, rule: str) -> pd.DataFrame:
    """Classified ``plants`` with ``is_centre`` and ``large_firm`` decided by ``rule``.

    ``yearly``: as classified, year by year. ``base_year``: each establishment keeps the
    status of its first year in the data (a plant that becomes a global firm's later stays
    a neighbour; one whose firm stops being global stays a centre). ``ever``: a centre in
    every year if it is one in any year, and excluded as a large firm's plant in every year
    if it is one in any year.
    """
    if rule == "yearly":
        return plants
    ordered = plants.sort_values(["establishment_id", "year"])
    flags = ordered.groupby("establishment_id", sort=False)[["is_centre", "large_firm"]]
    decided = flags.transform("first" if rule == "base_year" else "any")
    return plants.assign(**{c: decided[c].reindex(plants.index).astype(bool) for c in decided})


def centre_plants(plants: pd.DataFrame) -> pd.DataFrame:
    """The centres among classified ``plants``, with ``establishment_id`` as ``centre_id``."""
    centres = plants[plants["is_centre"]]
    if centres.empty:
        raise NoCentresError(
            "no centres (plants of global firms) in any year: nothing to aggregate"
        )
    return centres.rename(columns={"establishment_id": "centre_id"})
