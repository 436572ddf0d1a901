"""Loaders: each public layout, format detection, clear errors, persisted index."""

import gzip
import zipfile

import pandas as pd
import pytest

from spillover.geocode import GazetteerFormatError, geocode_addresses, load_gazetteer
from spillover.geocode.readers import detect_format

from .conftest import GEOLONIA_HEADER, GEOLONIA_ROWS, geolonia_csv

TOWNS_CSV = """pref_code,pref,city,town,koaza,lat,lng
23,愛知県,豊田市,元町一丁目,,35.080000,137.150000
23,愛知県,豊田市,元町二丁目,,35.082000,137.152000
7,福島県,伊達郡国見町,大字森山,五反田,37.875000,140.560000
7,福島県,伊達郡国見町,大字森山,堀ノ内,37.865000,140.550000
1,北海道,旭川市,新町一丁目,,,
"""

MLIT_OAZA_CSV = (
    '"都道府県コード","都道府県名","市区町村コード","市区町村名","大字町丁目コード","大字町丁目名",'
    '"緯度","経度","原典資料コード","大字・字・丁目区分コード"\n'
    '"23","愛知県","23211","豊田市","232110001","元町一丁目","35.080000","137.150000","1","3"\n'
    '"23","愛知県","23211","豊田市","232110002","元町二丁目","35.082000","137.152000","1","3"\n'
    '"23","愛知県","23211","豊田市","232110100","高丘","35.050000","137.120000","1","1"\n'
)

MLIT_GAIKU_CSV = (
    '"都道府県名","市区町村名","大字・丁目名","小字・通称名","街区符号・地番","座標系番号",'
    '"Ｘ座標","Ｙ座標","緯度","経度","住居表示フラグ","代表フラグ","更新前履歴フラグ",'
    '"更新後履歴フラグ"\n'
    '"愛知県","豊田市","元町一丁目","","1","7","-105000.0","13000.0","35.079000","137.149000",'
    '"1","1","0","0"\n'
    '"愛知県","豊田市","元町一丁目","","2","7","-104900.0","13100.0","35.081000","137.151000",'
    '"1","1","0","0"\n'
    '"愛知県","豊田市","元町一丁目","","2","7","-104950.0","13050.0","35.090000","137.160000",'
    '"1","0","0","0"\n'
    '"愛知県","豊田市","高丘","","1234","7","-108000.0","10000.0","35.051000","137.121000",'
    '"0","1","0","0"\n'
)


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def test_geolonia_layout(index):
    assert index.formats == ("geolonia",)
    assert len(index.towns) == 25  # 27 rows; 大字森山 has a base row and two 小字
    assert len(index.cities) == 18
    assert len(index.koaza) == 2


def test_geolonia_older_12_column_layout(tmp_path):
    header = (
        "都道府県コード,都道府県名,都道府県名カナ,都道府県名ローマ字,市区町村コード,"
        "市区町村名,市区町村名カナ,市区町村名ローマ字,大字町丁目コード,大字町丁目名,緯度,経度"
    )
    row = (
        "23,愛知県,アイチケン,AICHI KEN,23211,豊田市,トヨタシ,TOYOTA SHI,232110001,"
        "元町一丁目,35.08,137.15"
    )
    ix = load_gazetteer(write(tmp_path / "latest.csv", f"{header}\n{row}\n"))
    r = geocode_addresses(pd.Series(["愛知県豊田市元町1-1"]), ix).iloc[0]
    assert (r["level"], r["town"]) == ("town", "元町一丁目")


def test_shared_towns_layout_gz(tmp_path):
    path = tmp_path / "towns.csv.gz"
    path.write_bytes(gzip.compress(TOWNS_CSV.encode()))
    ix = load_gazetteer(path)
    assert ix.formats == ("towns",)
    # the row without coordinates is skipped; 大字森山 has only 小字 rows → mean point
    assert len(ix.towns) == 3
    r = geocode_addresses(pd.Series(["福島県国見町森山1", "福島県国見町森山字堀ノ内1"]), ix)
    assert r["lat"].tolist() == pytest.approx([37.870, 37.865])


