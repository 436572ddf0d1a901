"""Overlap diagnostics: how much the centres' neighbourhoods share (issue 4, item 3)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from spillover.spatial import _frames as F
from spillover.spatial.sums import searched_sums


def overlap_diagnostics(
    centres: pd.DataFrame,
    points: pd.DataFrame,
    radius_km: float | Sequence[float],
    value_columns: Sequence[str] = (),
    *,
    exclude: str | None = None,
    by: str | None = None,
) -> pd.DataFrame:
    """Summarise how often the same establishment is counted in several neighbourhoods.

    Parameters
    ----------
    centres, points, radius_km, value_columns, exclude, by
        As in :func:`~spillover.spatial.neighbourhood_sums`; pass ``by="year"`` for one
        row per year.

    Returns
    -------
    pandas.DataFrame
        One row per ``by`` value (order of first appearance) and radius, with ``m_j`` = the
        number of neighbourhoods point j belongs to:

        - ``n_centres``; ``n_memberships`` = Σ m_j (= Σ of the centres' ``n_neighbours``);
        - ``n_neighbours_distinct`` = #{m_j >= 1}; ``n_neighbours_shared`` = #{m_j >= 2};
        - ``share_neighbours_shared`` = shared / distinct (NaN when no neighbours);
        - ``mean_memberships`` = Σ m_j / distinct; ``max_memberships`` = max m_j;
        - per value column v (NaN counts as 0): ``v_counted`` = Σ m_j v_j (the total of the
          neighbourhood sums), ``v_distinct`` = Σ_{m_j >= 1} v_j,
          ``share_v_in_shared`` = Σ_{m_j >= 2} m_j v_j / ``v_counted`` (the share of the
          neighbourhood sums that comes from establishments counted more than once) and
          ``share_v_excess`` = 1 − ``v_distinct`` / ``v_counted`` (the share that is repeat
          counting).
    """
    _, overlap = sums_and_overlap(
        centres, points, radius_km, [], value_columns, exclude=exclude, by=by
    )
    return overlap


def sums_and_overlap(
    centres: pd.DataFrame,
    points: pd.DataFrame,
    radius_km: float | Sequence[float],
    sum_columns: Sequence[str],
    overlap_columns: Sequence[str],
    *,
    exclude: str | None = None,
    by: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Neighbourhood sums and overlap diagnostics from one search per group and radius.

    Returns :func:`~spillover.spatial.neighbourhood_sums` of ``sum_columns`` and
    :func:`overlap_diagnostics` of ``overlap_columns`` (other arguments as there).
    """
    table, found = searched_sums(
        centres, points, radius_km, sum_columns, exclude=exclude, by=by, memberships=True
    )
    overlap_columns = F.check_values(points, overlap_columns, name="points")
    values = F.value_matrix(points, overlap_columns)[:, : len(overlap_columns)]
    rows = [
        {
            **({by: group.key} if by else {}),
            "radius_km": radius,
            **_summary(
                members, values[point_rows], overlap_columns, n_centres=group.centre_rows.size
            ),
        }
        for group, radius, point_rows, members in found
    ]
    return table, pd.DataFrame(rows)


def _summary(m, values, value_columns, *, n_centres):
    distinct = int((m >= 1).sum())
    shared = int((m >= 2).sum())
    out = {
        "n_centres": n_centres,
        "n_memberships": int(m.sum()),
        "n_neighbours_distinct": distinct,
        "n_neighbours_shared": shared,
        "share_neighbours_shared": shared / distinct if distinct else np.nan,
        "mean_memberships": m.sum() / distinct if distinct else np.nan,
        "max_memberships": int(m.max()) if m.size else 0,
    }
    for i, c in enumerate(value_columns):
        v = values[:, i]
        counted = float(m @ v)
        out[f"{c}_counted"] = counted
        out[f"{c}_distinct"] = float(v[m >= 1].sum())
        out[f"share_{c}_in_shared"] = float(m[m >= 2] @ v[m >= 2]) / counted if counted else np.nan
        out[f"share_{c}_excess"] = 1.0 - out[f"{c}_distinct"] / counted if counted else np.nan
    return out
