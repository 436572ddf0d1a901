"""Export ratios derived from 鉱工業出荷内訳表 indices and weights, checked by hand."""

import pandas as pd
import pytest

from spillover.config import Source
from spillover.ingest import map_source_frame
from spillover.meti_shipments import ShipmentsLayoutError
from spillover.rawfiles import read_raw

ANNUAL = (
    "鉱工業出荷内訳表（2015年=100）原指数,,,,,\n"
    ",,,,,\n"
    "品目番号,品目名称,区分,ウエイト,2014,2015\n"
    "2A00000000,鉄鋼・非鉄金属工業,出荷,800.0,98.0,100.0\n"
    "2A00000000,鉄鋼・非鉄金属工業,輸出向け,200.0,105.0,100.0\n"
    "2A00000000,鉄鋼・非鉄金属工業,国内向け,600.0,95.7,100.0\n"
    '3B00000000,輸送機械工業,出荷,"1,500.0",101.0,100.0\n'
    "3B00000000,輸送機械工業,輸出向け,600.0,-,100.0\n"
)


def _ingest(path):
    source = Source(name="utiwake", path=str(path), format="meti_shipments", encoding="cp932")
    raw, lines = read_raw(path, source, table="export_ratios")
    return map_source_frame(raw, lines, table="export_ratios", source=source, path=path, year=None)


def test_ratios_are_export_index_times_weight_over_shipments_index_times_weight(tmp_path):
    path = tmp_path / "utiwake.csv"
    path.write_bytes(ANNUAL.encode("cp932"))
    good, bad = _ingest(path)
    assert good[["year", "industry_group", "source_line"]].values.tolist() == [
        [2014, "鉄鋼・非鉄金属工業", 5],
        [2015, "鉄鋼・非鉄金属工業", 5],
        [2015, "輸送機械工業", 8],
    ]
    # 100 × 105 × 200 / (98 × 800); 100 × 100 × 200 / (100 × 800); 100 × 100 × 600 / (100 × 1500)
    assert good["export_ratio"].tolist() == pytest.approx(
        [2_100_000 / 78_400, 25.0, 40.0], abs=1e-12
    )
    assert bad[["line", "column", "reason"]].values.tolist() == [
        [8, "export_ratio", "missing value in a required column"]
    ]


def test_a_repeated_group_name_is_an_error_and_footnotes_are_skipped(tmp_path):
    path = tmp_path / "utiwake.csv"
    path.write_bytes((ANNUAL + "注：2014年は確報,,,,,\n").encode("cp932"))
    good, _ = _ingest(path)
    assert len(good) == 3
    twice = ANNUAL + "4C00000000,輸送機械工業,出荷,100.0,100.0,100.0\n"
    path.write_bytes(twice.encode("cp932"))
    with pytest.raises(ShipmentsLayoutError, match="line 9: '輸送機械工業' already has a 出荷 row"):
        _ingest(path)


def test_a_final_month_replaces_its_preliminary_column(tmp_path):
    months = [f"2015{m:02d}" for m in range(1, 12)] + ["P201511"]
    rows = [
        ["品目番号", "品目名称", "区分", "ウエイト", *months],
        ["3B", "輸送機械工業", "出荷", "1000", *([100.0] * 12)],
        ["3B", "輸送機械工業", "輸出向け", "400", *([100.0] * 12)],
    ]
    pd.DataFrame(rows).to_csv(tmp_path / "u.csv", index=False, header=False, encoding="cp932")
    good, bad = _ingest(tmp_path / "u.csv")
    assert good.empty and bad["reason"].tolist() == ["missing value in a required column"]


def test_monthly_indices_average_over_whole_years_only_and_excel_reads_the_same(tmp_path):
    months = [f"2015{m:02d}" for m in range(1, 13)] + ["P201601", "P201602"]
    exports = [90.0] * 6 + [110.0] * 6 + [120.0, 121.0]
    rows = [
        ["品目番号", "品目名称", "区分", "ウエイト", *months],
        ["3B", "輸送機械工業", "出荷", "1000", *([100.0] * 14)],
        ["3B", "輸送機械工業", "輸出向け", "400", *exports],
    ]
    frame = pd.DataFrame([["鉱工業出荷内訳表", *[""] * 17]] + rows)
    frame.to_csv(tmp_path / "utiwake.csv", index=False, header=False, encoding="cp932")
    frame.to_excel(tmp_path / "utiwake.xlsx", index=False, header=False)
    for name in ("utiwake.csv", "utiwake.xlsx"):
        good, bad = _ingest(tmp_path / name)
        assert good[["year", "export_ratio"]].values.tolist() == [[2015, 40.0]], name
        assert bad["line"].tolist() == [4] and bad["column"].tolist() == ["export_ratio"], name


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda t: t.replace("品目番号", "番号"),
            "no header row starting with 品目番号 or 業種番号",
        ),
        (lambda t: t.replace(",区分,", ",系列,"), r"line 3: the header lacks \['区分'\]"),
        (
            lambda t: t.replace("輸出向け,600.0", "輸出向け,χ"),
            "line 8: ウエイト must be a positive number",
        ),
        (
            lambda t: t.replace("輸出向け,600.0", "輸出向け,6OO"),
            "line 8, column ウエイト: '6OO' is not a number",
        ),
        (lambda t: t.replace("輸出向け,200.0", "在庫,200.0"), "line 5: 区分 '在庫' is none of"),
        (
            lambda t: t.rsplit("3B00000000,輸送機械工業,輸出向け", 1)[0],
            "'輸送機械工業' has no 輸出向け row",
        ),
    ],
)
def test_a_malformed_table_names_the_line(tmp_path, edit, message):
    path = tmp_path / "utiwake.csv"
    path.write_bytes(edit(ANNUAL).encode("cp932"))
    with pytest.raises(ShipmentsLayoutError, match=message):
        _ingest(path)
