"""Plant-level exposure to global firms' plants (issue 4, item 4).

The white paper sums establishments around each global-firm plant, so overlapping
neighbourhoods count the same establishment several times (its footnote 241). Turning the
sum around removes that: every establishment j gets one exposure per year,

    exposure_jt = Σ_{k : d_jk <= r} w(d_jk) · OPR_{firm(k), t},

over the global-firm plants k within the radius, so a panel of establishments with plant and
year effects is estimated once per establishment, without double counting.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import numpy as np
import pandas as pd

from spillover.spatial import _frames as F
from spillover.spatial.kernels import kernel_weights


def plant_exposure(
    centres: pd.DataFrame,
    points: pd.DataFrame,
    radius_km: float | Sequence[float],
    value_column: str,
    *,
    kernel: str = "uniform",
    bandwidth_km: float | None = None,
    exclude: str | None = None,
    by: str | None = None,
) -> pd.DataFrame:
    """Exposure of each establishment to the global-firm plants around it.

    Parameters
    ----------
    centres : pandas.DataFrame
        Global-firm plants: ``centre_id`` (unique, within ``by``), ``lat``, ``lon`` in degrees
        and ``value_column`` (e.g. the owning firm's OPR in that year; the pipeline passes
        it in percent).
    points : pandas.DataFrame
        Establishments: ``point_id`` (unique, within ``by``), ``lat``, ``lon`` in degrees;
        other columns are passed through.
    radius_km : float or sequence of float
        Radius in km, or several radii (long form).
    value_column : str
        Numeric column of ``centres`` to sum, weighted by the kernel.
    kernel : str, default "uniform"
        Distance-decay kernel, see :func:`~spillover.spatial.kernel_weights`.
    bandwidth_km : float, optional
        Kernel bandwidth in km; defaults to each radius.
    exclude : str, optional
        Boolean column of ``points``; excluded establishments (e.g. of firms with capital
        ≥ ¥1bn) get no row.
    by : str, optional
        Column of both frames (e.g. ``"year"``); establishments only meet plants of the same
        value.

    Returns
    -------
    pandas.DataFrame
        One row per non-excluded establishment and radius (radii in the given order,
        establishments in input order, those with no plant nearby included with zeros):
        ``[by,] point_id, radius_km, n_centres`` (plants within the radius), ``weight_sum``
        (Σ w), ``exposure`` (Σ w · value), ``n_missing_<value_column>`` (plants whose value is
        NaN: they count in ``n_centres`` and ``weight_sum`` but add nothing to ``exposure``),
        ``nearest_km`` (great-circle distance to the nearest plant within the radius, NaN when
        there is none), then the other point columns.

    Notes
    -----
    The neighbour rule is that of :func:`~spillover.spatial.neighbourhood_sums` with the
    roles turned round: distance ``<= radius_km + BOUNDARY_TOLERANCE_KM``, and an establishment
    is never exposed to the plant with the same id. With the uniform kernel and a value of 1,
    ``exposure`` is the number of neighbourhoods the establishment belongs to.
    """
    radii, value_column = _checked_inputs(
        centres, points, radius_km, value_column, kernel, bandwidth_km, by
    )
    keep = F.exclusion_mask(points, exclude)
    values = F.value_matrix(centres, [value_column])
    shape = (len(radii), len(points))
    n_centres = np.zeros(shape, dtype=np.int64)
    weight_sum, exposure, n_missing = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    nearest = np.full(shape, np.nan)
    for group in F.groups(centres, points, by):
        point_rows = group.point_rows[keep[group.point_rows]]
        search = F.search(
            centres, group.centre_rows, points, point_rows, values[group.centre_rows], reverse=True
        )
        found = F.each_radius(partial(_exposure, search, kernel, bandwidth_km), radii)
        for i, (counts, weights, sums, nearest_km) in enumerate(found):
            n_centres[i, point_rows], weight_sum[i, point_rows] = counts, weights
            exposure[i, point_rows], n_missing[i, point_rows] = sums[:, 0], sums[:, 1]
            nearest[i, point_rows] = nearest_km
    rows = np.flatnonzero(keep)
    repeated = points.take(np.tile(rows, len(radii))).reset_index(drop=True)
    keys = ([by] if by else []) + ["point_id"]
    computed = pd.DataFrame(
        {
            "radius_km": np.repeat(radii, rows.size),
            "n_centres": n_centres[:, rows].reshape(-1),
            "weight_sum": weight_sum[:, rows].reshape(-1),
            "exposure": exposure[:, rows].reshape(-1),
            f"n_missing_{value_column}": np.rint(n_missing[:, rows]).astype(np.int64).reshape(-1),
            "nearest_km": nearest[:, rows].reshape(-1),
        }
    )
    return pd.concat([repeated[keys], computed, repeated.drop(columns=keys)], axis=1)


def _exposure(search, kernel: str, bandwidth_km: float | None, radius: float) -> tuple:
    """Plants within ``radius``, Σ w, Σ w · value and missing values, nearest plant (km)."""
    if kernel == "uniform":
        counts, sums, _ = search.sums(radius)
        weights = counts.astype(float)
    else:

        def weight(d, bandwidth=bandwidth_km or radius):
            return kernel_weights(d, kernel=kernel, bandwidth_km=bandwidth)

        counts, weights, sums = search.weighted_sums(radius, weight, n_weighted=1)
    return counts, weights, sums, search.nearest_km(radius)


def _checked_inputs(centres, points, radius_km, value_column, kernel, bandwidth_km, by):
    """Validate :func:`plant_exposure`'s arguments; return (radii in km, value column)."""
    radii = F.as_radii(radius_km)
    if bandwidth_km is not None:
        F.as_radii(bandwidth_km, name="bandwidth_km")
    kernel_weights(0.0, kernel=kernel, bandwidth_km=bandwidth_km or radii[0])
    F.check_frame(centres, name="centres", id_column="centre_id", by=by)
    F.check_frame(points, name="points", id_column="point_id", by=by)
    (value_column,) = F.check_values(centres, [value_column], name="centres")
    missing_column = f"n_missing_{value_column}"
    names = ["radius_km", "n_centres", "weight_sum", "exposure", missing_column, "nearest_km"]
    clash = [c for c in names if c in points.columns]
    if clash:
        raise ValueError(
            f"points already has column(s) {clash}, which the result needs; "
            "rename or drop them before the call"
        )
    return radii, value_column
