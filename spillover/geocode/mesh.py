"""JIS X 0410 regional mesh codes: the centre of a mesh cell."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["mesh_to_latlon"]

# Cell sizes in degrees (lat, lon) per mesh order.
_FIRST = (2.0 / 3.0, 1.0)  # 40' x 1°
_SECOND = (_FIRST[0] / 8, _FIRST[1] / 8)  # 5' x 7.5'
_THIRD = (_SECOND[0] / 10, _SECOND[1] / 10)  # 30" x 45"
# Quadrant digit of 1/2 and 1/4 meshes → (row, col) offsets: 1 SW, 2 SE, 3 NW, 4 NE.
_QUAD_ROW = np.array([0, 0, 0, 1, 1])
_QUAD_COL = np.array([0, 0, 1, 0, 1])


def mesh_to_latlon(codes: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Centre of JIS X 0410 mesh cells.

    Parameters
    ----------
    codes : pandas.Series
        Mesh codes as strings or integers: 4 digits (1st order, 40' × 1°),
        6 (2nd, 5' × 7.5'), 8 (3rd / 1 km, 30" × 45"), 9 (1/2 mesh, 500 m)
        or 10 digits (1/4 mesh, 250 m). Separators such as ``-`` are ignored.

    Returns
    -------
    lat, lon : numpy.ndarray of float64
        Cell centres in degrees (JGD2000/2011 ≈ WGS84); NaN for missing or
        invalid codes (wrong length, 2nd-order digit > 7, quadrant digit not in
        1–4, or a 1st-order cell outside Japan's range 3022–6853).

    Examples
    --------
    >>> lat, lon = mesh_to_latlon(pd.Series(["5339"]))
    >>> round(float(lat[0]), 4), float(lon[0])
    (35.6667, 139.5)
    """
    text = pd.Series(codes, copy=False).astype(object).where(pd.Series(codes).notna(), "")
    text = text.map(
        lambda v: str(int(v)) if isinstance(v, (int, np.integer, float)) and v == v else str(v)
    ).str.replace(r"[\s\-_]", "", regex=True)
    n = len(text)
    lat = np.full(n, np.nan)
    lon = np.full(n, np.nan)
    valid_len = text.str.len().isin([4, 6, 8, 9, 10]) & text.str.fullmatch(r"\d+").fillna(False)
    idx = np.flatnonzero(valid_len.to_numpy())
    if not idx.size:
        return lat, lon
    width = 10
    padded = text.iloc[idx].str.ljust(width, "0").to_numpy().astype(f"U{width}")
    digits = padded.view(np.uint32).reshape(-1, width).astype(np.int64) - ord("0")
    length = text.iloc[idx].str.len().to_numpy()
    south = digits[:, 0] * 10 + digits[:, 1]
    west = digits[:, 2] * 10 + digits[:, 3]
    s_lat = south / 1.5
    s_lon = west + 100.0
    size_lat = np.full(idx.size, _FIRST[0])
    size_lon = np.full(idx.size, _FIRST[1])
    # First-order meshes covering Japan: latitude digits 30-68, longitude digits 22-53.
    ok = (south >= 30) & (south <= 68) & (west >= 22) & (west <= 53)
    m2 = length >= 6
    ok &= ~m2 | ((digits[:, 4] <= 7) & (digits[:, 5] <= 7))
    s_lat = s_lat + np.where(m2, digits[:, 4] * _SECOND[0], 0)
    s_lon = s_lon + np.where(m2, digits[:, 5] * _SECOND[1], 0)
    size_lat = np.where(m2, _SECOND[0], size_lat)
    size_lon = np.where(m2, _SECOND[1], size_lon)
    m3 = length >= 8
    s_lat = s_lat + np.where(m3, digits[:, 6] * _THIRD[0], 0)
    s_lon = s_lon + np.where(m3, digits[:, 7] * _THIRD[1], 0)
    size_lat = np.where(m3, _THIRD[0], size_lat)
    size_lon = np.where(m3, _THIRD[1], size_lon)
    for pos in (8, 9):
        mq = length > pos
        q = digits[:, pos]
        ok &= ~mq | ((q >= 1) & (q <= 4))
        qc = np.clip(q, 0, 4)
        size_lat = np.where(mq, size_lat / 2, size_lat)
        size_lon = np.where(mq, size_lon / 2, size_lon)
        s_lat = s_lat + np.where(mq, _QUAD_ROW[qc] * size_lat, 0)
        s_lon = s_lon + np.where(mq, _QUAD_COL[qc] * size_lon, 0)
    lat[idx] = np.where(ok, s_lat + size_lat / 2, np.nan)
    lon[idx] = np.where(ok, s_lon + size_lon / 2, np.nan)
    return lat, lon
