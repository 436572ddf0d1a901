"""JIS X 0410 mesh centres, checked by hand from the definition.

1st order 5339: SW corner 53/1.5 = 35.3333° N, 139° E; 40' × 1° → centre 35.6667, 139.5.
2nd order 533946: + 4 × 5' N, + 6 × 7.5' E → SW 35.6667, 139.75; centre + 2.5', 3.75'.
3rd order 53394611: + 30", 45" → SW 35.675, 139.7625; centre + 15", 22.5".
1/2 mesh 533946114 (NE quadrant) and 1/4 mesh 5339461141 (SW of that).
"""

import numpy as np
import pandas as pd
import pytest

from spillover.geocode import mesh_to_latlon

CASES = [
    ("5339", 35 + 20 / 60 + 20 / 60, 139.5),
    ("533946", 35 + 40 / 60 + 2.5 / 60, 139.75 + 3.75 / 60),
    ("53394611", 35.675 + 15 / 3600, 139.7625 + 22.5 / 3600),
    ("533946111", 35.675 + 7.5 / 3600, 139.7625 + 11.25 / 3600),
    ("533946114", 35.675 + 22.5 / 3600, 139.7625 + 33.75 / 3600),
    ("5339461141", 35.675 + 15 / 3600 + 3.75 / 3600, 139.7625 + 22.5 / 3600 + 5.625 / 3600),
    # Naha: 3927 → SW 26.0° N, 127° E
    ("3927", 26 + 20 / 60, 127.5),
]


@pytest.mark.parametrize(("code", "lat", "lon"), CASES)
def test_mesh_centres(code, lat, lon):
    la, lo = mesh_to_latlon(pd.Series([code]))
    assert la[0] == pytest.approx(lat, abs=1e-9)
    assert lo[0] == pytest.approx(lon, abs=1e-9)


def test_mesh_accepts_integers_and_separators():
    la, lo = mesh_to_latlon(pd.Series([53394611, "5339-46-11"]))
    assert la.tolist() == pytest.approx([35.675 + 15 / 3600] * 2)
    la, lo = mesh_to_latlon(pd.Series([53394611, None], dtype="Int64", index=[5, 9]))
    assert la[0] == pytest.approx(35.675 + 15 / 3600) and np.isnan(la[1])
    la, lo = mesh_to_latlon(pd.Series([53394611.0, float("nan")]))
    assert lo[0] == pytest.approx(139.7625 + 22.5 / 3600) and np.isnan(lo[1])


@pytest.mark.parametrize(
    "bad",
    [
        None,
        "",
        "533",
        "53394",
        "5339461",
        "538946",
        "533986",
        "533946115",
        "abcd",
        "9939",
        "53394611250",
    ],
)
def test_invalid_mesh_codes_are_nan(bad):
    la, lo = mesh_to_latlon(pd.Series([bad, "5339"], dtype=object))
    assert np.isnan(la[0]) and np.isnan(lo[0])
    assert la[1] == pytest.approx(35 + 2 / 3)
