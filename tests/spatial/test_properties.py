"""Invariants over seeded random worlds (hypothesis-style, without hypothesis)."""

import numpy as np
import pandas as pd
import pytest

from spillover.spatial import neighbour_pairs, neighbourhood_sums, ring_sums

from .oracle import random_world

SEEDS = range(6)
RADII = [0.5, 1.0, 2.0, 5.0, 10.0, 20.0]


def pair_set(pairs):
    return set(zip(pairs["centre_id"], pairs["point_id"], strict=True))


@pytest.mark.parametrize("seed", SEEDS)
def test_enlarging_the_radius_never_removes_a_neighbour(seed):
    centres, points = random_world(seed, boundary_radius_km=2.0)
    previous = set()
    for radius in RADII:
        current = pair_set(neighbour_pairs(centres, points, radius, exclude="large_firm"))
        assert previous <= current
        previous = current
    counts = neighbourhood_sums(centres, points, RADII, [])["n_neighbours"].to_numpy()
    assert (np.diff(counts.reshape(len(RADII), -1), axis=0) >= 0).all()


@pytest.mark.parametrize("seed", SEEDS)
def test_results_do_not_depend_on_row_order(seed):
    centres, points = random_world(seed)
    rng = np.random.default_rng(100 + seed)
    shuffled_centres = centres.sample(frac=1.0, random_state=rng).reset_index(drop=True)
    shuffled_points = points.sample(frac=1.0, random_state=rng).reset_index(drop=True)
    kwargs = {"exclude": "large_firm"}
    columns = ["employees", "exports"]
    a = neighbourhood_sums(centres, points, [1.0, 5.0], columns, **kwargs)
    b = neighbourhood_sums(shuffled_centres, shuffled_points, [1.0, 5.0], columns, **kwargs)
    b = b.set_index(["radius_km", "centre_id"]).loc[a.set_index(["radius_km", "centre_id"]).index]
    np.testing.assert_array_equal(a["n_neighbours"], b["n_neighbours"])
    np.testing.assert_array_equal(a["employees"], b["employees"])
    np.testing.assert_allclose(a["exports"], b["exports"], rtol=1e-12)
    assert pair_set(neighbour_pairs(centres, points, 5.0, **kwargs)) == pair_set(
        neighbour_pairs(shuffled_centres, shuffled_points, 5.0, **kwargs)
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_excluded_points_never_appear(seed):
    centres, points = random_world(seed)
    pairs = neighbour_pairs(centres, points, 20.0, exclude="large_firm")
    excluded = set(points.loc[points["large_firm"], "point_id"])
    assert excluded and not excluded & set(pairs["point_id"])
    # excluding is the same as dropping the rows
    kept = points[~points["large_firm"]]
    with_flag = neighbourhood_sums(centres, points, 5.0, ["employees"], exclude="large_firm")
    dropped = neighbourhood_sums(centres, kept, 5.0, ["employees"])
    pd.testing.assert_frame_equal(with_flag, dropped)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_point_is_never_its_own_centres_neighbour(seed):
    centres, points = random_world(seed)
    pairs = neighbour_pairs(centres, points, 20.0)
    assert (pairs["centre_id"] != pairs["point_id"]).all()
    assert set(centres["centre_id"]) & set(points["point_id"])  # the case is exercised


@pytest.mark.parametrize("seed", SEEDS)
def test_sums_agree_with_pairs(seed):
    centres, points = random_world(seed)
    pairs = neighbour_pairs(centres, points, 5.0, exclude="large_firm")
    joined = pairs.merge(points[["point_id", "employees"]], on="point_id")
    expected = joined.groupby("centre_id")["employees"].sum()
    out = neighbourhood_sums(centres, points, 5.0, ["employees"], exclude="large_firm")
    got = out.set_index("centre_id")["employees"]
    np.testing.assert_array_equal(got, expected.reindex(got.index, fill_value=0))


@pytest.mark.parametrize("seed", SEEDS)
def test_rings_add_up_to_the_outer_radius(seed):
    centres, points = random_world(seed)
    rings = ring_sums(centres, points, [0, 1, 5, 10], ["employees", "exports"])
    total = neighbourhood_sums(centres, points, 10.0, ["employees", "exports"])
    summed = rings.groupby("centre_id", sort=False)[
        ["n_neighbours", "employees", "exports", "n_missing_exports"]
    ].sum()
    np.testing.assert_array_equal(summed["n_neighbours"], total["n_neighbours"])
    np.testing.assert_array_equal(summed["employees"], total["employees"])
    np.testing.assert_array_equal(summed["n_missing_exports"], total["n_missing_exports"])
    np.testing.assert_allclose(summed["exports"], total["exports"], rtol=1e-12, atol=1e-9)
    assert (rings["n_neighbours"] >= 0).all()


@pytest.mark.parametrize("seed", SEEDS[:3])
def test_by_year_equals_separate_calls(seed):
    frames = [random_world(seed * 10 + year) for year in (2015, 2016)]
    centres = pd.concat(
        [c.assign(year=y) for (c, _), y in zip(frames, (2015, 2016), strict=True)],
        ignore_index=True,
    )
    points = pd.concat(
        [p.assign(year=y) for (_, p), y in zip(frames, (2015, 2016), strict=True)],
        ignore_index=True,
    )
    both = neighbourhood_sums(centres, points, 5.0, ["employees"], by="year")
    for (c, p), year in zip(frames, (2015, 2016), strict=True):
        alone = neighbourhood_sums(c, p, 5.0, ["employees"])
        got = both[both["year"] == year]
        np.testing.assert_array_equal(got["employees"], alone["employees"])
        np.testing.assert_array_equal(got["centre_id"], alone["centre_id"])
    assert both.columns[:3].tolist() == ["year", "centre_id", "radius_km"]


def test_a_huge_value_elsewhere_does_not_swallow_a_small_sum():
    """Sure ranges are differences of prefix sums: they must carry more than float64's 53 bits.

    A point worth 1e17 sorts before a neighbourhood of 1.0s (south of it, in an earlier latitude
    row). With float64 prefix sums each difference after it would lose the 1s (ulp 16).
    """
    n = 40
    points = pd.DataFrame(
        {
            "point_id": np.arange(n + 1),
            "lat": np.r_[30.0, 35.0 + np.linspace(-0.01, 0.01, n)],
            "lon": np.r_[135.0, 135.0 + np.linspace(-0.01, 0.01, n)],
            "value": np.r_[1e17, np.ones(n)],
        }
    )
    centres = pd.DataFrame({"centre_id": [-1], "lat": [35.0], "lon": [135.0]})
    out = neighbourhood_sums(centres, points, [5.0, 20.0], ["value"])
    assert out["n_neighbours"].tolist() == [n, n]
    assert out["value"].tolist() == [float(n), float(n)]
