"""Accuracy on the real national gazetteer (../shared/gazetteer/japan_towns.csv.gz)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spillover.geocode import geocode_addresses, load_gazetteer
from spillover.geocode.normalize import canonical_text
from spillover.geocode.synth import CLEAN_STYLES, write_addresses

GAZETTEER = (
    Path(__file__).resolve().parents[2].parent / "shared" / "gazetteer" / ("japan_towns.csv.gz")
)

pytestmark = [
    pytest.mark.gazetteer,
    pytest.mark.skipif(not GAZETTEER.exists(), reason=f"real gazetteer not found at {GAZETTEER}"),
]


@pytest.fixture(scope="module")
def real_index(tmp_path_factory):
    return load_gazetteer(GAZETTEER, index_dir=tmp_path_factory.mktemp("real-index"))


@pytest.fixture(scope="module")
def real_rows():
    return pd.read_csv(
        GAZETTEER, dtype={"koaza": str}, keep_default_na=False, na_values={"lat": [""], "lng": [""]}
    ).rename(columns={"lng": "lon"})


@pytest.mark.parametrize(
    ("address", "city", "town"),
    [
        ("東京都大田区西六郷四丁目２８番１号 ○○ビル3F", "大田区", "西六郷四丁目"),
        ("愛知県豊田市トヨタ町１番地", "豊田市", "トヨタ町"),
        ("豊田市元町1-1", "豊田市", "元町"),
        ("長野県下諏訪町桜町1", "諏訪郡下諏訪町", "桜町"),
        ("北海道札幌市中央区北1条西2丁目3-4", "札幌市中央区", "北一条西二丁目"),
        ("宮城県仙台市青葉区郷六二十八番地の四", "仙台市青葉区", "郷六"),
        ("東京都中央区日本橋小舟町3-14", "中央区", "日本橋小舟町"),
        # merged municipalities: 清水市 → 静岡市清水区 (2003), 久之浜町 → いわき市 (1966)
        ("静岡県清水市入江1-2", "静岡市清水区", "入江一丁目"),
        ("福島県双葉郡久之浜町大字久之浜字堀ノ内1", "いわき市", "久之浜町久之浜"),
    ],
)
def test_known_addresses(real_index, address, city, town):
    r = geocode_addresses(pd.Series([address]), real_index).iloc[0]
    assert (r["level"], r["city"], r["town"], r["ambiguous"]) == ("town", city, town, False)


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance (km) between points in degrees; NaN where a point is NaN."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    h = (
        np.sin((p2 - p1) / 2) ** 2
        + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0 * np.arcsin(np.sqrt(np.clip(h, 0, 1)))


def test_every_town_name_finds_itself(real_index):
    """Brute-force oracle: 「pref + city + town」 for all 190,000 towns.

    Each must resolve to itself, or be flagged ambiguous, or land on another town
    whose canonical key is identical and which lies within 1 km (「黒石」 and
    「大字黒石」 in 黒石市 are one place written two ways).
    """
    towns = real_index.towns
    result = geocode_addresses(towns["pref"] + towns["city"] + towns["town"], real_index)
    at_town = (result["level"] == "town").to_numpy()
    itself = (
        at_town
        & (result["city"].to_numpy(dtype=object) == towns["city"].to_numpy(dtype=object))
        & (result["town"].to_numpy(dtype=object) == towns["town"].to_numpy(dtype=object))
    )
    # At town level, "normalized" is rebuilt from the matched town's own names
    # (at city level it would end with the unmatched input text, hence at_town).
    same_key = at_town & (
        result["normalized"].to_numpy(dtype=object)
        == np.array(
            [
                canonical_text(p + c + t)
                for p, c, t in zip(towns["pref"], towns["city"], towns["town"], strict=True)
            ],
            dtype=object,
        )
    )
    km = haversine_km(
        towns["lat"].to_numpy(),
        towns["lon"].to_numpy(),
        result["lat"].to_numpy(),
        result["lon"].to_numpy(),
    )
    near = np.nan_to_num(km, nan=np.inf) <= 1.0
    flagged = result["ambiguous"].to_numpy()
    unexplained = ~(itself | flagged | (same_key & near))
    got = result[["level", "city", "town", "ambiguous"]].add_prefix("got_")
    report = pd.concat([towns[["pref", "city", "town"]], got], axis=1).assign(km=km)
    assert not unexplained.any(), report[unexplained].head(10).to_string()
    assert itself.mean() > 0.999
    assert flagged.sum() < 20


def test_sample_accuracy(real_index, real_rows):
    truth = write_addresses(real_rows, n=6_000, seed=11)
    r = geocode_addresses(truth["address"], real_index)
    km = haversine_km(
        truth["lat"].to_numpy(), truth["lon"].to_numpy(), r["lat"].to_numpy(), r["lon"].to_numpy()
    )
    clean = truth["style"].isin(CLEAN_STYLES).to_numpy()
    town_ok = r["level"].isin(["block", "town"]).to_numpy() & (
        r["town"].to_numpy(dtype=object) == truth["town"].to_numpy(dtype=object)
    )
    assert town_ok[clean].mean() >= 0.99
    assert (np.nan_to_num(km, nan=np.inf)[~clean] <= 1.0).mean() >= 0.97
    wrong_pref = r["pref_code"].notna() & (r["pref_code"] != truth["pref_code"])
    assert not wrong_pref.any()


@pytest.mark.parametrize(
    ("address", "ward"),
    [
        ("新潟県新潟市北区架空町1-1", "新潟市北区"),  # was 秋葉区「北」, 14 km off
        ("福岡県北九州市若松区西園341-23", "北九州市若松区"),  # was 八幡東区「大字若松」
    ],
)
def test_a_ward_name_is_never_read_as_a_town_of_another_ward(real_index, address, ward):
    r = geocode_addresses(pd.Series([address]), real_index).iloc[0]
    assert (r["level"], r["city"]) == ("city", ward)


def test_a_made_up_town_in_any_ward_stays_in_that_ward(real_index, real_rows):
    """Every 政令市 ward: 「<ward>架空町1-1」 gives the ward, never a town of another ward."""
    wards = real_rows.loc[real_rows["city"].str.contains("市.+区$"), ["pref", "city"]]
    wards = wards.drop_duplicates().reset_index(drop=True)
    assert len(wards) > 150  # 20 政令市
    addresses = wards["pref"] + wards["city"] + "架空町1-1"
    results = geocode_addresses(addresses, real_index)
    elsewhere = results[(results["level"] == "town") & (results["city"] != wards["city"])]
    assert elsewhere.empty, pd.concat([wards, elsewhere[["city", "town"]]], axis=1).dropna()
    assert (results["city"] == wards["city"]).all()
