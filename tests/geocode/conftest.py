"""Tiny hand-written gazetteers in the exact public layouts.

The names are real place names but every coordinate is invented (rounded to a
plausible spot), so no row is copied from any published gazetteer.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from spillover.geocode import load_gazetteer

GEOLONIA_HEADER = (
    "都道府県コード,都道府県名,都道府県名カナ,都道府県名ローマ字,市区町村コード,市区町村名,"
    "市区町村名カナ,市区町村名ローマ字,大字町丁目名,大字町丁目名カナ,大字町丁目名ローマ字,"
    "小字・通称名,緯度,経度"
)

# (pref_code, pref, city_code, city, town, koaza, lat, lon)
GEOLONIA_ROWS = [
    (23, "愛知県", "23211", "豊田市", "元町一丁目", "", 35.080, 137.150),
    (23, "愛知県", "23211", "豊田市", "元町二丁目", "", 35.082, 137.152),
    (23, "愛知県", "23211", "豊田市", "元町三丁目", "", 35.084, 137.154),
    (23, "愛知県", "23211", "豊田市", "大字高丘", "", 35.050, 137.120),
    (23, "愛知県", "23211", "豊田市", "トヨタ町", "", 35.060, 137.160),
    (23, "愛知県", "23211", "豊田市", "桜ケ丘", "", 35.070, 137.170),
    (23, "愛知県", "23106", "名古屋市中区", "栄三丁目", "", 35.165, 136.905),
    (23, "愛知県", "23302", "愛知郡東郷町", "大字春木", "", 35.100, 137.050),
    (22, "静岡県", "22131", "浜松市中区", "栄町", "", 34.705, 137.725),
    (22, "静岡県", "22131", "浜松市中区", "新町", "", 34.700, 137.730),
    (22, "静岡県", "22134", "浜松市南区", "新町", "", 34.650, 137.740),
    (22, "静岡県", "22103", "静岡市清水区", "入江一丁目", "", 35.015, 138.485),
    (20, "長野県", "20361", "諏訪郡下諏訪町", "桜町", "", 36.078, 138.085),
    (20, "長野県", "20206", "諏訪市", "諏訪一丁目", "", 36.040, 138.110),
    (13, "東京都", "13111", "大田区", "西六郷四丁目", "", 35.545, 139.705),
    (13, "東京都", "13206", "府中市", "本町一丁目", "", 35.667, 139.478),
    (34, "広島県", "34208", "府中市", "本町", "", 34.570, 133.230),
    (27, "大阪府", "27227", "東大阪市", "荒本", "", 34.680, 135.590),
    (40, "福岡県", "40107", "北九州市八幡西区", "黒崎一丁目", "", 33.866, 130.765),
    (7, "福島県", "07303", "伊達郡国見町", "大字森山", "", 37.870, 140.555),
    (7, "福島県", "07303", "伊達郡国見町", "大字森山", "五反田", 37.875, 140.560),
    (7, "福島県", "07303", "伊達郡国見町", "大字森山", "十二地割", 37.880, 140.565),
    (26, "京都府", "26104", "京都市中京区", "饅頭屋町", "", 35.008, 135.760),
    (13, "東京都", "13102", "中央区", "日本橋小舟町", "", 35.686, 139.782),
    (4, "宮城県", "04101", "仙台市青葉区", "郷六", "", 38.270, 140.800),
    (23, "愛知県", "23236", "みよし市", "三好町", "", 35.090, 137.070),
    (23, "愛知県", "23236", "みよし市", "福谷町", "", 35.110, 137.080),
]


def geolonia_csv(rows=GEOLONIA_ROWS) -> str:
    """Geolonia latest.csv text (kana/romaji columns left empty, as allowed by CSV)."""
    lines = [GEOLONIA_HEADER]
    for pc, pref, ccode, city, town, koaza, lat, lon in rows:
        lines.append(
            f'"{pc}","{pref}","","","{ccode}","{city}","","","{town}","","","{koaza}",'
            f'"{lat:.6f}","{lon:.6f}"'
        )
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def geolonia_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("gaz") / "latest.csv"
    path.write_text(geolonia_csv(), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def index(geolonia_path):
    return load_gazetteer(geolonia_path)
