"""Brute-force equality: the engine against all-pairs haversine on random worlds."""

import numpy as np
import pandas as pd
import pytest

from spillover.spatial import neighbour_pairs, neighbourhood_sums

from .oracle import oracle_distances, oracle_membership, random_world

SEEDS = range(8)


def pair_set(pairs):
    return set(zip(pairs["centre_id"], pairs["point_id"], strict=True))


def oracle_pair_set(centres, points, radius_km, exclude=None):
    inside = oracle_membership(centres, points, radius_km, exclude=exclude)
    i, j = np.nonzero(inside)
    return set(
        zip(centres["centre_id"].to_numpy()[i], points["point_id"].to_numpy()[j], strict=True)
    )


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("radius_km", [0.3, 1.0, 5.0, 20.0])
def test_pairs_equal_brute_force(seed, radius_km):
    centres, points = random_world(seed, boundary_radius_km=radius_km)
    pairs = neighbour_pairs(centres, points, radius_km, exclude="large_firm")
    assert pair_set(pairs) == oracle_pair_set(centres, points, radius_km, "large_firm")
    assert len(pairs) == len(pair_set(pairs))
    d = oracle_distances(centres, points)
    ci = pd.Index(centres["centre_id"]).get_indexer(pairs["centre_id"])
    pj = pd.Index(points["point_id"]).get_indexer(pairs["point_id"])
    np.testing.assert_allclose(pairs["distance_km"], d[ci, pj], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_sums_equal_brute_force(seed):
    radii = [1.0, 5.0, 10.0]
    centres, points = random_world(seed, boundary_radius_km=5.0)
    out = neighbourhood_sums(centres, points, radii, ["employees", "exports"], exclude="large_firm")
    for radius in radii:
        got = out[out["radius_km"] == radius].reset_index(drop=True)
        inside = oracle_membership(centres, points, radius, exclude="large_firm")
        exports = points["exports"].to_numpy()
        np.testing.assert_array_equal(got["n_neighbours"], inside.sum(1))
        np.testing.assert_array_equal(got["employees"], inside @ points["employees"].to_numpy())
        np.testing.assert_allclose(
            got["exports"], inside @ np.nan_to_num(exports), rtol=1e-12, atol=1e-9
        )
        np.testing.assert_array_equal(
            got["n_missing_exports"], inside.astype(int) @ np.isnan(exports)
        )


@pytest.mark.parametrize(
    ("lat", "lon"), [(35.5, 179.99), (35.5, -179.99), (89.99, 10.0), (-89.95, -60.0), (0.0, 0.0)]
)
def test_poles_antimeridian_and_equator(lat, lon):
    """Caps that cross ±180° or contain a pole take the slow path and stay exact."""
    for seed in range(3):
        centres, points = random_world(
            seed, lat=lat, lon=lon, span_km=40.0, boundary_radius_km=10.0
        )
        for radius in [3.0, 10.0, 40.0]:
            pairs = neighbour_pairs(centres, points, radius)
            assert pair_set(pairs) == oracle_pair_set(centres, points, radius)


def test_sparse_and_dense_mixture():
    """A dense district and isolated points far apart in one call (row height adapts)."""
    dense, dense_points = random_world(11, n_points=3000, span_km=3.0, boundary_radius_km=2.0)
    sparse, sparse_points = random_world(
        12, lat=43.0, lon=141.3, span_km=400.0, boundary_radius_km=2.0
    )
    sparse = sparse.assign(centre_id="s" + sparse["centre_id"])
    sparse_points = sparse_points.assign(point_id="s" + sparse_points["point_id"])
    centres = pd.concat([dense, sparse], ignore_index=True)
    points = pd.concat([dense_points, sparse_points], ignore_index=True)
    for radius in [0.5, 2.0, 8.0]:
        out = neighbourhood_sums(centres, points, radius, ["employees"])
        inside = oracle_membership(centres, points, radius)
        np.testing.assert_array_equal(out["n_neighbours"], inside.sum(1))
        np.testing.assert_array_equal(out["employees"], inside @ points["employees"].to_numpy())
