"""The Tankan DI in the BOJ Time-Series Data Search layouts (site CSV download, flat file)."""

import pytest

from spillover.boj_tankan import TankanLayoutError, series_table
from spillover.config import Source
from spillover.ingest import map_source_frame
from spillover.rawfiles import IncompleteInputError, read_raw

LARGE = "TK99F1000603GCQ01000"  # 製造業・大企業 in the shipped table
SMALL = "TK99F1000603GCQ03000"  # 製造業・中小企業
BUSINESS = "TK99F1000601GCQ01000"  # 業況判断 (another item): not read

SITE = (
    f"系列コード,CO'{LARGE},CO'{BUSINESS},CO'{SMALL}\n"
    "系列名称,D.I./海外での製商品需給/大企業/製造業/実績,D.I./業況/大企業/製造業/実績,"
    "D.I./海外での製商品需給/中小企業/製造業/実績\n"
    "単位,％ポイント,％ポイント,％ポイント\n"
    "2015/03,-3,12,-8\n"
    "2015/06,-1,15,ND\n"
    "2015/09,2,13,-5\n"
)


def _ingest(tmp_path, text, *, encoding="cp932"):
    path = tmp_path / "tankan.csv"
    path.write_bytes(text.encode(encoding))
    source = Source(name="tankan", path=str(path), format="boj_tankan", encoding=encoding)
    raw, lines = read_raw(path, source, table="external_demand")
    return map_source_frame(
        raw, lines, table="external_demand", source=source, path=path, year=None
    )


def test_the_site_download_gives_one_row_per_quarter_and_series_of_this_di(tmp_path):
    good, bad = _ingest(tmp_path, SITE)
    assert good[["period", "industry", "size_class", "di"]].values.tolist() == [
        ["2015Q1", "製造業", "大企業", -3.0],
        ["2015Q1", "製造業", "中小企業", -8.0],
        ["2015Q2", "製造業", "大企業", -1.0],
        ["2015Q3", "製造業", "大企業", 2.0],
        ["2015Q3", "製造業", "中小企業", -5.0],
    ]
    assert good["source_line"].tolist() == [4, 4, 5, 6, 6]
    assert bad[["line", "column", "reason"]].values.tolist() == [
        [5, "di", "missing value in a required column"]
    ]


def test_a_column_missing_from_the_table_is_taken_by_its_name(tmp_path):
    text = SITE.replace(f"CO'{SMALL}", "CO'TK99F1999603GCQ03000").replace(
        "製造業/実績\n", "鉄鋼/実績\n"
    )
    good, _ = _ingest(tmp_path, text)
    assert sorted(set(map(tuple, good[["industry", "size_class"]].values.tolist()))) == [
        ("製造業", "大企業"),
        ("鉄鋼", "中小企業"),
    ]


def test_trailing_blank_lines_are_not_a_cut_file(tmp_path):
    good, _ = _ingest(tmp_path, SITE + "\n\n")
    assert len(good) == 5
    flat, _ = _ingest(tmp_path, f"{LARGE},Q,201501,-3\n\n", encoding="utf-8")
    assert flat["di"].tolist() == [-3.0]


def test_a_tabled_code_named_with_another_size_stops_the_read(tmp_path):
    text = SITE.replace(
        "D.I./海外での製商品需給/大企業/製造業/実績",
        "D.I./海外での製商品需給/中小企業/製造業/実績",
        1,
    )
    with pytest.raises(
        TankanLayoutError, match=f"lists {LARGE} as .* of 製造業/大企業, but line 2"
    ):
        _ingest(tmp_path, text)


def test_a_tabled_code_named_as_another_series_stops_the_read(tmp_path):
    text = SITE.replace(
        "D.I./海外での製商品需給/大企業/製造業/実績",
        "D.I./国内での製商品・サービス需給/大企業/製造業/実績",
    )
    with pytest.raises(TankanLayoutError) as caught:
        _ingest(tmp_path, text)
    assert str(caught.value) == (
        f"{tmp_path}/tankan.csv: column 2: tankan_series.csv lists {LARGE} as the "
        "海外での製商品需給 DI (実績) of 製造業/大企業, but line 2 names it "
        "'D.I./国内での製商品・サービス需給/大企業/製造業/実績'; correct the table or the download"
    )


def test_the_flat_file_keeps_quarterly_rows_of_tabled_codes(tmp_path):
    text = (
        f"{LARGE},Q,201501,-3\n"
        f"{LARGE},Q,201502,NA\n"
        f"{BUSINESS},Q,201501,12\n"
        f"{LARGE},FY,2015,-2\n"
        f"{SMALL},Q,201505,-1\n"
    )
    good, bad = _ingest(tmp_path, text, encoding="utf-8")
    assert good[["period", "size_class", "di", "source_line"]].values.tolist() == [
        ["2015Q1", "大企業", -3.0, 1]
    ]
    assert bad[["line", "column", "reason"]].values.tolist() == [
        [2, "di", "missing value in a required column"],
        [5, "period", "cannot parse '201505' as str"],
    ]


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        (SITE + "2015/12,4\n", TankanLayoutError, "line 7: the last row has 2 of 4 fields"),
        (SITE.replace("系列コード", "コード"), TankanLayoutError, "none of the header rows"),
        (
            f"系列コード,{BUSINESS}\n2015/03,1\n",
            TankanLayoutError,
            "line 1: no column is a 海外での製商品需給 DI series",
        ),
        (SITE.rstrip("\n"), IncompleteInputError, "does not end in a newline"),
    ],
)
def test_malformed_tankan_files_name_the_line(tmp_path, text, error, message):
    with pytest.raises(error, match=message):
        _ingest(tmp_path, text)


def test_the_series_table_covers_every_industry_and_size_once():
    table = series_table()
    assert len(table) == len(set(table.values())) == 22 * 4
    assert table[LARGE] == ("製造業", "大企業")
