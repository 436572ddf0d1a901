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
    ("address", "ward", "level"),
    [
        ("新潟県新潟市北区架空町1-1", "新潟市北区", "city"),  # was 秋葉区「北」, 14 km off
        # was 八幡東区「大字若松」; 西園 is 西園町 without its 町 (the only town starting so)
        ("福岡県北九州市若松区西園341-23", "北九州市若松区", "town"),
    ],
)
def test_a_ward_name_is_never_read_as_a_town_of_another_ward(real_index, address, ward, level):
    r = geocode_addresses(pd.Series([address]), real_index).iloc[0]
    assert (r["level"], r["city"]) == (level, ward)


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


# --- register-grade: never confidently wrong (issue 11) ------------------------------------


def _towns(real_rows) -> pd.DataFrame:
    return real_rows.drop_duplicates(["pref", "city", "town"]).reset_index(drop=True)


def _kanji(towns: pd.DataFrame) -> np.ndarray:
    """Kanji of real town names, in a fixed order (random names are drawn from them)."""
    return np.array(
        sorted({c for name in towns["town"] for c in name if "\u4e00" <= c <= "\u9fff"})
    )


def test_a_made_up_town_never_lands_outside_its_municipality(real_index, real_rows):
    """Property: no town-level answer more than 1 km from the municipality's own towns.

    4,000 real municipalities, each with a made-up town name.
    """
    towns = _towns(real_rows)
    kanji, rng = _kanji(towns), np.random.default_rng(11)
    picked = towns.iloc[rng.integers(len(towns), size=4000)].reset_index(drop=True)
    names = ["".join(rng.choice(kanji, size=rng.integers(2, 4))) + "町" for _ in range(4000)]
    addresses = picked["pref"] + picked["city"] + pd.Series(names) + "12-3"
    result = geocode_addresses(addresses, real_index)
    placed = result["level"].isin(["block", "town", "oaza"]).to_numpy()
    points = towns.groupby(["pref", "city"])[["lat", "lon"]].agg(list)
    far = []
    for i in np.flatnonzero(placed):
        lats, lons = points.loc[tuple(picked.loc[i, ["pref", "city"]])]
        km = haversine_km(np.array(lats), np.array(lons), result["lat"][i], result["lon"][i])
        if km.min() > 1.0:
            far.append((addresses[i], result["city"][i], result["town"][i], round(km.min(), 1)))
    assert far == []


def _garbled(towns: pd.DataFrame, kanji: np.ndarray, rng, *, chome: bool) -> pd.DataFrame:
    """Towns with one character replaced by another kanji, where it hurts.

    Either the town's name goes on past another town's name of the same municipality and
    the replaced character is in that rest, or it is the 丁 of a chome town.
    """
    keys = towns.assign(key=towns["town"].map(canonical_text))
    rows = []
    for (_, _), group in keys.groupby(["pref", "city"], sort=False):
        names = set(group["key"])
        for row in group.itertuples():
            if chome:
                cut = row.town.find("丁目")
                if cut < 2:
                    continue
                position = cut  # 「近内四丁目」 → 「近内四?目」
            else:
                shorter = [n for n in names if row.key.startswith(n) and len(n) < len(row.key)]
                if not shorter or row.key[len(max(shorter, key=len))].isdigit():
                    continue
                position = len(max(shorter, key=len)) + 1  # inside the longer name's rest
                if position >= len(row.town) or not ("\u4e00" <= row.town[position] <= "\u9fff"):
                    continue
            garbled = row.town[:position] + rng.choice(kanji) + row.town[position + 1 :]
            if canonical_text(garbled) not in names:
                rows.append((row.pref, row.city, row.town, garbled, row.lat, row.lon))
    frame = pd.DataFrame(rows, columns=["pref", "city", "town", "garbled", "lat", "lon"])
    return frame.sample(n=min(len(frame), 3000), random_state=5).reset_index(drop=True)


@pytest.mark.parametrize("chome", [False, True], ids=["longer-name", "chome"])
def test_a_garbled_town_name_is_never_cut_to_a_shorter_town_far_away(real_index, real_rows, chome):
    """「利賀村上百瀨427番地」 must not become 利賀村 (7 km off).

    A town followed by text only a longer town could explain falls back a level, flagged,
    with a note.
    """
    towns = _towns(real_rows)
    cases = _garbled(towns, _kanji(towns), np.random.default_rng(3), chome=chome)
    assert len(cases) > 500
    result = geocode_addresses(cases["pref"] + cases["city"] + cases["garbled"] + "427", real_index)
    km = haversine_km(cases["lat"], cases["lon"], result["lat"], result["lon"])
    confident = result["level"].isin(["block", "town"]) & ~result["ambiguous"]
    wrong = confident.to_numpy() & (np.nan_to_num(km, nan=np.inf) > 1.0)
    # a garbled name can spell another real town (「新町」 for 柳町): at most 1 in 200
    assert wrong.mean() < 0.005, cases[wrong].head(10).to_string()
    if chome:  # the chome stem is not a town: the municipality, without a claim
        assert (result["level"] == "city").mean() > 0.8
    else:
        flagged = result["ambiguous"] & result["note"].str.startswith("unexplained after town")
        assert flagged.mean() > 0.9


