"""Oracles and random worlds for the neighbourhood engine tests.

The oracle is an all-pairs haversine computation written independently of the engine; it
shares only the contract constants (Earth radius, boundary tolerance).
"""

import numpy as np
import pandas as pd

from spillover.spatial import BOUNDARY_TOLERANCE_KM, EARTH_RADIUS_KM

KM_PER_DEGREE = np.pi * EARTH_RADIUS_KM / 180.0


def oracle_distances(centres, points):
    """(n_centres, n_points) great-circle distances in km, all pairs."""
    lat1 = np.radians(centres["lat"].to_numpy(float))[:, None]
    lon1 = np.radians(centres["lon"].to_numpy(float))[:, None]
    lat2 = np.radians(points["lat"].to_numpy(float))[None, :]
    lon2 = np.radians(points["lon"].to_numpy(float))[None, :]
    a = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(a, 1.0)))


def oracle_membership(centres, points, radius_km, *, exclude=None):
    """Boolean (n_centres, n_points): point j is a neighbour of centre i."""
    inside = oracle_distances(centres, points) <= radius_km + BOUNDARY_TOLERANCE_KM
    inside &= centres["centre_id"].to_numpy()[:, None] != points["point_id"].to_numpy()[None, :]
    if exclude is not None:
        inside &= ~points[exclude].to_numpy(bool)[None, :]
    return inside


def destination(lat_deg, lon_deg, bearing_rad, distance_km):
    """Point at ``distance_km`` along a great circle from (lat, lon) with the given bearing."""
    lat, lon, d = np.radians(lat_deg), np.radians(lon_deg), distance_km / EARTH_RADIUS_KM
    lat2 = np.arcsin(np.sin(lat) * np.cos(d) + np.cos(lat) * np.sin(d) * np.cos(bearing_rad))
    lon2 = lon + np.arctan2(
        np.sin(bearing_rad) * np.sin(d) * np.cos(lat), np.cos(d) - np.sin(lat) * np.sin(lat2)
    )
    return np.degrees(lat2), (np.degrees(lon2) + 180.0) % 360.0 - 180.0


def random_world(
    seed, *, n_centres=60, n_points=400, lat=35.5, lon=139.5, span_km=30.0, boundary_radius_km=5.0
):
    """Clustered random world with the awkward cases built in.

    Duplicate coordinates, points exactly ``boundary_radius_km`` from a centre, centres that
    are also points (same id), excluded points, NaN and integer values.
    """
    rng = np.random.default_rng(seed)
    span = span_km / KM_PER_DEGREE
    hubs = rng.uniform(-span / 2, span / 2, size=(4, 2))
    pick = rng.integers(0, 4, n_points)
    spread = rng.uniform(0.02, 0.3, n_points) * span
    plat = lat + hubs[pick, 0] + rng.normal(0, 1, n_points) * spread
    plon = lon + (hubs[pick, 1] + rng.normal(0, 1, n_points) * spread) / np.cos(np.radians(lat))
    plat, plon = np.clip(plat, -90, 90), (plon + 180.0) % 360.0 - 180.0
    dup = rng.integers(0, n_points, n_points // 10)
    plat[: dup.size], plon[: dup.size] = plat[dup], plon[dup]
    points = pd.DataFrame(
        {
            "point_id": [f"p{i}" for i in range(n_points)],
            "lat": plat,
            "lon": plon,
            "employees": rng.integers(1, 500, n_points),
            "exports": np.where(rng.random(n_points) < 0.1, np.nan, rng.lognormal(3, 1, n_points)),
            "large_firm": rng.random(n_points) < 0.15,
        }
    )
    own = rng.choice(n_points, n_centres // 2, replace=False)
    extra = n_centres - own.size
    clat = np.clip(lat + rng.uniform(-span / 2, span / 2, extra), -90, 90)
    clon = (lon + rng.uniform(-span / 2, span / 2, extra) + 180.0) % 360.0 - 180.0
    centres = pd.DataFrame(
        {
            "centre_id": [f"p{i}" for i in own] + [f"c{i}" for i in range(extra)],
            "lat": np.concatenate([plat[own], clat]),
            "lon": np.concatenate([plon[own], clon]),
            "firm": rng.integers(0, 10, n_centres),
        }
    )
    # a tenth of the points sit exactly on a centre's boundary circle
    k = n_points // 10
    host = rng.integers(0, n_centres, k)
    blat, blon = destination(
        centres["lat"].to_numpy()[host],
        centres["lon"].to_numpy()[host],
        rng.uniform(0, 2 * np.pi, k),
        boundary_radius_km,
    )
    points.loc[points.index[-k:], "lat"] = blat
    points.loc[points.index[-k:], "lon"] = blon
    return centres, points
