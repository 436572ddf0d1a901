"""The geocode stage's choice of coordinate source: given lat/lon, address, mesh, none."""

import pandas as pd
import pytest

from spillover.geocode import load_gazetteer
from spillover.locate import locate_establishments

GEOLONIA_HEADER = (
    "都道府県コード,都道府県名,都道府県名カナ,都道府県名ローマ字,市区町村コード,市区町村名,"
    "市区町村名カナ,市区町村名ローマ字,大字町丁目名,大字町丁目名カナ,大字町丁目名ローマ字,"
    "小字・通称名,緯度,経度\n"
)


@pytest.fixture
def gazetteer(tmp_path):
    path = tmp_path / "latest.csv"
    path.write_text(
        GEOLONIA_HEADER
        + "23,愛知県,,,23211,豊田市,,,元町一丁目,,,,35.0800,137.1500\n"
        + "23,愛知県,,,23211,豊田市,,,高丘,,,,35.0500,137.1800\n",
        encoding="utf-8",
    )
    return load_gazetteer(path)


def test_each_row_gets_the_best_available_source(gazetteer):
    establishments = pd.DataFrame(
        {
            "year": 2015,
            "establishment_id": ["a", "b", "c", "d", "e"],
            "pref_code": pd.array([23, 23, 23, 23, 13], dtype="Int64"),
            "address": ["豊田市元町1-2-3", "どこか", "不明な住所", None, "愛知県豊田市高丘5番地"],
            "lat": [None, 35.1, None, None, None],
            "lon": [None, 137.2, None, None, None],
            "mesh_code": [None, None, "52374017", None, None],
        }
    )
    out = locate_establishments(establishments, gazetteer, cache_dir=None, progress=False)
    out = out.set_index("establishment_id")
    assert out["geocode_level"].to_dict() == {
        "a": "town",
        "b": "latlon",
        "c": "mesh",
        "d": "none",
        "e": "town",
    }
    assert (out.loc["a", "lat"], out.loc["a", "lon"]) == pytest.approx((35.08, 137.15))
    assert (out.loc["b", "lat"], out.loc["b", "lon"]) == pytest.approx((35.1, 137.2))
    # 3rd-order mesh 5237-40-17: south edge 52/1.5 + 4/12 + 1/120 degrees, centre half a cell up
    assert out.loc["c", "lat"] == pytest.approx(52 / 1.5 + 4 / 12 + 1 / 120 + 1 / 240)
    assert out.loc["c", "lon"] == pytest.approx(137 + 0 / 8 + 7 / 80 + 1 / 160)
    assert pd.isna(out.loc["d", "lat"])
    # the survey says Tokyo (13) but the address is in Aichi: kept, and flagged
    assert out["pref_mismatch"].to_dict() == {
        "a": False,
        "b": False,
        "c": False,
        "d": False,
        "e": True,
    }


def test_a_municipality_mapped_through_the_history_is_carried(gazetteer):
    """西加茂郡藤岡町 joined 豊田市 in 2005: the row says which name was mapped."""
    establishments = pd.DataFrame(
        {
            "year": 2004,
            "establishment_id": ["old", "new", "given"],
            "pref_code": pd.array([23, 23, 23], dtype="Int64"),
            "address": [
                "愛知県西加茂郡藤岡町高丘5",
                "愛知県豊田市高丘5",
                "愛知県西加茂郡藤岡町高丘5",
            ],
            "lat": [None, None, 35.1],
            "lon": [None, None, 137.2],
            "mesh_code": [None, None, None],
        }
    )
    out = locate_establishments(establishments, gazetteer, cache_dir=None, progress=False)
    assert out["geocode_town"].tolist()[:2] == ["高丘", "高丘"]
    mapped = out["geocode_municipality_mapped_from"]
    assert mapped.iloc[0] == "西加茂郡藤岡町" and mapped.iloc[1:].isna().all()


