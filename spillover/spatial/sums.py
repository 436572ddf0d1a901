"""Neighbourhood sums and the long neighbour table around centres (issue 4, items 1–2)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import numpy as np
import pandas as pd

from spillover.spatial import _frames as F
from spillover.spatial.kernels import kernel_weights


def neighbour_pairs(
    centres: pd.DataFrame,
    points: pd.DataFrame,
    radius_km: float,
    *,
    exclude: str | None = None,
    by: str | None = None,
) -> pd.DataFrame:
    """Long neighbour table: every (centre, point) pair within ``radius_km``.

    Parameters
    ----------
    centres : pandas.DataFrame
        ``centre_id`` (unique, within ``by``), ``lat``, ``lon`` in degrees.
    points : pandas.DataFrame
        ``point_id`` (unique, within ``by``), ``lat``, ``lon`` in degrees.
    radius_km : float
        Search radius in km; a point at great-circle distance ``<= radius_km`` (plus
        :data:`~spillover.spatial.BOUNDARY_TOLERANCE_KM`) is inside.
    exclude : str, optional
        Name of a boolean column of ``points``; its True rows are never neighbours.
    by : str, optional
        Column of both frames (e.g. ``"year"``); centres only meet points of the same value.

    Returns
    -------
    pandas.DataFrame
        Columns ``[by,] centre_id, point_id, distance_km`` (great-circle, km), ordered by the
        centres' input order, then the points' input order. A point never pairs with the centre
        whose ``centre_id`` equals its ``point_id``. Centres without neighbours have no rows.
    """
    centre_rows, point_rows, distance = neighbour_pair_rows(
        centres, points, radius_km, exclude=exclude, by=by
    )
    columns = {}
    if by is not None:
        columns[by] = centres[by].take(centre_rows).reset_index(drop=True)
    columns["centre_id"] = centres["centre_id"].take(centre_rows).reset_index(drop=True)
    columns["point_id"] = points["point_id"].take(point_rows).reset_index(drop=True)
    columns["distance_km"] = pd.Series(distance, dtype=float)
    return pd.DataFrame(columns)


def neighbour_pair_rows(
    centres: pd.DataFrame,
    points: pd.DataFrame,
    radius_km: float,
    *,
    exclude: str | None = None,
    by: str | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`neighbour_pairs` as row positions: no ids looked up or copied.

    Returns
    -------
    centre_rows, point_rows : numpy.ndarray
        Positions in ``centres`` and ``points`` of each pair, ordered by centre then point.
    distance_km : numpy.ndarray
        Great-circle distance (km) of each pair.
    """
    (radius,) = F.as_radii(radius_km)
    F.check_frame(centres, name="centres", id_column="centre_id", by=by)
    F.check_frame(points, name="points", id_column="point_id", by=by)
    keep = F.exclusion_mask(points, exclude)
    centre_parts, point_parts, distance_parts = [], [], []
    for group in F.groups(centres, points, by):
        point_rows = group.point_rows[keep[group.point_rows]]
        search = F.search(
            centres, group.centre_rows, points, point_rows, np.zeros((point_rows.size, 0))
        )
        for q, j, d in search.pairs(radius):
            centre_parts.append(group.centre_rows[q])
            point_parts.append(point_rows[j])
            distance_parts.append(d)
    centre_rows = _concat(centre_parts, np.intp)
    point_rows = _concat(point_parts, np.intp)
    distance = _concat(distance_parts, float)
    order = np.argsort(centre_rows.astype(np.int64) * len(points) + point_rows, kind="stable")
    return centre_rows[order], point_rows[order], distance[order]


def neighbourhood_sums(
    centres: pd.DataFrame,
    points: pd.DataFrame,
    radius_km: float | Sequence[float],
    value_columns: Sequence[str],
    *,
    exclude: str | None = None,
    by: str | None = None,
) -> pd.DataFrame:
    """Count and sum the points within one or several radii of each centre.

    Parameters
    ----------
    centres : pandas.DataFrame
        ``centre_id`` (unique, within ``by``), ``lat``, ``lon`` in degrees (WGS84/JGD2011);
        other columns are passed through.
    points : pandas.DataFrame
        ``point_id`` (unique, within ``by``), ``lat``, ``lon`` in degrees and the value columns.
    radius_km : float or sequence of float
        Radius in km, or several radii (answered in one call, long form).
    value_columns : sequence of str
        Numeric or boolean columns of ``points`` to sum (may be empty: counts only).
    exclude : str, optional
        Name of a boolean column of ``points``; its True rows are never neighbours.
    by : str, optional
        Column of both frames (e.g. ``"year"``); centres only meet points of the same value.

    Returns
    -------
    pandas.DataFrame
        One row per centre and radius, radii in the given order and centres in input order
        within each radius (centres without neighbours included, with zeros). Columns:
        ``[by,] centre_id, radius_km, n_neighbours``, the sum of each value column under its
        own name, ``n_missing_<column>`` for each value column, then the other centre columns.

    Notes
    -----
    Neighbour rule: great-circle distance ``d <= radius_km + BOUNDARY_TOLERANCE_KM`` on a sphere
    of radius 6,371.0088 km, the point not excluded and ``point_id != centre_id``. Missing
    values (NaN) add nothing to a sum and are counted in ``n_missing_<column>``; the neighbour
    itself still counts in ``n_neighbours``. Sums of integer or boolean columns are int64,
    others float64.
    """
    return searched_sums(centres, points, radius_km, value_columns, exclude=exclude, by=by)[0]


