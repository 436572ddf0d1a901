"""Bad inputs raise errors that name the bad value."""

import numpy as np
import pandas as pd
import pytest

from spillover.spatial import neighbour_pairs, neighbourhood_sums


@pytest.fixture
def frames():
    centres = pd.DataFrame({"centre_id": [1, 2], "lat": [35.0, 35.1], "lon": [139.0, 139.1]})
    points = pd.DataFrame(
        {
            "point_id": [1, 3, 4],
            "lat": [35.0, 35.01, 35.02],
            "lon": [139.0, 139.0, 139.0],
            "v": [1.0, 2.0, 3.0],
            "big": [True, False, False],
            "name": ["a", "b", "c"],
        }
    )
    return centres, points


@pytest.mark.parametrize(
    ("radius", "error", "match"),
    [
        (0.0, ValueError, r"got 0\.0"),
        (-1, ValueError, "got -1"),
        (np.inf, ValueError, "got inf"),
        (6000, ValueError, "got 6000"),
        ([5, 5], ValueError, r"twice: \[5\.0\]"),
        ([], ValueError, "non-empty"),
        ("5", TypeError, "'5'"),
        (True, TypeError, "True"),
    ],
)
def test_bad_radius(frames, radius, error, match):
    centres, points = frames
    with pytest.raises(error, match=match):
        neighbourhood_sums(centres, points, radius, ["v"])


def test_missing_columns_are_named(frames):
    centres, points = frames
    with pytest.raises(KeyError, match=r"points lacks column\(s\) \['lat'\]"):
        neighbourhood_sums(centres, points.drop(columns="lat"), 5.0, ["v"])
    with pytest.raises(KeyError, match=r"value column\(s\) \['w'\]"):
        neighbourhood_sums(centres, points, 5.0, ["w"])
    with pytest.raises(KeyError, match="exclude='small'"):
        neighbourhood_sums(centres, points, 5.0, ["v"], exclude="small")
    with pytest.raises(KeyError, match=r"centres lacks column\(s\) \['year'\]"):
        neighbourhood_sums(centres, points, 5.0, ["v"], by="year")


def test_duplicate_ids_are_named(frames):
    centres, points = frames
    twice = pd.concat([points, points.iloc[[1]]], ignore_index=True)
    with pytest.raises(ValueError, match=r"points.point_id must be unique; repeated: \[3\]"):
        neighbour_pairs(centres, twice, 5.0)


def test_bad_coordinates_are_named(frames):
    centres, points = frames
    bad = centres.assign(lat=[35.0, np.nan])
    with pytest.raises(ValueError, match=r"centres.lat .* centre_id=\[2\]"):
        neighbourhood_sums(bad, points, 5.0, ["v"])
    with pytest.raises(ValueError, match=r"points.lon .* point_id=\[3\] with lon=\[181\.0\]"):
        neighbourhood_sums(centres, points.assign(lon=[139.0, 181.0, 139.0]), 5.0, ["v"])


def test_bad_value_and_exclude_columns(frames):
    centres, points = frames
    with pytest.raises(TypeError, match=r"points.name must be numeric"):
        neighbourhood_sums(centres, points, 5.0, ["name"])
    with pytest.raises(TypeError, match=r"points.v must be boolean"):
        neighbourhood_sums(centres, points, 5.0, ["v"], exclude="v")
    with pytest.raises(ValueError, match=r"\['v', 'v'\]|\['v'\] more than once"):
        neighbourhood_sums(centres, points, 5.0, ["v", "v"])


def test_result_name_clash_is_named(frames):
    centres, points = frames
    with pytest.raises(ValueError, match=r"centres already has column\(s\) \['v'\]"):
        neighbourhood_sums(centres.assign(v=0.0), points, 5.0, ["v"])


def test_empty_inputs(frames):
    centres, points = frames
    out = neighbourhood_sums(centres, points.iloc[:0], [1.0, 2.0], ["v"])
    assert out["n_neighbours"].tolist() == [0, 0, 0, 0]
    assert out["v"].tolist() == [0.0] * 4
    out = neighbourhood_sums(centres.iloc[:0], points, 1.0, ["v"])
    assert len(out) == 0 and "n_neighbours" in out
    assert len(neighbour_pairs(centres, points.iloc[:0], 1.0)) == 0


def test_integer_ids_and_self_match(frames):
    centres, points = frames
    pairs = neighbour_pairs(centres, points, 5.0)
    assert pairs["centre_id"].tolist() == [1, 1]
    assert pairs["point_id"].tolist() == [3, 4]
    assert pairs["centre_id"].dtype == centres["centre_id"].dtype
