"""Disclosure control for tables that leave the secure environment (METI rules).

- primary: a cell built from 1 or 2 establishments (``0 < n < min_establishments``) is
  suppressed (χ);
- dominance (optional): a cell whose ``top_n`` largest establishments hold more than
  ``share`` of its shipments is suppressed;
- secondary: for one centre and year, nested radii r1 < r2 publish two cells whose
  difference is the ring r1 < d ≤ r2; walking the radii outwards, a cell is suppressed too
  when the ring between it and the nearest *published* smaller cell holds 1..min-1
  establishments, so no ring of 1..min-1 establishments can be derived from what is
  published (counts grow with the radius, so the nearest published cell gives the smallest
  ring).

Suppressed values become NaN and ``suppression`` says why (``""`` where published).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from spillover.config import Config, DisclosureConfig
from spillover.neighbourhoods import VALUE_COLUMNS, top_shares


def suppress_neighbourhoods(
    cells: pd.DataFrame,
    value_columns: list[str],
    settings: DisclosureConfig,
    *,
    top_share_column: str | None = None,
) -> pd.DataFrame:
    """Apply primary, dominance and secondary suppression to neighbourhood cells.

    ``cells`` has ``centre_id, year, radius_km, n_neighbours`` and ``value_columns``;
    ``top_share_column`` (0–1) is the share of the top-n neighbours in the cell's shipments.
    """
    out = cells.copy()
    minimum = settings.min_establishments
    n = out["n_neighbours"]
    reason = pd.Series("", index=out.index, dtype="str")
    reason[(n > 0) & (n < minimum)] = "primary"
    if top_share_column is not None and settings.dominance_share is not None:
        dominated = (out[top_share_column] > settings.dominance_share) & (reason == "")
        reason[dominated] = "dominance"

    order = out.sort_values(["centre_id", "year", "radius_km"]).index
    groups = out.loc[order, ["centre_id", "year"]]
    starts = (groups != groups.shift()).any(axis=1).to_numpy()
    counts = out.loc[order, "n_neighbours"].to_numpy()
    reasons = reason.loc[order].to_numpy(dtype=object)
    published_n = None
    for i in range(len(order)):
        if starts[i]:
            published_n = None
        if reasons[i] != "":
            continue
        if published_n is not None and 0 < counts[i] - published_n < minimum:
            reasons[i] = "secondary"
            continue
        published_n = counts[i]
    reason.loc[order] = reasons

    hidden = reason != ""
    for column in value_columns:
        out[column] = out[column].astype("float64").where(~hidden, np.nan)
    out["suppression"] = reason
    return out


def public_neighbourhoods(
    cells: pd.DataFrame,
    value_columns: list[str],
    settings: DisclosureConfig,
    *,
    top_share_column: str | None = None,
) -> pd.DataFrame:
    """The releasable neighbourhood table: suppressed cells and no identifying columns.

    Only ``radius_km, year, neighbourhood_no, n_neighbours``, the value columns and
    ``suppression`` are kept: centre ids, coordinates and prefecture codes never leave.
    ``neighbourhood_no`` numbers the centres 1..n in sorted-id order, the same across years.
    """
    public = suppress_neighbourhoods(
        cells, value_columns, settings, top_share_column=top_share_column
    )
    numbers = {centre: i + 1 for i, centre in enumerate(sorted(public["centre_id"].unique()))}
    public["neighbourhood_no"] = public["centre_id"].map(numbers).astype("int64")
    columns = [
        "radius_km",
        "year",
        "neighbourhood_no",
        "n_neighbours",
        *value_columns,
        "suppression",
    ]
    return public[columns].reset_index(drop=True)


def public_table(cells: pd.DataFrame, plants: pd.DataFrame, config: Config) -> pd.DataFrame:
    """The releasable neighbourhood table of a run (``public/neighbourhoods``).

    ``cells`` are the neighbourhood sums, ``plants`` the classified plants (for the
    dominance shares when ``disclosure.dominance_top_n`` is set).
    """
    rule = config.disclosure
    top_column = None
    if rule.dominance_top_n and rule.dominance_share:
        shares = top_shares(plants, config.neighbourhoods, rule.dominance_top_n)
        cells = cells.merge(shares, on=["radius_km", "year", "centre_id"], how="left")
        cells["top_share"] = cells["top_share"].fillna(0.0)
        top_column = "top_share"
    return public_neighbourhoods(cells, VALUE_COLUMNS, rule, top_share_column=top_column)


def describe_rule(settings: DisclosureConfig) -> str:
    """The applied rules in one sentence (for the manifest)."""
    small = settings.min_establishments - 1
    text = (
        f"cells from 1..{small} establishments suppressed (primary); rings between nested radii "
        f"holding 1..{small} establishments suppressed (secondary)"
    )
    if settings.dominance_top_n and settings.dominance_share:
        text += (
            f"; cells whose top {settings.dominance_top_n} establishments hold more than "
            f"{settings.dominance_share:.0%} of shipments suppressed (dominance)"
        )
    return text


def disclosure_summary(public: pd.DataFrame) -> dict[str, int]:
    """Counts of published and suppressed cells by reason (for the manifest)."""
    counts = public["suppression"].replace("", "published").value_counts()
    return {str(k): int(v) for k, v in counts.items()}


def manifest_section(settings: DisclosureConfig, public: pd.DataFrame) -> dict:
    """The manifest's ``disclosure`` entry: the rule, the tables it covers, cell counts."""
    return {
        "rule": describe_rule(settings),
        "applied_to": ["public/neighbourhoods"],
        "cells": disclosure_summary(public),
    }
