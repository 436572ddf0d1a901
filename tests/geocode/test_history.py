"""Municipal history: registers and gazetteers of different vintages (issue 11, item 5).

The real-name tests read ``../shared/gazetteer/japan_towns.csv.gz`` and skip without it;
gazetteers of another vintage are built from its rows in ``tmp_path`` (relabelled by the
changes of the table), never kept.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from spillover.cli import app
from spillover.geocode import geocode_addresses, load_gazetteer
from spillover.geocode.history import HISTORY_PATH, MunicipalHistoryError, read_history
from spillover.geocode.normalize import canonical_text

GAZETTEER = (
    Path(__file__).resolve().parents[2].parent / "shared" / "gazetteer" / "japan_towns.csv.gz"
)
_absent = pytest.mark.skipif(
    not GAZETTEER.exists(), reason=f"real gazetteer not found at {GAZETTEER}"
)


def real(test):
    """Mark a test that reads the real gazetteer (skipped without it)."""
    return pytest.mark.gazetteer(_absent(test))


OLD_CENTRAL = ("浜松市中区", "浜松市東区", "浜松市西区", "浜松市南区")


def geocode(index, *addresses: str) -> pd.DataFrame:
    return geocode_addresses(pd.Series(list(addresses)), index)


def history_rows(**where) -> pd.DataFrame:
    table = pd.read_csv(HISTORY_PATH, comment="#", dtype=str, keep_default_na=False)
    for column, value in where.items():
        table = table[table[column] == value]
    return table


def mikatahara_towns() -> list[str]:
    """The part of 浜松市北区 that went to 中央区 in 2024, as the table words it."""
    part = history_rows(old_name="浜松市北区", new_name="浜松市中央区")["part"].item()
    return part.split("/", 1)[1].split("、")


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    return pd.read_csv(
        GAZETTEER, dtype={"koaza": str}, keep_default_na=False, na_values={"lat": [""], "lng": [""]}
    )


@pytest.fixture(scope="module")
def real_index(tmp_path_factory):
    return load_gazetteer(GAZETTEER, index_dir=tmp_path_factory.mktemp("history-index"))


def town_level(frame: pd.DataFrame) -> pd.Series:
    return frame["level"].isin(["town", "block"])


def outcome(got: pd.DataFrame, truth: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """(right, wrong): the true town at town level, or a town-level answer with another town.

    A town in two wards of one 政令市 within 1 km of each other is one place: its city is the
    政令市 (浜松市瓜内町, in 中区 and 南区).
    """
    town = town_level(got) & (got["town"].values == truth["town"].values)
    seirei = truth["city"].str.replace(r"(?<=市).+区$", "", regex=True).values
    city = (got["city"].values == truth["city"].values) | (got["city"].values == seirei)
    return town & city, town_level(got) & ~(town & city)


def write_towns(rows: pd.DataFrame, path: Path) -> Path:
    rows.to_csv(path, index=False)
    return path


# -- the table ----------------------------------------------------------------------------


def test_table_holds_the_checked_facts():
    facts = {
        ("2024-01-01", "ward_reorganisation", old, "22138", "浜松市中央区")
        for old in ("22131", "22132", "22133", "22134", "22135")
    } | {
        ("2024-01-01", "ward_reorganisation", "22135", "22139", "浜松市浜名区"),
        ("2024-01-01", "ward_reorganisation", "22136", "22139", "浜松市浜名区"),
        ("2024-01-01", "ward_reorganisation", "22137", "22140", "浜松市天竜区"),
        ("2012-04-01", "ward_creation", "43100", "43101", "熊本市中央区"),
        ("2012-04-01", "ward_creation", "43100", "43105", "熊本市北区"),
        ("2018-10-01", "city_status", "40305", "40231", "那珂川市"),
    }
    table = history_rows()
    have = set(table[["date", "kind", "old_code", "new_code", "new_name"]].itertuples(index=False))
    assert facts <= {tuple(r) for r in have}
    assert read_history().changes[0].date >= dt.date(1999, 4, 1)


@real
def test_table_ends_in_the_gazetteers_municipalities(rows):
    """Every name the table leaves standing is a municipality of the 2024 gazetteer.

    Or a 政令市; except 浜松市's 2024 wards, which the gazetteer does not have yet.
    """
    table = history_rows()
    cities = {(p, canonical_text(c)) for p, c in zip(rows["pref"], rows["city"], strict=True)}
    cities |= {(p, re.sub(r"(?<=市).+区$", "", c)) for p, c in cities}  # 政令市
    gun_less = {(p, re.sub(r"^.+?郡", "", c)) for p, c in cities}  # 北海道: no 郡 in the table

    def names(column: str) -> set:
        return {(p, canonical_text(n)) for p, n in zip(table["pref"], table[column], strict=True)}

    standing = names("new_name") - names("old_name")
    missing = {n for n in standing if n not in cities and n not in gun_less}
    assert missing == {("静岡県", "浜松市中央区"), ("静岡県", "浜松市浜名区")}


# -- backwards: a newer register, an older gazetteer -------------------------------------


@real
def test_hamamatsu_2024_wards_against_the_seven_old_wards(rows, real_index):
    """浜松市中央区/浜名区 (2024) on the gazetteer of seven wards: the town picks the old ward."""
    hama = rows[rows["city"].str.startswith("浜松市") & (rows["koaza"] == "")]
    north = hama["city"] == "浜松市北区"
    mikatahara = north & hama["town"].isin(mikatahara_towns())
    truth = pd.concat(
        [
            hama[hama["city"].isin(OLD_CENTRAL) | mikatahara].assign(new="中央区"),
            hama[(north & ~mikatahara) | (hama["city"] == "浜松市浜北区")].assign(new="浜名区"),
        ]
    ).drop_duplicates(["city", "town"])
    assert mikatahara.sum() == 7 and len(truth) > 400
    got = geocode(real_index, *("静岡県浜松市" + truth["new"] + truth["town"] + "1-2"))
    right, wrong = outcome(got, truth)
    assert (got["municipality_mapped_from"] == "浜松市" + truth["new"].values).all()
    assert right.mean() > 0.97 and not wrong.any(), got[~right].head()
    # the rest are town names two old wards share: the shared level, flagged, with a reason
    assert got.loc[~right, "ambiguous"].all()
    assert got.loc[~right, "note"].str.contains("maps to 浜松市中区、").all()


@real
def test_backward_mapping_without_a_fitting_town_falls_back_with_a_reason(rows, real_index):
    """浜松市中央区 + a town of none of its five old wards: no confident town elsewhere.

    A town of 浜北区, or a made-up one: 浜松市, ambiguous, with the candidates named.
    """
    central = rows[rows["city"].isin([*OLD_CENTRAL, "浜松市北区"])]["town"].drop_duplicates()
    hamakita = rows[rows["city"] == "浜松市浜北区"]["town"].drop_duplicates()
    # not the stem of a central town either (浜北区上島: 中区上島一丁目 is 「上島1-」)
    hamakita = [t for t in hamakita if not central.str.startswith(t).any()]
    towns = [*hamakita[:20], "架空町"]
    got = geocode(real_index, *(f"静岡県浜松市中央区{town}1-1" for town in towns))
    assert (got["level"] == "city").all() and (got["city"] == "浜松市").all()
    assert got["ambiguous"].all()
    assert (
        got["note"]
        == "浜松市中央区 maps to 浜松市中区、浜松市東区、浜松市西区、浜松市南区、浜松市北区 "
        "(municipal history); no town of them fits"
    ).all()


@real
def test_kumamoto_wards_against_a_gazetteer_from_before_2012(rows, tmp_path):
    """熊本市中央区… (2012 wards) on a gazetteer where 熊本市 has no wards yet."""
    kumamoto = rows[rows["pref"] == "熊本県"].copy()
    ward = kumamoto["city"].str.extract(r"^熊本市(.+区)$")[0]
    kumamoto.loc[ward.notna(), "city"] = "熊本市"
    index = load_gazetteer(write_towns(kumamoto, tmp_path / "kumamoto_2011.csv"))
    assert index.history.vintage == (dt.date(2010, 3, 23), dt.date(2012, 4, 1))
    towns = kumamoto[ward.notna() & (kumamoto["koaza"] == "")].assign(ward=ward)
    towns = towns.drop_duplicates("town", keep=False)  # a name in two wards is ambiguous anyway
    got = geocode(index, *("熊本県熊本市" + towns["ward"] + towns["town"] + "5-6"))
    assert (got["municipality_mapped_from"].values == ("熊本市" + towns["ward"]).values).all()
    # the same answers as for the address written without its ward
    plain = geocode(index, *("熊本県熊本市" + towns["town"] + "5-6"))
    pd.testing.assert_frame_equal(
        got.drop(columns="municipality_mapped_from"), plain.drop(columns="municipality_mapped_from")
    )
    right, _ = outcome(got, towns.assign(city="熊本市"))
    assert right.mean() > 0.99


@real
def test_nakagawa_city_against_a_gazetteer_from_before_2018(rows, tmp_path):
    """那珂川市 (2018) on a gazetteer that still has 筑紫郡那珂川町."""
    fukuoka = rows[rows["pref"] == "福岡県"].replace({"city": {"那珂川市": "筑紫郡那珂川町"}})
    index = load_gazetteer(write_towns(fukuoka, tmp_path / "fukuoka_2017.csv"))
    got = geocode(index, "福岡県那珂川市片縄1-2-3", "那珂川市片縄1-2-3").iloc[0]
    assert (got["level"], got["city"], got["town"]) == ("town", "筑紫郡那珂川町", "片縄一丁目")
    assert got["municipality_mapped_from"] == "那珂川市"


# -- forwards: an older register, a newer gazetteer --------------------------------------


@real
@pytest.mark.parametrize(
    ("address", "city", "town", "written"),
    [
        # 平成の大合併
        ("静岡県天竜市二俣町二俣1", "浜松市天竜区", "二俣町二俣", "天竜市"),
        ("静岡県浜名郡舞阪町舞阪1", "浜松市西区", "舞阪町舞阪", "浜名郡舞阪町"),
        ("岐阜県本巣郡根尾村大字門脇1", "本巣市", "根尾門脇", "本巣郡根尾村"),
        ("埼玉県大宮市桜木町1-1", "さいたま市大宮区", "桜木町一丁目", "大宮市"),
        ("熊本県鹿本郡植木町岩野10", "熊本市北区", "植木町岩野", "鹿本郡植木町"),
        ("静岡県清水市入江1-2", "静岡市清水区", "入江一丁目", "清水市"),
        # 市制施行 and renames
        ("福岡県筑紫郡那珂川町片縄1-2", "那珂川市", "片縄一丁目", "筑紫郡那珂川町"),
        ("福岡県那珂川町片縄1-2", "那珂川市", "片縄一丁目", "那珂川町"),
        ("兵庫県篠山市北新町2", "丹波篠山市", "北新町", "篠山市"),
        # the same name elsewhere is the gazetteer's own: not mapped
        ("栃木県那須郡那珂川町馬頭1", "那須郡那珂川町", "馬頭", None),
    ],
)
def test_old_names_against_the_2024_gazetteer(real_index, address, city, town, written):
    got = geocode(real_index, address).iloc[0]
    assert (got["level"], got["city"], got["town"], got["ambiguous"]) == ("town", city, town, False)
    mapped = got["municipality_mapped_from"]
    assert (None if pd.isna(mapped) else mapped) == written


@real
def test_seven_old_wards_against_a_gazetteer_with_the_2024_wards(rows, tmp_path):
    """Registers of 2012–2023 (浜松市北区初生町) on a gazetteer that has the 2024 wards."""
    shizuoka = rows[rows["pref"] == "静岡県"].copy()
    north = shizuoka["city"] == "浜松市北区"
    mikatahara = north & shizuoka["town"].isin(mikatahara_towns())
    shizuoka["old"] = shizuoka["city"]
    shizuoka.loc[shizuoka["city"].isin(OLD_CENTRAL) | mikatahara, "city"] = "浜松市中央区"
    shizuoka.loc[(north & ~mikatahara) | (shizuoka["city"] == "浜松市浜北区"), "city"] = (
        "浜松市浜名区"
    )
    path = write_towns(shizuoka.drop(columns="old"), tmp_path / "shizuoka_2024.csv")
    index = load_gazetteer(path)
    assert index.history.vintage[0] == dt.date(2024, 1, 1)
    towns = shizuoka[shizuoka["old"].str.startswith("浜松市") & (shizuoka["koaza"] == "")]
    towns = towns[towns["old"] != "浜松市天竜区"].drop_duplicates(["old", "town"])
    got = geocode(index, *("静岡県" + towns["old"] + towns["town"] + "7"))
    right, wrong = outcome(got, towns)
    assert right.mean() > 0.97 and not wrong.any(), got[~right].head()
    assert (got["municipality_mapped_from"].values == towns["old"].values).all()


# -- the tiny hand-written gazetteer (tests/geocode/conftest.py): no real data needed ---


def test_backward_mapping_on_the_tiny_gazetteer(index):
    got = geocode(index, "静岡県浜松市中央区栄町1-5", "静岡県浜松市中央区新町2")
    assert (got["city"].iloc[0], got["town"].iloc[0]) == ("浜松市中区", "栄町")
    # 新町 is in 中区 and in 南区, 5 km apart: no guess
    assert (got["level"].iloc[1], got["city"].iloc[1], got["ambiguous"].iloc[1]) == (
        "city",
        "浜松市",
        True,
    )
    assert got["note"].iloc[1] == "浜松市中央区 maps to 浜松市中区、浜松市南区 (municipal history)"
    assert (got["municipality_mapped_from"] == "浜松市中央区").all()


def test_a_given_vintage_overrides_the_names(geolonia_path):
    """Said to be of mid-2024, the gazetteer's 中区 cannot stand for 中央区."""
    auto = load_gazetteer(geolonia_path)
    late = load_gazetteer(geolonia_path, vintage=dt.date(2024, 6, 1))
    early = load_gazetteer(geolonia_path, vintage=dt.date(2023, 6, 1))
    address = "静岡県浜松市中央区栄町1-5"
    assert geocode(auto, address)["town"].item() == geocode(early, address)["town"].item() == "栄町"
    got = geocode(late, address).iloc[0]
    assert (got["level"], got["city"]) == ("city", "浜松市")
    assert pd.isna(got["municipality_mapped_from"])
    assert len({auto.checksum, late.checksum, early.checksum}) == 3


