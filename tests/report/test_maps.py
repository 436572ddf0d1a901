"""Maps: mesh cells, and the releasable variant never shows a small cell or a centre."""

import numpy as np
import pandas as pd
import pytest

from spillover.geocode.mesh import mesh_to_latlon
from spillover.report.maps import density_map, exposure_map, mesh_cells

# Three 2nd-order cells near Nagoya: A holds 5 plants (one a centre), B holds 2, C holds 3.
A = (35.10, 136.90)
B = (35.30, 137.30)
C = (35.10, 137.05)


def _plants():
    rows = []
    for (lat, lon), n, prefix in ((A, 5, "a"), (B, 2, "b"), (C, 3, "c")):
        for i in range(n):
            rows.append(
                {
                    "establishment_id": f"{prefix}{i}",
                    "firm_id": f"F{prefix}{i}",
                    "lat": lat + 0.001 * i,
                    "lon": lon + 0.001 * i,
                    "pref_code": 23,
                    "city_code": "23100",
                    "is_centre": prefix == "a" and i == 0,
                }
            )
    return pd.DataFrame(rows)


def _drawn_cells(ax):
    """Bounds (west, south, east, north) of every polygon of the cell collection."""
    boxes = set()
    for collection in ax.collections:
        for path in collection.get_paths():
            v = path.vertices
            boxes.add(
                tuple(np.round([v[:, 0].min(), v[:, 1].min(), v[:, 0].max(), v[:, 1].max()], 9))
            )
    return boxes


def _all_points(figure):
    """Every coordinate any artist of the map axes holds (data coordinates)."""
    ax = figure.axes[0]
    points = [path.vertices for c in ax.collections for path in c.get_paths()]
    points += [np.asarray(c.get_offsets()) for c in ax.collections]
    points += [np.column_stack([line.get_xdata(), line.get_ydata()]) for line in ax.get_lines()]
    return np.vstack([p.reshape(-1, 2) for p in points if np.size(p)])


def _texts(figure):
    return " ".join(t.get_text() for t in figure.findobj(lambda a: hasattr(a, "get_text")))


@pytest.mark.parametrize("order", [2, 3])
def test_mesh_cells_agree_with_the_mesh_code_decoder(order):
    rng = np.random.default_rng(1)
    points = pd.DataFrame({"lat": rng.uniform(30, 45, 500), "lon": rng.uniform(128, 146, 500)})
    cells = mesh_cells(points, order=order)
    assert cells["mesh_code"].str.len().eq(6 if order == 2 else 8).all()
    lat, lon = mesh_to_latlon(cells["mesh_code"])
    np.testing.assert_allclose(lat, (cells["south"] + cells["north"]) / 2, atol=1e-9)
    np.testing.assert_allclose(lon, (cells["west"] + cells["east"]) / 2, atol=1e-9)
    assert cells["n_establishments"].sum() == 500
    inside = (
        (points["lat"].to_numpy()[:, None] >= cells["south"].to_numpy())
        & (points["lat"].to_numpy()[:, None] < cells["north"].to_numpy())
        & (points["lon"].to_numpy()[:, None] >= cells["west"].to_numpy())
        & (points["lon"].to_numpy()[:, None] < cells["east"].to_numpy())
    )
    np.testing.assert_array_equal(inside.sum(axis=0), cells["n_establishments"])


def test_mesh_code_of_a_known_place():
    # Tokyo Station (35.6812, 139.7671) is in 1st-order 5339, 2nd-order 533946, 3rd 53394611.
    point = pd.DataFrame({"lat": [35.6812], "lon": [139.7671]})
    assert mesh_cells(point, order=2)["mesh_code"].tolist() == ["533946"]
    assert mesh_cells(point, order=3)["mesh_code"].tolist() == ["53394611"]


