"""The demo's sparse pair finder equals the brute-force distance matrix."""

import numpy as np

from spillover.demo.geography import pairs_within_km
from spillover.spatial import haversine_km


def test_pairs_within_radius_are_exactly_the_brute_force_pairs():
    rng = np.random.default_rng(7)
    lat_a, lon_a = rng.uniform(34.8, 35.2, 3_000), rng.uniform(136.8, 137.3, 3_000)
    lat_b, lon_b = rng.uniform(34.8, 35.2, 200), rng.uniform(136.8, 137.3, 200)
    # put some points of b exactly 5 km (± 1 mm) from a point of a: the boundary is inclusive
    for k in range(20):
        lat_b[k] = lat_a[k] + 5.0 / 111.19492664455873
        lon_b[k] = lon_a[k]
    index_a, index_b, distance = pairs_within_km(lat_a, lon_a, lat_b, lon_b, 5.0)
    dense = haversine_km(lat_a[:, None], lon_a[:, None], lat_b[None, :], lon_b[None, :])
    expected_a, expected_b = np.nonzero(dense <= 5.0)
    np.testing.assert_array_equal(index_a, expected_a)
    np.testing.assert_array_equal(index_b, expected_b)
    np.testing.assert_array_equal(distance, dense[expected_a, expected_b])
    assert 2_000 < len(index_a) < 100_000