def searched_sums(
    centres: pd.DataFrame,
    points: pd.DataFrame,
    radius_km: float | Sequence[float],
    value_columns: Sequence[str],
    *,
    exclude: str | None = None,
    by: str | None = None,
    memberships: bool = False,
) -> tuple[pd.DataFrame, list[tuple]]:
    """:func:`neighbourhood_sums` and, from the same searches, each point's memberships.

    With ``memberships``, the list has one ``(group, radius, point_rows, members)`` per ``by``
    group and radius: ``members[i]`` is the number of the group's centres within the radius
    of point ``point_rows[i]`` (excluded points left out); else it is empty.
    """
    radii = F.as_radii(radius_km)
    F.check_frame(centres, name="centres", id_column="centre_id", by=by)
    F.check_frame(points, name="points", id_column="point_id", by=by)
    value_columns = F.check_values(points, value_columns, name="points")
    keep = F.exclusion_mask(points, exclude)
    values = F.value_matrix(points, value_columns)
    counts = np.zeros((len(radii), len(centres)), dtype=np.int64)
    sums = np.zeros((len(radii), len(centres), values.shape[1]))
    found = []
    for group in F.groups(centres, points, by):
        point_rows = group.point_rows[keep[group.point_rows]]
        search = F.search(centres, group.centre_rows, points, point_rows, values[point_rows])
        outs = F.each_radius(partial(search.sums, memberships=memberships), radii)
        for i, (radius, (count, total, members)) in enumerate(zip(radii, outs, strict=True)):
            counts[i, group.centre_rows], sums[i, group.centre_rows] = count, total
            if memberships:
                found.append((group, radius, point_rows, members))
    labels = [{"radius_km": r} for r in radii]
    return _result(centres, points, labels, counts, sums, value_columns, by=by), found


def ring_sums(
    centres: pd.DataFrame,
    points: pd.DataFrame,
    ring_edges_km: Sequence[float],
    value_columns: Sequence[str],
    *,
    exclude: str | None = None,
    by: str | None = None,
) -> pd.DataFrame:
    """Count and sum the points in distance rings around each centre (e.g. 0–5 vs 5–10 km).

    Parameters
    ----------
    centres, points, value_columns, exclude, by
        As in :func:`neighbourhood_sums`.
    ring_edges_km : sequence of float
        Increasing ring edges in km, e.g. ``[0, 5, 10]`` for the rings 0–5 and 5–10 km. The
        first edge may be 0.

    Returns
    -------
    pandas.DataFrame
        One row per centre and ring (rings inner to outer, centres in input order):
        ``[by,] centre_id, ring_inner_km, ring_outer_km, n_neighbours``, the sums,
        ``n_missing_<column>``, then the other centre columns.

    Notes
    -----
    A point at distance ``d`` is in the ring ``(inner, outer]`` when it is a neighbour at
    ``radius_km = outer`` but not at ``radius_km = inner`` (the innermost ring with
    ``inner = 0`` therefore includes ``d = 0``). Rings are differences of
    :func:`neighbourhood_sums` over the edges, so they add up to the sum at the outer edge.
    """
    edges = [float(e) for e in np.atleast_1d(np.asarray(ring_edges_km, dtype=float))]
    if (
        len(edges) < 2
        or any(b <= a for a, b in zip(edges, edges[1:], strict=False))
        or edges[0] < 0
    ):
        raise ValueError(
            f"ring_edges_km must be at least two increasing distances >= 0 km, "
            f"got {list(ring_edges_km)!r}"
        )
    value_columns = F.check_values(points, value_columns, name="points")
    radii = [e for e in edges if e > 0]
    cumulative = neighbourhood_sums(centres, points, radii, value_columns, exclude=exclude, by=by)
    n = len(centres)
    sum_columns = [*value_columns, *(f"n_missing_{c}" for c in value_columns)]
    count = cumulative["n_neighbours"].to_numpy().reshape(len(radii), n)
    total = cumulative[sum_columns].to_numpy(dtype=float).reshape(len(radii), n, -1)
    if edges[0] == 0:
        count = np.vstack([np.zeros((1, n), dtype=np.int64), count])
        total = np.concatenate([np.zeros((1, n, total.shape[2])), total])
    labels = [
        {"ring_inner_km": a, "ring_outer_km": b} for a, b in zip(edges, edges[1:], strict=False)
    ]
    return _result(
        centres,
        points,
        labels,
        np.diff(count, axis=0),
        np.diff(total, axis=0),
        value_columns,
        by=by,
    )