def test_releasable_density_map_has_no_small_cell_and_no_centre():
    plants = _plants()
    cells = mesh_cells(plants).set_index("mesh_code")
    figure = density_map(plants)
    drawn = _drawn_cells(figure.axes[0])
    big = cells[cells["n_establishments"] >= 3]
    assert drawn == {
        tuple(np.round(r, 9)) for r in big[["west", "south", "east", "north"]].to_numpy()
    }
    assert len(drawn) == 2  # A and C; B (2 plants) is suppressed
    coordinates = _all_points(figure)
    for lat, lon in plants[["lat", "lon"]].to_numpy():
        assert not np.any(np.all(np.isclose(coordinates, [lon, lat], atol=1e-7), axis=1))
    text = _texts(figure)
    assert "内部資料" not in text and "χ" in text and "(1)" in text


def test_internal_density_map_shows_centres_and_says_so():
    plants = _plants()
    figure = density_map(plants, internal=True, radius_km=5.0, lang="en")
    coordinates = _all_points(figure)
    centre = plants.loc[plants["is_centre"], ["lon", "lat"]].to_numpy()[0]
    assert np.any(np.all(np.isclose(coordinates, centre, atol=1e-9), axis=1))
    assert "internal — contains confidential microdata" in _texts(figure)


def test_region_selects_the_prefecture_or_city():
    plants = _plants()
    plants.loc[plants["establishment_id"].str.startswith("c"), ["pref_code", "city_code"]] = [
        21,
        "21201",
    ]
    assert len(_drawn_cells(density_map(plants, region="愛知県").axes[0])) == 1
    assert len(_drawn_cells(density_map(plants, region="21201").axes[0])) == 1
    assert "岐阜県" in _texts(density_map(plants, region=21))
    with pytest.raises(ValueError, match="region 'Mars'"):
        density_map(plants, region="Mars")


def test_exposure_cells_need_three_establishments_and_three_firms():
    plants = _plants()
    # C's three establishments see only the centre in A (one firm): exposure > 0, 1 firm → χ.
    exposure = pd.DataFrame(
        {
            "establishment_id": plants.loc[~plants["is_centre"], "establishment_id"],
            "exposure": 0.0,
            "radius_km": 20.0,
        }
    )
    in_c = exposure["establishment_id"].str.startswith("c")
    exposure.loc[in_c, "exposure"] = 12.5
    figure = exposure_map(exposure, plants)
    cells = mesh_cells(plants).set_index("mesh_code")
    drawn = _drawn_cells(figure.axes[0])
    a = mesh_cells(plants[plants["establishment_id"].str.startswith("a")])
    assert drawn == {tuple(np.round(a[["west", "south", "east", "north"]].to_numpy()[0], 9))}
    assert len(cells) == 3
    # with centres of three different firms in reach, C is shown
    more = pd.DataFrame(
        {
            "establishment_id": ["k1", "k2"],
            "firm_id": ["G1", "G2"],
            "lat": [35.101, 35.102],
            "lon": [137.051, 137.052],
            "pref_code": 23,
            "city_code": "23100",
            "is_centre": True,
        }
    )
    plants = pd.concat([plants, more], ignore_index=True)
    drawn = _drawn_cells(exposure_map(exposure, plants).axes[0])
    assert len(drawn) == 2


def test_cell_boxes_follow_their_rows_whatever_the_index():
    """A filtered frame (index 5, 9) gets each row's own box (the real scheduler found this).

    ``shapely.box`` on pandas Series returns a Series with their index; aligned on the reset
    index it put boxes on the wrong rows, or none (bounds NaN: the map failed).
    """
    from spillover.report.maps import _cells_frame

    cells = pd.DataFrame(
        {"west": [130.0, 140.0], "south": [33.0, 42.0], "east": [130.125, 140.125],
         "north": [33.083, 42.083], "mean_exposure": [0.1, 0.2]},
        index=[5, 9],
    )  # fmt: skip
    frame = _cells_frame(cells)
    assert frame.geometry.bounds.to_numpy().tolist() == (
        cells[["west", "south", "east", "north"]].to_numpy().tolist()
    )
