"""Plausibility rules: Japan's territory, column bounds, code consistency, record shapes."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spillover.geocode import GazetteerFormatError, load_gazetteer
from spillover.geocode.readers import GazetteerWarning
from spillover.geocode.territory import in_japan
from spillover.plausibility import absent_fields, code_mismatches
from spillover.schemas import TABLES

#: The real town gazetteer (tests only; see its README): skipped where absent.
SHARED_GAZETTEER = Path(__file__).resolve().parents[3] / "shared/gazetteer/japan_towns.csv.gz"

#: (lat, lon) of places that must be outside: the neighbours' cities and coasts, and (0, 0).
FOREIGN = {
    "Seoul": (37.5665, 126.9780),
    "Busan": (35.1796, 129.0756),
    "Busan, Gadeokdo": (35.03, 128.83),
    "Jeju": (33.4996, 126.5312),
    "Ulleungdo": (37.48, 130.87),
    "Pyongyang": (39.0392, 125.7625),
    "Vladivostok": (43.1155, 131.8855),
    "Korsakov (Sakhalin)": (46.63, 142.78),
    "Cape Crillon (Sakhalin)": (45.90, 142.08),
    "Urup": (45.90, 150.00),
    "Shanghai": (31.2304, 121.4737),
    "Qingdao": (36.07, 120.38),
    "Taipei": (25.0330, 121.5654),
    "Pengjia islet (Taiwan)": (25.63, 122.08),
    "Guishan island (Taiwan)": (24.84, 121.95),
    "Guam": (13.44, 144.79),
    "Gulf of Guinea": (0.0, 0.0),
}
#: Japan's extreme and outlying points, which must be inside.
JAPANESE = {
    "沖ノ鳥島": (20.4256, 136.0811),
    "南鳥島": (24.2892, 153.9806),
    "与那国島": (24.4559, 122.9877),
    "波照間島": (24.0586, 123.7824),
    "宗谷岬": (45.5230, 141.9365),
    "択捉島": (45.0, 147.7),
    "色丹島": (43.8, 146.75),
    "対馬 鰐浦": (34.6957, 129.4452),
    "魚釣島": (25.74, 123.47),
    "父島": (27.0712, 142.2096),
    "北大東島": (25.95, 131.30),
    "東京駅": (35.6812, 139.7671),
}


@pytest.mark.parametrize("place", FOREIGN)
def test_foreign_places_are_outside_japan(place):
    lat, lon = FOREIGN[place]
    assert not in_japan([lat], [lon])[0]


@pytest.mark.parametrize("place", JAPANESE)
def test_japanese_outlying_places_are_inside(place):
    lat, lon = JAPANESE[place]
    assert in_japan([lat], [lon])[0]


def test_missing_and_non_finite_points_are_outside():
    assert in_japan([np.nan, np.inf, 35.68], [139.77, 139.77, np.nan]).tolist() == [
        False,
        False,
        False,
    ]


@pytest.mark.skipif(not SHARED_GAZETTEER.exists(), reason=f"{SHARED_GAZETTEER} not present")
def test_every_town_of_the_real_gazetteer_is_inside_japan():
    towns = pd.read_csv(SHARED_GAZETTEER, usecols=["town", "lat", "lng"]).dropna()
    inside = in_japan(towns["lat"], towns["lng"])
    assert len(towns) > 270_000
    assert towns[~inside].empty


def _bounds(column) -> tuple[float, float]:
    lows = [c.statistics.get("min_value") for c in column.checks]
    highs = [c.statistics.get("max_value") for c in column.checks]
    low = max((v for v in lows if v is not None), default=-np.inf)
    high = min((v for v in highs if v is not None), default=np.inf)
    return low, high


@pytest.mark.parametrize(
    ("table", "column"),
    [
        (table, name)
        for table, spec in TABLES.items()
        for name, column in spec.columns.items()
        if column.kind != "str"
    ],
)
def test_every_numeric_column_is_bounded_on_both_sides(table, column):
    low, high = _bounds(TABLES[table].columns[column])
    assert np.isfinite(low) and np.isfinite(high), (table, column, low, high)


def test_money_bounds_sit_far_above_the_demo_and_below_corrupt_values():
    assert _bounds(TABLES["establishments"].columns["shipments"]) == (0, 1e7)
    assert _bounds(TABLES["firms"].columns["sales"]) == (0, 1e8)
    assert _bounds(TABLES["establishments"].columns["lat"]) == (-90, 90)


def test_city_code_prefix_must_match_pref_code():
    frame = pd.DataFrame(
        {
            "pref_code": pd.array([23, 23, 1, None, 23], dtype="Int64"),
            "city_code": pd.array(["23211", "01100", "01100", "01100", None], dtype="str"),
        }
    )
    reasons = code_mismatches(frame)
    assert reasons.where(reasons.notna(), None).tolist() == [
        None,
        "city_code 01100 lies in prefecture 1, but pref_code is 23",
        None,
        None,
        None,
    ]


def test_absent_fields_name_where_a_record_ends():
    raw = pd.DataFrame(
        {"a": ["1", "1", None, ""], "b": ["2", None, None, ""], "c": ["3", None, None, ""]},
        dtype="str",
    )
    reasons = absent_fields(raw)
    assert reasons.where(reasons.notna(), None).tolist() == [
        None,
        "record has 1 of 3 fields (it ends before b)",
        "blank line",
        None,  # empty fields are present: their values are checked column by column
    ]


HEADER = (
    "都道府県コード,都道府県名,都道府県名カナ,都道府県名ローマ字,市区町村コード,市区町村名,"
    "市区町村名カナ,市区町村名ローマ字,大字町丁目名,大字町丁目名カナ,大字町丁目名ローマ字,"
    "小字・通称名,緯度,経度\n"
)


def _gazetteer(tmp_path, bad: list[tuple[str, str]], n_good: int = 199):
    rows = [
        f"23,愛知県,,,23211,豊田市,,,町{i}丁目,,,,{35.0 + i / 1e4:.4f},137.1500\n"
        for i in range(n_good)
    ]
    rows += [
        f"23,愛知県,,,23211,豊田市,,,外{i},,,,{lat},{lon}\n" for i, (lat, lon) in enumerate(bad)
    ]
    path = tmp_path / "latest.csv"
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    return path


def test_a_gazetteer_row_outside_japan_is_dropped_with_a_warning(tmp_path):
    path = _gazetteer(tmp_path, [("0", "0")])
    with pytest.warns(GazetteerWarning) as caught:
        index = load_gazetteer(path)
    assert [str(w.message) for w in caught if w.category is GazetteerWarning] == [
        f"{path}: dropped 1 row(s) with coordinates outside Japan (first at data row 200: 外0 at "
        "lat 0, lon 0); addresses there fall back to their 大字 or municipality"
    ]
    assert "外0" not in index.town_name


def test_a_gazetteer_with_many_rows_outside_japan_is_rejected(tmp_path):
    path = _gazetteer(tmp_path, [("137.15", "35.08"), ("37.5665", "126.978")], n_good=98)
    with pytest.raises(GazetteerFormatError) as caught:
        load_gazetteer(path)
    assert str(caught.value) == (
        f"{path}: 2 of 100 rows (2.0%) have coordinates outside Japan (first at data row 99: 外0 "
        "at lat 137.15, lon 35.08), more than 1%: are 緯度 and 経度 swapped, or in another "
        "datum or projection?"
    )