def test_the_issue_example_of_a_cut_name_is_now_read_whole(real_index):
    """「利賀村上百瀨」 was cut to 利賀村 (7 km off); 瀨 is now folded to 瀬 (variants.csv)."""
    r = geocode_addresses(pd.Series(["富山県南砺市利賀村上百瀨427番地"]), real_index).iloc[0]
    assert (r["level"], r["town"], r["ambiguous"]) == ("town", "利賀村上百瀬", False)
    cut = geocode_addresses(pd.Series(["富山県南砺市利賀村上百X427番地"]), real_index).iloc[0]
    assert cut["level"] in ("oaza", "city") and cut["ambiguous"]
    assert cut["note"] == "unexplained after town 利賀村: 上百X"


def test_town_names_written_with_variant_characters(real_index, real_rows):
    """A town written with a variant character (瀨, 黑, 驒, 髙, 﨑, 檜, ガ, …) is found.

    One real town for every published variant pair whose common form is in town names.
    """
    from spillover.geocode.normalize import VARIANTS_PATH

    with VARIANTS_PATH.open(encoding="utf-8") as handle:
        pairs = pd.read_csv(handle, comment="#")
    towns = _towns(real_rows)
    having: dict[str, list[int]] = {}
    for number, name in enumerate(towns["town"]):
        for character in set(name):
            having.setdefault(character, []).append(number)
    rng = np.random.default_rng(9)
    cases = []
    for variant, canonical in zip(pairs["variant"], pairs["canonical"], strict=True):
        if canonical in having:
            row = towns.iloc[rng.choice(having[canonical])]
            written = row["town"].replace(canonical, variant)
            cases.append((row["pref"], row["city"], row["town"], written, variant))
    frame = pd.DataFrame(cases, columns=["pref", "city", "town", "written", "variant"])
    assert len(frame) > 300 and {"瀨", "黑", "驒", "檜", "ガ"} <= set(frame["variant"])
    result = geocode_addresses(frame["pref"] + frame["city"] + frame["written"] + "5", real_index)
    found = (result["town"] == frame["town"]) & result["level"].isin(["town", "block"])
    assert found.mean() > 0.97, frame[~found].head(10).to_string()


@pytest.mark.parametrize(
    "prefix",
    [
        "(株)三共化成 本社・工場 ",
        "【",
        "〒068ー7581 ",
        "本社 〒123-4567 ",
        "株式会社 山田製作所 第二工場　",
    ],
)
def test_the_address_is_found_inside_surrounding_text(real_index, real_rows, prefix):
    truth = write_addresses(real_rows, n=400, seed=17)
    truth = truth[truth["style"].isin(CLEAN_STYLES)].reset_index(drop=True)
    plain = geocode_addresses(truth["address"], real_index)
    wrapped = geocode_addresses(prefix + truth["address"] + "（旧工場）", real_index)
    same = ["level", "city", "town", "lat", "lon"]
    pd.testing.assert_frame_equal(wrapped[same], plain[same])
    if not prefix.startswith("〒"):  # a postal code is removed, not noted
        assert wrapped["note"].str.startswith("ignored before the address: ").all()


@pytest.mark.parametrize("prefix", ["(株)三共化成 本社・工場 ", "【本社】", "第二工場："])
def test_an_address_without_its_prefecture_is_found_inside_text(real_index, real_rows, prefix):
    """No prefecture: the address starts at the first municipality that leads to a town."""
    truth = write_addresses(real_rows, n=600, seed=23)
    truth = truth[truth["style"] == "no_pref_dash"].reset_index(drop=True)
    plain = geocode_addresses(truth["address"], real_index)
    wrapped = geocode_addresses(prefix + truth["address"], real_index)
    placed = plain["level"].isin(["block", "town", "oaza"])
    assert placed.mean() > 0.95
    same = ["level", "city", "town", "lat", "lon"]
    pd.testing.assert_frame_equal(wrapped.loc[placed, same], plain.loc[placed, same])
    assert wrapped.loc[placed, "note"].str.startswith("ignored before the address: ").all()


def test_a_town_written_without_its_suffix(real_index, real_rows):
    """「豊田市和合152-3」 for 和合町.

    The only town starting so is found; with several, the municipality is flagged instead.
    """
    towns = _towns(real_rows)
    keys = towns.assign(key=towns["town"].map(canonical_text))
    cases = []
    for (_, _), group in keys.groupby(["pref", "city"], sort=False):
        names = set(group["key"])
        for row in group.itertuples():
            stem = row.key[:-1]
            if (
                row.key[-1] in "町村"
                and len(stem) >= 2
                and not any(c.isdigit() for c in stem)
                and stem not in names  # 高田 and 高田町 both exist: 高田 is right
            ):
                starting = [name for name in names if name.startswith(stem)]
                cases.append((row.pref, row.city, row.town, stem, len(starting) == 1))
    frame = pd.DataFrame(cases, columns=["pref", "city", "town", "stem", "alone"])
    frame = frame.sample(n=3000, random_state=2).reset_index(drop=True)
    result = geocode_addresses(frame["pref"] + frame["city"] + frame["stem"] + "152-3", real_index)
    alone = frame["alone"].to_numpy()
    found = (result["town"] == frame["town"]).to_numpy() & (result["level"] == "town").to_numpy()
    assert found[alone].mean() > 0.97
    others = ~alone
    assert others.sum() > 50
    confident_wrong = (result["level"] == "town") & ~result["ambiguous"] & ~found
    assert confident_wrong[others].mean() < 0.02
    r = geocode_addresses(pd.Series(["愛知県豊田市和合152-3"]), real_index).iloc[0]
    assert (r["town"], r["note"]) == ("和合町", "town written without its suffix: 和合 → 和合町")
