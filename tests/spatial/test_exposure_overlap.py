"""Kernels, plant-level exposure and overlap diagnostics against brute force and by hand."""

import numpy as np
import pandas as pd
import pytest

from spillover.spatial import (
    KERNELS,
    kernel_sums,
    kernel_weights,
    neighbourhood_sums,
    overlap_diagnostics,
    plant_exposure,
)

from .oracle import KM_PER_DEGREE, oracle_distances, oracle_membership, random_world


def test_kernel_weights_by_hand():
    d = np.array([0.0, 1.0, 2.0, 4.0])
    expected = {
        "uniform": [1, 1, 1, 1],
        "triangular": [1, 0.5, 0, 0],
        "epanechnikov": [1, 0.75, 0, 0],
        "bisquare": [1, 0.5625, 0, 0],
        "gaussian": np.exp(-0.5 * (d / 2) ** 2),
        "exponential": np.exp(-d / 2),
    }
    assert set(expected) == set(KERNELS)
    for kernel, weights in expected.items():
        np.testing.assert_allclose(kernel_weights(d, kernel=kernel, bandwidth_km=2.0), weights)
    with pytest.raises(ValueError, match="'cosine'"):
        kernel_weights(d, kernel="cosine", bandwidth_km=2.0)
    with pytest.raises(ValueError, match="got -1"):
        kernel_weights(d, kernel="gaussian", bandwidth_km=-1)


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("seed", range(3))
def test_kernel_sums_equal_brute_force(kernel, seed):
    centres, points = random_world(seed)
    out = kernel_sums(
        centres,
        points,
        [2.0, 5.0],
        ["employees", "exports"],
        kernel=kernel,
        bandwidth_km=3.0,
        exclude="large_firm",
    )
    d = oracle_distances(centres, points)
    for radius in (2.0, 5.0):
        inside = oracle_membership(centres, points, radius, exclude="large_firm")
        w = kernel_weights(d, kernel=kernel, bandwidth_km=3.0) * inside
        got = out[out["radius_km"] == radius]
        np.testing.assert_array_equal(got["n_neighbours"], inside.sum(1))
        np.testing.assert_allclose(got["weight_sum"], w.sum(1), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(
            got["employees"], w @ points["employees"].to_numpy(), rtol=1e-12, atol=1e-9
        )
        np.testing.assert_allclose(
            got["exports"], w @ np.nan_to_num(points["exports"]), rtol=1e-12, atol=1e-9
        )
        np.testing.assert_array_equal(
            got["n_missing_exports"], inside.astype(int) @ points["exports"].isna().to_numpy()
        )


def test_uniform_kernel_sums_equal_neighbourhood_sums():
    centres, points = random_world(7)
    a = kernel_sums(centres, points, 5.0, ["employees"], kernel="uniform")
    b = neighbourhood_sums(centres, points, 5.0, ["employees"])
    np.testing.assert_array_equal(a["employees"], b["employees"])
    np.testing.assert_array_equal(a["weight_sum"], b["n_neighbours"])


def exposure_world(seed):
    centres, points = random_world(seed)
    rng = np.random.default_rng(seed)
    opr = np.where(rng.random(len(centres)) < 0.1, np.nan, rng.uniform(0, 0.6, len(centres)))
    return centres.assign(opr=opr), points


@pytest.mark.parametrize("kernel", ["uniform", "triangular", "gaussian"])
@pytest.mark.parametrize("seed", range(4))
def test_exposure_equals_brute_force(kernel, seed):
    centres, points = exposure_world(seed)
    out = plant_exposure(centres, points, [1.0, 5.0], "opr", kernel=kernel, exclude="large_firm")
    kept = points[~points["large_firm"]]
    d = oracle_distances(centres, kept).T
    opr = centres["opr"].to_numpy()
    for radius in (1.0, 5.0):
        inside = oracle_membership(centres, kept, radius).T
        w = kernel_weights(d, kernel=kernel, bandwidth_km=radius) * inside
        got = out[out["radius_km"] == radius]
        assert got["point_id"].tolist() == kept["point_id"].tolist()
        np.testing.assert_array_equal(got["n_centres"], inside.sum(1))
        np.testing.assert_allclose(got["weight_sum"], w.sum(1), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(got["exposure"], w @ np.nan_to_num(opr), rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(got["n_missing_opr"], inside.astype(int) @ np.isnan(opr))
        nearest = np.where(inside, d, np.inf).min(1)
        np.testing.assert_allclose(
            got["nearest_km"], np.where(np.isinf(nearest), np.nan, nearest), rtol=1e-12
        )


def test_exposure_by_hand():
    """Establishment e sits 1 km from plant A (OPR 0.2) and 3 km from plant B (OPR 0.5)."""
    step = 1.0 / KM_PER_DEGREE
    centres = pd.DataFrame(
        {
            "centre_id": ["A", "B"],
            "lat": [35.0 + step, 35.0 + 3 * step],
            "lon": [139.0, 139.0],
            "opr": [0.2, 0.5],
        }
    )
    points = pd.DataFrame(
        {
            "point_id": ["e", "A", "far"],
            "lat": [35.0, 35.0 + step, 36.0],
            "lon": [139.0, 139.0, 139.0],
            "large_firm": [False, True, False],
            "industry": ["E24", "E29", "E09"],
        }
    )
    out = plant_exposure(centres, points, [2.0, 3.0], "opr", exclude="large_firm")
    assert out["point_id"].tolist() == ["e", "far", "e", "far"]
    assert out["n_centres"].tolist() == [1, 0, 2, 0]
    np.testing.assert_allclose(out["exposure"], [0.2, 0.0, 0.7, 0.0])
    np.testing.assert_allclose(out["nearest_km"], [1.0, np.nan, 1.0, np.nan], rtol=1e-12)
    assert out["industry"].tolist() == ["E24", "E09", "E24", "E09"]
    tri = plant_exposure(centres, points, 3.0, "opr", kernel="triangular", bandwidth_km=4.0)
    # weights 1 - 1/4 = 0.75 and 1 - 3/4 = 0.25; point A is plant A itself (self excluded)
    np.testing.assert_allclose(tri["exposure"], [0.75 * 0.2 + 0.25 * 0.5, 0.5 * 0.5, 0.0])


def test_exposure_of_year_without_plants():
    centres = pd.DataFrame(
        {"centre_id": ["A"], "lat": [35.0], "lon": [139.0], "opr": [0.3], "year": [2015]}
    )
    points = pd.DataFrame(
        {"point_id": ["e", "e"], "lat": [35.0, 35.0], "lon": [139.01] * 2, "year": [2015, 2016]}
    )
    out = plant_exposure(centres, points, 5.0, "opr", by="year")
    assert out[["year", "point_id", "n_centres"]].values.tolist() == [
        [2015, "e", 1],
        [2016, "e", 0],
    ]


def test_overlap_by_hand():
    """Centres 2 km apart on a meridian, radius 1.5 km: the point between them is shared."""
    step = 1.0 / KM_PER_DEGREE
    centres = pd.DataFrame(
        {"centre_id": ["A", "B"], "lat": [35.0, 35.0 + 2 * step], "lon": [139.0, 139.0]}
    )
    points = pd.DataFrame(
        {
            "point_id": ["a", "mid", "b", "far"],
            "lat": [35.0 - step, 35.0 + step, 35.0 + 3 * step, 36.0],
            "lon": [139.0] * 4,
            "exports": [10.0, 30.0, 60.0, 100.0],
        }
    )
    out = overlap_diagnostics(centres, points, 1.5, ["exports"]).iloc[0]
    assert out["n_memberships"] == 4  # A: a, mid; B: mid, b
    assert out["n_neighbours_distinct"] == 3
    assert out["n_neighbours_shared"] == 1
    assert out["max_memberships"] == 2
    assert out["exports_counted"] == 10 + 30 + 30 + 60
    assert out["exports_distinct"] == 10 + 30 + 60
    assert out["share_exports_in_shared"] == pytest.approx(60 / 130)
    assert out["share_exports_excess"] == pytest.approx(30 / 130)


@pytest.mark.parametrize("seed", range(4))
def test_overlap_equals_brute_force_by_year(seed):
    frames = {year: random_world(seed * 7 + year) for year in (2012, 2013)}
    centres = pd.concat([c.assign(year=y) for y, (c, _) in frames.items()], ignore_index=True)
    points = pd.concat([p.assign(year=y) for y, (_, p) in frames.items()], ignore_index=True)
    out = overlap_diagnostics(
        centres, points, [1.0, 5.0], ["exports"], exclude="large_firm", by="year"
    )
    assert out[["year", "radius_km"]].values.tolist() == [
        [2012, 1.0],
        [2012, 5.0],
        [2013, 1.0],
        [2013, 5.0],
    ]
    for row in out.itertuples():
        c, p = frames[row.year]
        m = oracle_membership(c, p, row.radius_km, exclude="large_firm").sum(0)
        v = np.nan_to_num(p["exports"].to_numpy())
        assert row.n_memberships == m.sum()
        assert row.n_neighbours_distinct == (m >= 1).sum()
        assert row.n_neighbours_shared == (m >= 2).sum()
        assert row.max_memberships == m.max()
        assert row.exports_counted == pytest.approx(m @ v)
        assert row.share_exports_in_shared == pytest.approx((m * (m >= 2)) @ v / (m @ v))
        sums = neighbourhood_sums(c, p, row.radius_km, ["exports"], exclude="large_firm")
        assert row.exports_counted == pytest.approx(sums["exports"].sum())