def test_cli_geocode_writes_one_row_per_id(tmp_path):
    from typer.testing import CliRunner

    from spillover.cli import app

    gazetteer = tmp_path / "latest.csv"
    gazetteer.write_text(
        GEOLONIA_HEADER + "23,愛知県,,,23211,豊田市,,,元町一丁目,,,,35.0800,137.1500\n",
        encoding="utf-8",
    )
    source = tmp_path / "in.csv"
    source.write_text("id,address\n7,豊田市元町１－２\n8,不明\n", encoding="cp932")
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(
        app,
        [
            "geocode",
            str(source),
            "--gazetteer",
            str(gazetteer),
            "--out",
            str(out),
            "--encoding",
            "cp932",
        ],
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    assert table["id"].tolist() == [7, 8]
    assert table["level"].tolist() == ["town", "none"]
    assert "town" in result.output


def _rows(**columns):
    n = len(next(iter(columns.values())))
    base = {
        "year": [2015] * n,
        "establishment_id": [f"e{i}" for i in range(n)],
        "pref_code": pd.array([23] * n, dtype="Int64"),
        "address": [None] * n,
        "lat": [None] * n,
        "lon": [None] * n,
        "mesh_code": [None] * n,
        "source_file": ["raw/x.csv"] * n,
        "source_line": list(range(2, n + 2)),
    }
    return pd.DataFrame({**base, **columns})


def test_given_coordinates_outside_japan_fall_back_to_the_address(gazetteer):
    from spillover.config import GazetteerConfig
    from spillover.locate import locate_plants

    establishments = _rows(
        address=["豊田市元町1-2-3", "どこか", None, "豊田市高丘1"],
        lat=[37.5665, 37.5665, 0.0, 35.1],  # Seoul, Seoul, Gulf of Guinea, Toyota
        lon=[126.978, 126.978, 0.0, 137.2],
        pref_code=pd.array([40, 40, 23, 23], dtype="Int64"),
    )
    located, rejected, summary = locate_plants(
        establishments,
        gazetteer,
        rules=GazetteerConfig(path="x", on_pref_mismatch="keep"),
        cache_dir=None,
        progress=False,
    )
    assert located["geocode_level"].tolist() == ["town", "latlon"]
    assert (located.iloc[0]["lat"], located.iloc[0]["lon"]) == pytest.approx((35.08, 137.15))
    assert rejected[["line", "reason"]].to_dict("records") == [
        {
            "line": 3,
            "reason": "address not resolved by the gazetteer and no usable mesh code or lat/lon: "
            "どこか; its given lat/lon (37.5665, 126.978) lie outside Japan",
        },
        {
            "line": 4,
            "reason": "address not resolved by the gazetteer and no usable mesh code or lat/lon: "
            "(empty); its given lat/lon (0, 0) lie outside Japan",
        },
    ]
    assert summary["latlon_outside_japan"] == 3


def test_a_mesh_cell_outside_japan_is_not_used(gazetteer):
    # 5229-...: the first-order mesh over Busan (35.1° N, 129.0° E) exists arithmetically
    establishments = _rows(mesh_code=["52290000", "52374017"])
    out = locate_establishments(establishments, gazetteer, cache_dir=None, progress=False)
    assert out["geocode_level"].tolist() == ["none", "mesh"]
    assert out["lat"].isna().tolist() == [True, False]


@pytest.mark.parametrize("min_level", ["block", "oaza", "pref"])
def test_rows_coarser_than_min_level_are_refused_quoting_their_address(min_level):
    from spillover.config import GazetteerConfig
    from spillover.locate import geocode_rejections
    from spillover.options import GEOCODE_LEVELS

    levels = ["block", "town", "oaza", "city", "pref", "latlon", "mesh", "none"]
    located = pd.DataFrame(
        {
            "address": [f"住所{i}" for i in range(len(levels) - 1)] + [None],
            "geocode_level": pd.array(levels, dtype="str"),
            "lat": [35.0] * (len(levels) - 1) + [None],
            "pref_mismatch": [True] + [False] * (len(levels) - 1),  # a block in another pref
            "geocode_pref": "愛知県",
            "geocode_pref_code": pd.array([23] * len(levels), dtype="Int64"),
            "pref_code": pd.array([13] * len(levels), dtype="Int64"),
        },
        index=range(10, 10 + len(levels)),
    )
    outside = pd.Series([None] * (len(levels) - 1) + ["(10.0, 200.0)"], index=located.index)
    rules = GazetteerConfig(path="gazetteer.csv", min_level=min_level)
    reasons = geocode_rejections(located, rules, outside)
    coarser = set(GEOCODE_LEVELS[GEOCODE_LEVELS.index(min_level) + 1 : -1])  # "none": unplaced
    expected = {
        10 + i: (
            f"address resolved only to {level}, coarser than gazetteer.min_level = {min_level}"
            f" (and no usable mesh code or lat/lon): 住所{i}"
        )
        for i, level in enumerate(levels)
        if level in coarser
    }
    expected[10] = "address lies in 愛知県 (23) but pref_code is 13: 住所0"
    expected[17] = (
        "address not resolved by the gazetteer and no usable mesh code or lat/lon: (empty); "
        "its given lat/lon (10.0, 200.0) lie outside Japan"
    )
    assert reasons.dropna().to_dict() == expected
