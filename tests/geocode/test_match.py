"""The fallback ladder on the hand-written gazetteer of conftest.py."""

import math

import pandas as pd
import pytest

from spillover.geocode import geocode_addresses


def one(index, address):
    return geocode_addresses(pd.Series([address]), index).iloc[0]


@pytest.mark.parametrize(
    ("address", "level", "pref", "city", "town", "lat", "lon"),
    [
        ("愛知県豊田市元町一丁目2番3号", "town", "愛知県", "豊田市", "元町一丁目", 35.080, 137.150),
        ("豊田市元町2-1-1", "town", "愛知県", "豊田市", "元町二丁目", 35.082, 137.152),
        ("愛知県豊田市トヨタ町１番地", "town", "愛知県", "豊田市", "トヨタ町", 35.060, 137.160),
        ("愛知県豊田市桜が丘5", "town", "愛知県", "豊田市", "桜ケ丘", 35.070, 137.170),
        (
            "東京都大田区西六郷四丁目２８番１号 ○○ビル3F",
            "town",
            "東京都",
            "大田区",
            "西六郷四丁目",
            35.545,
            139.705,
        ),
        (
            "北九州市八幡西区黒崎1-1",
            "town",
            "福岡県",
            "北九州市八幡西区",
            "黒崎一丁目",
            33.866,
            130.765,
        ),
        ("愛知県東郷町春木1", "town", "愛知県", "愛知郡東郷町", "大字春木", 35.100, 137.050),
        # 大字 part only: mean of 元町一〜三丁目
        ("愛知県豊田市元町", "oaza", "愛知県", "豊田市", "元町", 35.082, 137.152),
        ("愛知県豊田市元町九丁目1", "oaza", "愛知県", "豊田市", "元町", 35.082, 137.152),
        # municipality only: median of its towns
        ("愛知県豊田市不明町1", "city", "愛知県", "豊田市", None, 35.075, 137.153),
        ("愛知県名古屋市中区", "city", "愛知県", "名古屋市中区", None, 35.165, 136.905),
        # prefecture only: median of its three towns
        ("東京都どこか", "pref", "東京都", None, None, 35.667, 139.705),
        # old municipality (merged into 静岡市清水区): town searched in the prefecture
        ("静岡県清水市入江1-2", "town", "静岡県", "静岡市清水区", "入江一丁目", 35.015, 138.485),
    ],
)
def test_ladder(index, address, level, pref, city, town, lat, lon):
    r = one(index, address)
    assert r["level"] == level
    assert r["pref"] == pref
    assert (r["city"] if isinstance(r["city"], str) else None) == city
    assert (r["town"] if isinstance(r["town"], str) else None) == town
    assert r["lat"] == pytest.approx(lat, abs=1e-6)
    assert r["lon"] == pytest.approx(lon, abs=1e-6)
    assert not r["ambiguous"]


def test_numbered_koaza(index):
    r = one(index, "福島県伊達郡国見町大字森山字十二地割3番地")
    assert (r["lat"], r["lon"]) == pytest.approx((37.880, 140.565))
    assert r["normalized"] == "福島県伊達郡国見町森山12地割3"


@pytest.mark.parametrize(
    "address",
    [
        "京都府京都市中京区烏丸通三条下る饅頭屋町580",
        "京都市中京区烏丸通三条下ル饅頭屋町580",
        "京都府京都市中京区三条通烏丸西入饅頭屋町580",
    ],
)
def test_kyoto_street_directions(index, address):
    r = one(index, address)
    assert (r["level"], r["city"], r["town"]) == ("town", "京都市中京区", "饅頭屋町")
    assert r["normalized"] == "京都府京都市中京区饅頭屋町580"


def test_names_that_look_like_rules(index):
    # 「日本橋」 is not the country name; 「郷六」 ends in a numeral that is not a 番地.
    r = one(index, "東京都中央区日本橋小舟町3-14")
    assert (r["level"], r["town"]) == ("town", "日本橋小舟町")
    r = one(index, "宮城県仙台市青葉区郷六二十八番地の四")
    assert (r["level"], r["town"]) == ("town", "郷六")
    assert r["normalized"] == "宮城県仙台市青葉区郷六28-4"


