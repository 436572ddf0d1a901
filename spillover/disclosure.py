"""Disclosure control for tables that leave the secure environment (METI rules).

- primary: a cell built from 1 or 2 establishments (``0 < n < min_establishments``) is
  suppressed (χ);
- dominance (optional): a cell whose ``top_n`` largest establishments hold more than
  ``share`` of its shipments is suppressed;
- secondary: for one centre and year, nested radii r1 < r2 publish two cells whose
  difference is the ring r1 < d ≤ r2; when that ring holds 1..min-1 establishments the larger
  cell is suppressed too, so the ring cannot be derived from the published totals.

Suppressed values become NaN and ``suppression`` says why (``""`` where published).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from spillover.config import DisclosureConfig


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

    ordered = out.assign(_reason=reason).sort_values(["centre_id", "year", "radius_km"])
    ring = ordered.groupby(["centre_id", "year"])["n_neighbours"].diff()
    derivable = ring.between(1, minimum - 1) & (ordered["_reason"] == "")
    # a ring is exposed only when the smaller cell is published too
    smaller_published = ordered.groupby(["centre_id", "year"])["_reason"].shift().eq("")
    reason[derivable.index[derivable & smaller_published]] = "secondary"

    hidden = reason != ""
    for column in value_columns:
        out[column] = out[column].astype("float64").where(~hidden, np.nan)
    out["suppression"] = reason
    return out


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