def test_a_changed_table_does_not_reuse_cached_answers(geolonia_path, tmp_path):
    address = pd.Series(["静岡県浜松市中央区栄町1-5"])
    shipped = load_gazetteer(geolonia_path)
    assert geocode_addresses(address, shipped, cache_dir=tmp_path)["town"].item() == "栄町"
    lines = HISTORY_PATH.read_text(encoding="utf-8").splitlines(keepends=True)
    without_2024 = tmp_path / "history.csv"
    without_2024.write_text("".join(line for line in lines if not line.startswith("2024-")))
    changed = load_gazetteer(geolonia_path, history=without_2024)
    assert changed.checksum != shipped.checksum
    got = geocode_addresses(address, changed, cache_dir=tmp_path).iloc[0]
    assert (got["level"], got["city"]) == ("city", "浜松市")


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            "2005-02-30,merger,静岡県,22217,天竜市,22202,浜松市,",
            "date '2005-02-30' is not YYYY-MM-DD",
        ),
        ("2005-07-01,fusion,静岡県,22217,天竜市,22202,浜松市,", "unknown kind 'fusion'"),
        ("2005-07-01,merger,静岡,22217,天竜市,22202,浜松市,", "'静岡' is no prefecture"),
        ("2005-07-01,merger,静岡県,2217,天竜市,22202,浜松市,", "old_code '2217' is not a 5-digit"),
        ("2005-07-01,merger,静岡県,22217,,22202,浜松市,", "old_name is empty"),
        ("2005-07-01,merger,静岡県,22217,天竜市,22202,浜松市", "7 fields, expected 8"),
    ],
)
def test_a_malformed_row_names_the_file_and_line(geolonia_path, tmp_path, row, message):
    lines = HISTORY_PATH.read_text(encoding="utf-8").splitlines()
    lines[40] = row
    bad = tmp_path / "history.csv"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(MunicipalHistoryError, match=re.escape(f"{bad}, line 41: {message}")):
        load_gazetteer(geolonia_path, history=bad)


def test_cli_gazetteer_vintage(geolonia_path, tmp_path):
    addresses = tmp_path / "in.csv"
    addresses.write_text("id,address\n1,静岡県浜松市中央区栄町1-5\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    args = ["geocode", str(addresses), "--gazetteer", str(geolonia_path), "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "mapped through the municipal history: 1" in result.output
    assert pd.read_csv(out)["municipality_mapped_from"].item() == "浜松市中央区"
    result = CliRunner().invoke(app, [*args, "--gazetteer-vintage", "2024-06-01"])
    assert result.exit_code == 0 and "given 2024-06-01" in result.output
    assert pd.read_csv(out)["municipality_mapped_from"].isna().all()
    result = CliRunner().invoke(app, [*args, "--gazetteer-vintage", "2024-13-01"])
    assert result.exit_code == 1 and "not a date YYYY-MM-DD" in result.output