@pytest.mark.parametrize(
    ("address", "level", "town"),
    [
        # 三好町 (西加茂郡) became みよし市 in 2010; its 大字福谷 is now 福谷町.
        ("愛知県西加茂郡三好町福谷町1-2", "town", "福谷町"),
        # 「福谷」 is not a town key: only the municipality is certain, not the town
        # みよし市三好町 that happens to carry the old municipality's name.
        ("愛知県西加茂郡三好町大字福谷字西ノ洞21", "city", None),
    ],
)
def test_old_municipality_name_kept_as_town_name(index, address, level, town):
    r = one(index, address)
    assert (r["level"], r["city"], r["ambiguous"]) == (level, "みよし市", False)
    assert (r["town"] if isinstance(r["town"], str) else None) == town


def test_koaza_refines_point(index):
    r = one(index, "福島県伊達郡国見町大字森山字五反田12")
    assert (r["level"], r["town"]) == ("town", "大字森山")
    assert (r["lat"], r["lon"]) == pytest.approx((37.875, 140.560))
    r = one(index, "福島県伊達郡国見町大字森山12")
    assert (r["lat"], r["lon"]) == pytest.approx((37.870, 140.555))


def test_none_level(index):
    r = geocode_addresses(pd.Series(["Springfield", None, ""]), index)
    assert r["level"].tolist() == ["none"] * 3
    assert r["lat"].isna().all() and r["lon"].isna().all()
    assert r["pref_code"].isna().all()
    assert r["pref"].isna().all()


def test_seirei_without_ward_ambiguous_town_is_flagged(index):
    # 新町 exists in 浜松市中区 and 浜松市南区, 8 km apart: the city is certain, the ward is not.
    r = one(index, "静岡県浜松市新町3")
    assert r["ambiguous"]
    assert (r["level"], r["city"]) == ("city", "浜松市")
    # the city point: mean of the ward points (中区: median of 34.705 and 34.700)
    assert r["lat"] == pytest.approx(((34.705 + 34.700) / 2 + 34.650) / 2)


def test_seirei_without_ward_and_without_town(index):
    r = one(index, "静岡県浜松市")
    assert (r["level"], r["city"], r["ambiguous"]) == ("city", "浜松市", False)


def test_prefecture_omitted_ambiguous_across_prefectures(index):
    # 府中市 exists in 東京都 (本町一丁目) and 広島県 (本町); 「本町1-1」 fits both.
    r = one(index, "府中市本町1-1")
    assert r["ambiguous"]
    assert r["level"] == "none"
    assert math.isnan(r["lat"])
    # With the prefecture it is not ambiguous.
    r = one(index, "広島県府中市本町1-1")
    assert (r["level"], r["pref"], r["town"], r["ambiguous"]) == ("town", "広島県", "本町", False)


def test_same_index_and_dedup(index):
    s = pd.Series(
        ["豊田市元町1-2-3", "愛知県豊田市元町一丁目2番3号", None, "豊田市元町1-2-3"],
        index=["a", "b", "c", "d"],
    )
    r = geocode_addresses(s, index)
    assert r.index.tolist() == ["a", "b", "c", "d"]
    assert r["level"].tolist() == ["town", "town", "none", "town"]
    assert list(r.columns) == [
        "lat",
        "lon",
        "level",
        "pref",
        "city",
        "town",
        "pref_code",
        "normalized",
        "ambiguous",
        "note",
        "municipality_mapped_from",
    ]
    assert str(r["pref_code"].dtype) == "Int64"
    assert r["lat"].dtype == "float64" and r["ambiguous"].dtype == bool


def test_result_does_not_depend_on_row_order(index):
    s = pd.Series(["静岡県浜松市栄町1-5", "府中市本町1-1", "愛知県豊田市元町", "東京都どこか"])
    fwd = geocode_addresses(s, index)
    rev = geocode_addresses(s[::-1], index).loc[fwd.index]
    pd.testing.assert_frame_equal(fwd, rev)


def test_rejects_non_series(index):
    with pytest.raises(TypeError, match="pandas Series"):
        geocode_addresses(["愛知県"], index)


def test_empty_input(index):
    r = geocode_addresses(pd.Series([], dtype="str"), index)
    assert r.empty
    assert list(r.columns) == [
        "lat",
        "lon",
        "level",
        "pref",
        "city",
        "town",
        "pref_code",
        "normalized",
        "ambiguous",
        "note",
        "municipality_mapped_from",
    ]
    assert str(r["pref_code"].dtype) == "Int64" and r["lat"].dtype == "float64"