def test_mlit_oaza_cp932(tmp_path):
    ix = load_gazetteer(write(tmp_path / "23000-17.0b.csv", MLIT_OAZA_CSV, "cp932"))
    assert ix.formats == ("mlit_oaza",)
    r = geocode_addresses(pd.Series(["愛知県豊田市元町２丁目", "愛知県豊田市大字高丘5"]), ix)
    assert r["town"].tolist() == ["元町二丁目", "高丘"]
    assert r["level"].tolist() == ["town", "town"]


def test_mlit_gaiku_cp932_gives_block_level(tmp_path):
    ix = load_gazetteer(write(tmp_path / "23211.csv", MLIT_GAIKU_CSV, "cp932"))
    assert ix.formats == ("mlit_gaiku",)
    addresses = ["愛知県豊田市元町1丁目2番3号", "愛知県豊田市元町一丁目9番", "豊田市高丘1234番地5"]
    r = geocode_addresses(pd.Series(addresses), ix)
    assert r["level"].tolist() == ["block", "town", "block"]
    # block 2: only the 代表フラグ=1 row counts
    assert (r["lat"].iat[0], r["lon"].iat[0]) == pytest.approx((35.081, 137.151))
    # the town point of a 街区-only gazetteer is the mean of its representative blocks
    assert r["lat"].iat[1] == pytest.approx((35.079 + 35.081) / 2)
    assert (r["lat"].iat[2], r["lon"].iat[2]) == pytest.approx((35.051, 137.121))


def test_directory_of_oaza_and_gaiku_files_in_zip(tmp_path):
    d = tmp_path / "mlit"
    d.mkdir()
    write(d / "23000-17.0b.csv", MLIT_OAZA_CSV, "cp932")
    with zipfile.ZipFile(d / "23000-22.0a.zip", "w") as zf:
        zf.writestr("23000-22.0a/23_2023.csv", MLIT_GAIKU_CSV.encode("cp932"))
    ix = load_gazetteer(d)
    assert set(ix.formats) == {"mlit_oaza", "mlit_gaiku"}
    r = geocode_addresses(pd.Series(["愛知県豊田市元町1-2-3", "愛知県豊田市元町1-9-3"]), ix)
    assert r["level"].tolist() == ["block", "town"]
    # town point comes from the 大字・町丁目 file, not from the blocks
    assert (r["lat"].iat[1], r["lon"].iat[1]) == pytest.approx((35.080, 137.150))


@pytest.mark.parametrize(
    ("header", "name"),
    [
        (GEOLONIA_HEADER.split(","), "geolonia"),
        (["pref_code", "pref", "city", "town", "koaza", "lat", "lng"], "towns"),
        (MLIT_OAZA_CSV.split("\n")[0].replace('"', "").split(","), "mlit_oaza"),
        # NFKC-insensitive: half-width X座標
        (
            MLIT_GAIKU_CSV.split("\n")[0].replace('"', "").replace("Ｘ", "X").split(","),
            "mlit_gaiku",
        ),
    ],
)
def test_detect_format(header, name):
    assert detect_format(header) == name


def test_missing_columns_are_named(tmp_path):
    text = geolonia_csv().replace(",緯度,経度", ",lat_wrong,経度")
    path = write(tmp_path / "latest.csv", text)
    with pytest.raises(GazetteerFormatError, match=r"latest\.csv.*geolonia.*\['緯度'\]"):
        load_gazetteer(path)


def test_unknown_layout(tmp_path):
    path = write(tmp_path / "x.csv", "a,b,c\n1,2,3\n")
    with pytest.raises(GazetteerFormatError, match=r"x\.csv: unrecognised gazetteer header"):
        load_gazetteer(path)


def test_truncated_csv(tmp_path):
    text = geolonia_csv()
    path = write(tmp_path / "latest.csv", text[: text.rindex(",")])
    with pytest.raises(GazetteerFormatError, match=r"latest\.csv: the last row has 13 of 14"):
        load_gazetteer(path)