def kernel_sums(
    centres: pd.DataFrame,
    points: pd.DataFrame,
    radius_km: float | Sequence[float],
    value_columns: Sequence[str],
    *,
    kernel: str,
    bandwidth_km: float | None = None,
    exclude: str | None = None,
    by: str | None = None,
) -> pd.DataFrame:
    """Distance-weighted sums of the points within the radius of each centre.

    Parameters
    ----------
    centres, points, radius_km, value_columns, exclude, by
        As in :func:`neighbourhood_sums`.
    kernel : str
        Kernel name, see :func:`~spillover.spatial.kernel_weights`.
    bandwidth_km : float, optional
        Kernel bandwidth in km; defaults to each radius.

    Returns
    -------
    pandas.DataFrame
        As :func:`neighbourhood_sums` (``n_neighbours`` and ``n_missing_<column>`` are
        unweighted counts), with each value column holding ``Σ w(d) · value`` and an extra
        column ``weight_sum`` = ``Σ w(d)`` after ``n_neighbours``.

    Notes
    -----
    Cost grows with the number of neighbour pairs (each distance is needed), unlike
    :func:`neighbourhood_sums`, whose cost grows with the neighbourhoods' perimeter.
    """
    radii = F.as_radii(radius_km)
    if bandwidth_km is not None:
        F.as_radii(bandwidth_km, name="bandwidth_km")
    F.check_frame(centres, name="centres", id_column="centre_id", by=by)
    F.check_frame(points, name="points", id_column="point_id", by=by)
    value_columns = F.check_values(points, value_columns, name="points")
    kernel_weights(0.0, kernel=kernel, bandwidth_km=bandwidth_km or radii[0])
    keep = F.exclusion_mask(points, exclude)
    values = F.value_matrix(points, value_columns)
    counts = np.zeros((len(radii), len(centres)), dtype=np.int64)
    weights = np.zeros((len(radii), len(centres)))
    sums = np.zeros((len(radii), len(centres), values.shape[1]))
    for group in F.groups(centres, points, by):
        point_rows = group.point_rows[keep[group.point_rows]]
        search = F.search(centres, group.centre_rows, points, point_rows, values[point_rows])
        for i, radius in enumerate(radii):

            def weight(d, bandwidth=bandwidth_km or radius):
                return kernel_weights(d, kernel=kernel, bandwidth_km=bandwidth)

            found = search.weighted_sums(radius, weight, n_weighted=len(value_columns))
            counts[i, group.centre_rows], weights[i, group.centre_rows] = found[:2]
            sums[i, group.centre_rows] = found[2]
    out = _result(
        centres,
        points,
        [{"radius_km": r} for r in radii],
        counts,
        sums,
        value_columns,
        by=by,
        integer_sums=False,
    )
    out.insert(out.columns.get_loc("n_neighbours") + 1, "weight_sum", weights.reshape(-1))
    return out


def _result(centres, points, labels, counts, sums, value_columns, *, by, integer_sums=True):
    """Long frame: one block of centre rows per label (a radius or a ring).

    With ``integer_sums``, sums of integer or boolean columns are returned as int64; without,
    the sums are kernel-weighted (float64) and the caller adds ``weight_sum``.
    """
    k = len(value_columns)
    names = [
        *labels[0],
        "n_neighbours",
        *(() if integer_sums else ("weight_sum",)),
        *value_columns,
        *(f"n_missing_{c}" for c in value_columns),
    ]
    clash = [c for c in names if c in centres.columns]
    if clash:
        raise ValueError(
            f"centres already has column(s) {clash}, which the result needs; "
            "rename or drop them before the call"
        )
    n = len(centres)
    repeated = centres.take(np.tile(np.arange(n), len(labels))).reset_index(drop=True)
    keys = ([by] if by else []) + ["centre_id"]
    computed = {
        label: np.repeat([lab[label] for lab in labels], n).astype(float) for label in labels[0]
    }
    computed["n_neighbours"] = counts.reshape(-1).astype(np.int64)
    flat = sums.reshape(len(labels) * n, 2 * k)
    for i, c in enumerate(value_columns):
        integer = integer_sums and F.result_dtype(points[c]) is np.int64
        computed[c] = np.rint(flat[:, i]).astype(np.int64) if integer else flat[:, i]
    for i, c in enumerate(value_columns):
        computed[f"n_missing_{c}"] = np.rint(flat[:, k + i]).astype(np.int64)
    return pd.concat([repeated[keys], pd.DataFrame(computed), repeated.drop(columns=keys)], axis=1)


def _concat(parts, dtype):
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype=dtype)
