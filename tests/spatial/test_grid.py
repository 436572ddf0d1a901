"""Hand-checkable worlds: points 1 km apart along a meridian, sums written out."""

import numpy as np
import pandas as pd
import pytest

from spillover.spatial import neighbour_pairs, neighbourhood_sums, ring_sums

from .oracle import KM_PER_DEGREE


def meridian(n, *, lat0=35.0, lon=139.0, step_km=1.0):
    """Latitudes ``lat0 + k * step_km`` km north along one meridian (exact great-circle km)."""
    return lat0 + np.arange(n) * step_km / KM_PER_DEGREE, np.full(n, lon)


@pytest.fixture
def line():
    """Points q0..q6 at 0, 1, …, 6 km north; employees 1, 2, 4, …, 64 (sums identify sets)."""
    lat, lon = meridian(7)
    points = pd.DataFrame(
        {
            "point_id": [f"q{k}" for k in range(7)],
            "lat": lat,
            "lon": lon,
            "employees": 2 ** np.arange(7),
            "exports": [10.0, np.nan, 30.0, 40.0, 50.0, 60.0, 70.0],
            "large_firm": [False, False, False, True, False, False, False],
        }
    )
    centres = pd.DataFrame(
        {
            "centre_id": ["q0", "q3", "far"],
            "lat": [lat[0], lat[3], 36.0],
            "lon": [lon[0], lon[3], 139.0],
            "firm": ["A", "B", "C"],
        }
    )
    return centres, points


def test_sums_on_a_meridian_are_written_out(line):
    centres, points = line
    out = neighbourhood_sums(centres, points, 2.0, ["employees", "exports"])
    # q0: q1 (1 km), q2 (2 km, on the boundary)           -> 2 + 4
    # q3: q1, q2, q4, q5 (q3 itself is never a neighbour) -> 2 + 4 + 16 + 32
    # far: nobody within 2 km                               -> zeros, row kept
    assert out["centre_id"].tolist() == ["q0", "q3", "far"]
    assert out["n_neighbours"].tolist() == [2, 4, 0]
    assert out["employees"].tolist() == [6, 54, 0]
    assert out["employees"].dtype == np.int64
    # exports: q1 is NaN (adds nothing, counted as missing); q3 -> q2 + q4 + q5 = 30 + 50 + 60
    assert out["exports"].tolist() == [30.0, 140.0, 0.0]
    assert out["n_missing_exports"].tolist() == [1, 1, 0]
    assert out["radius_km"].tolist() == [2.0, 2.0, 2.0]
    assert out["firm"].tolist() == ["A", "B", "C"]


def test_exclusion_on_a_meridian(line):
    centres, points = line
    out = neighbourhood_sums(centres, points, 2.0, ["employees"], exclude="large_firm")
    # q3 (large firm) never counts; q3 as a centre still gets q1, q2, q4, q5
    assert out["employees"].tolist() == [6, 54, 0]
    out = neighbourhood_sums(centres, points, 3.0, ["employees"], exclude="large_firm")
    # q0 at 3 km would reach q3 = 8, excluded: q1 + q2 only
    assert out["employees"].tolist() == [6, 1 + 2 + 4 + 16 + 32 + 64, 0]


def test_several_radii_in_one_call(line):
    centres, points = line
    out = neighbourhood_sums(centres, points, [1.0, 6.0, 0.5], ["employees"])
    assert out["radius_km"].tolist() == [1.0] * 3 + [6.0] * 3 + [0.5] * 3
    assert out["employees"].tolist() == [
        2,
        4 + 16,
        0,
        2 + 4 + 8 + 16 + 32 + 64,
        1 + 2 + 4 + 16 + 32 + 64,
        0,
        0,
        0,
        0,
    ]


def test_pairs_on_a_meridian(line):
    centres, points = line
    pairs = neighbour_pairs(centres, points, 1.5)
    assert pairs["centre_id"].tolist() == ["q0", "q3", "q3"]
    assert pairs["point_id"].tolist() == ["q1", "q2", "q4"]
    np.testing.assert_allclose(pairs["distance_km"], [1.0, 1.0, 1.0], rtol=1e-12)


def test_rings_on_a_meridian(line):
    centres, points = line
    out = ring_sums(centres, points, [0, 1, 2, 6], ["employees"])
    assert out[["ring_inner_km", "ring_outer_km"]].drop_duplicates().values.tolist() == [
        [0.0, 1.0],
        [1.0, 2.0],
        [2.0, 6.0],
    ]
    assert out["employees"].tolist() == [2, 4 + 16, 0, 4, 2 + 32, 0, 8 + 16 + 32 + 64, 1 + 64, 0]


def test_duplicate_coordinates_all_count():
    points = pd.DataFrame(
        {"point_id": ["a", "b", "c"], "lat": [35.0] * 3, "lon": [139.0] * 3, "v": [1, 10, 100]}
    )
    centres = pd.DataFrame({"centre_id": ["a", "x"], "lat": [35.0, 35.0], "lon": [139.0, 139.0]})
    out = neighbourhood_sums(centres, points, 0.001, ["v"])
    assert out["n_neighbours"].tolist() == [2, 3]
    assert out["v"].tolist() == [110, 111]


def test_boundary_east_west_and_diagonal():
    """Points exactly 5 km away along the parallel and on a 3-4-5 diagonal count."""
    from .oracle import destination

    lat, lon = 35.0, 139.0
    bearings = np.radians([0, 90, 180, 270, np.degrees(np.arctan2(3, 4))])
    blat, blon = destination(lat, lon, bearings, 5.0)
    olat, olon = destination(lat, lon, bearings, 5.0 + 1e-6)  # 1 mm outside
    points = pd.DataFrame(
        {
            "point_id": [f"b{i}" for i in range(5)] + [f"o{i}" for i in range(5)],
            "lat": np.concatenate([blat, olat]),
            "lon": np.concatenate([blon, olon]),
        }
    )
    centres = pd.DataFrame({"centre_id": ["c"], "lat": [lat], "lon": [lon]})
    pairs = neighbour_pairs(centres, points, 5.0)
    assert pairs["point_id"].tolist() == ["b0", "b1", "b2", "b3", "b4"]
    np.testing.assert_allclose(pairs["distance_km"], 5.0, rtol=1e-12)


def test_own_point_leaves_no_rounding_residue():
    """A centre whose only nearby point is itself sums to exactly zero."""
    points = pd.DataFrame(
        {
            "point_id": ["a", "big", "b"],
            "lat": [35.0, 35.0, 35.0],
            "lon": [139.0, 139.5, 139.0001],
            "v": [0.1, 1e12, 0.3],
        }
    )
    centres = pd.DataFrame({"centre_id": ["a"], "lat": [35.0], "lon": [139.0]})
    out = neighbourhood_sums(centres, points, [0.001, 1.0], ["v"])
    assert out["n_neighbours"].tolist() == [0, 1]
    assert out["v"].tolist()[0] == 0.0
    assert out["v"].tolist()[1] == pytest.approx(0.3, abs=1e-6)