def test_truncated_gzip(tmp_path):
    raw = gzip.compress(TOWNS_CSV.encode())
    path = tmp_path / "towns.csv.gz"
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(GazetteerFormatError, match=r"towns\.csv\.gz: cannot read.*truncated"):
        load_gazetteer(path)


def test_non_numeric_coordinate(tmp_path):
    path = write(tmp_path / "t.csv", TOWNS_CSV.replace("35.082000", "北緯35度"))
    with pytest.raises(
        GazetteerFormatError,
        match=r"t\.csv: 1 row\(s\) with a non-numeric 'lat' "
        r"\(first at data row 2: '北緯35度'\)",
    ):
        load_gazetteer(path)


def test_extra_fields_are_malformed(tmp_path):
    path = write(tmp_path / "t.csv", TOWNS_CSV.replace("35.082000", "35,082"))
    with pytest.raises(GazetteerFormatError, match=r"t\.csv: malformed CSV"):
        load_gazetteer(path)


def test_invalid_prefecture_code(tmp_path):
    path = write(tmp_path / "t.csv", TOWNS_CSV.replace("\n7,福島県", "\n48,福島県", 1))
    with pytest.raises(GazetteerFormatError, match=r"t\.csv: invalid 'pref_code'.*data row 3"):
        load_gazetteer(path)


def test_missing_file(tmp_path):
    with pytest.raises(GazetteerFormatError, match="no such gazetteer file"):
        load_gazetteer(tmp_path / "nope.csv")


def test_empty_file(tmp_path):
    with pytest.raises(GazetteerFormatError, match="empty file"):
        load_gazetteer(write(tmp_path / "e.csv", ""))


def test_persisted_index_is_reused(tmp_path):
    """A second load answers from the persisted tables; a changed source is rebuilt.

    The persisted towns table is edited between the loads (元町一丁目 moved to a
    latitude that no source row has), so only an index read back from disk, not
    one rebuilt from the CSV, can show the edit.
    """
    path = write(tmp_path / "latest.csv", geolonia_csv())
    idx_dir = tmp_path / "index"
    first = load_gazetteer(path, index_dir=idx_dir)
    (folder,) = idx_dir.iterdir()
    stored = pd.read_parquet(folder / "towns.parquet")
    moved = stored["town"] == "元町一丁目"
    assert moved.sum() == 1
    stored.loc[moved, "lat"] = 40.0
    stored.to_parquet(folder / "towns.parquet", index=False)
    address = pd.Series(["愛知県豊田市元町1-1"])

    second = load_gazetteer(path, index_dir=idx_dir)
    assert (second.checksum, second.formats) == (first.checksum, first.formats)
    expected = first.towns.copy()
    expected.loc[moved.to_numpy(), "lat"] = 40.0
    pd.testing.assert_frame_equal(second.towns, expected)
    assert geocode_addresses(address, second)["lat"].tolist() == [40.0]

    # A changed source never gets the stale index: it is rebuilt next to it.
    rows = [(*r[:6], 35.081, r[7]) if r[4] == "元町一丁目" else r for r in GEOLONIA_ROWS]
    write(path, geolonia_csv(rows))
    third = load_gazetteer(path, index_dir=idx_dir)
    assert third.checksum != first.checksum
    assert geocode_addresses(address, third)["lat"].tolist() == pytest.approx([35.081])
    assert len(list(idx_dir.iterdir())) == 2


def test_changed_file_gets_a_new_index(tmp_path):
    idx_dir = tmp_path / "index"
    path = write(tmp_path / "t.csv", TOWNS_CSV)
    a = load_gazetteer(path, index_dir=idx_dir)
    write(path, TOWNS_CSV.replace("35.080000", "35.090000"))
    b = load_gazetteer(path, index_dir=idx_dir)
    assert a.checksum != b.checksum
    assert b.towns["lat"].max() == pytest.approx(37.87)
    assert 35.09 in b.towns["lat"].round(6).tolist()
