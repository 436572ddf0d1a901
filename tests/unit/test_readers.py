"""Readers for the formats surveys arrive in: Stata/SPSS with value labels, Excel, CP932."""

import pandas as pd
import pyreadstat
import pytest

from spillover.config import Source
from spillover.ingest import map_source_frame
from spillover.rawfiles import IngestError, read_raw

AFFILIATE_COLUMNS = {
    "year": "year",
    "affid": "affiliate_id",
    "parent": "parent_firm_id",
    "country": "country",
    "ind": "industry",
    "sales": "sales",
}
AFFILIATES = pd.DataFrame(
    {
        "year": [2015, 2015, 2015],
        "affid": ["A1", "A2", "A3"],
        "parent": ["F1", "F1", "F2"],
        "country": [1.0, 2.0, 3.0],  # a labelled numeric code, as the survey's Stata file stores it
        "ind": [31.0, 29.0, 9.0],
        "sales": [100.0, 50.0, 10.0],
    }
)
COUNTRY_LABELS = {"country": {1.0: "CN", 2.0: "US", 3.0: "TH"}}


def _affiliates(path, fmt, value_labels):
    source = Source(
        name="genchi",
        path=str(path),
        format=fmt,
        columns=AFFILIATE_COLUMNS,
        value_labels=value_labels,
    )
    raw, lines = read_raw(path, source)
    return map_source_frame(raw, lines, table="affiliates", source=source, path=path, year=2015)


@pytest.mark.parametrize(("fmt", "suffix"), [("stata", "dta"), ("spss", "sav")])
def test_value_labels_are_applied_or_the_codes_kept(tmp_path, fmt, suffix):
    path = tmp_path / f"genchi.{suffix}"
    write = pyreadstat.write_dta if fmt == "stata" else pyreadstat.write_sav
    write(AFFILIATES, path, variable_value_labels=COUNTRY_LABELS)

    good, bad = _affiliates(path, fmt, "labels")
    assert good["country"].tolist() == ["CN", "US", "TH"]
    assert good["industry"].tolist() == ["31", "29", "09"] and bad.empty

    good, bad = _affiliates(path, fmt, "codes")
    assert good.empty
    assert bad["column"].unique().tolist() == ["country"]
    assert bad["reason"].iloc[0].startswith("check str_matches('^[A-Z]{2}$') failed for value 1")


def test_a_corrupt_statistical_file_is_an_ingest_error_naming_it(tmp_path):
    path = tmp_path / "genchi.dta"
    path.write_bytes(b"<stata_dta><header>cut")
    with pytest.raises(IngestError, match=rf"^{tmp_path}/genchi.dta: cannot read as stata: "):
        _affiliates(path, "stata", "codes")


def test_excel_with_title_rows_reads_its_sheet_and_numbers_rows_as_excel_shows(tmp_path):
    path = tmp_path / "kikatsu.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"x": ["表紙"]}).to_excel(writer, sheet_name="表紙", index=False)
        sheet = pd.DataFrame(
            [["企業活動基本調査 2015年度", None, None], [None, None, None]]
            + [["企業番号", "資本金", "売上高"], ["F1", 1500, 9000], ["F2", "χ", 300]]
        )
        sheet.to_excel(writer, sheet_name="集計", index=False, header=False)
    source = Source(
        name="kikatsu",
        path=str(path),
        format="excel",
        sheet="集計",
        skip_lines=2,
        columns={"企業番号": "firm_id", "資本金": "capital", "売上高": "sales"},
    )
    raw, lines = read_raw(path, source)
    good, bad = map_source_frame(raw, lines, table="firms", source=source, path=path, year=2015)
    assert good["capital"].tolist() == [1500.0] and good["source_line"].tolist() == [4]
    assert bad["line"].tolist() == [5] and bad["column"].tolist() == ["capital"]

    missing = source.model_copy(update={"sheet": "2015"})
    with pytest.raises(IngestError, match="cannot read as excel: Worksheet named '2015' not found"):
        read_raw(path, missing)


def test_cp932_extension_characters_are_read_as_written(tmp_path):
    path = tmp_path / "kogyo.csv"
    text = "事業所番号,所在地,事業所名\n1,愛知県豊田市元町①番地,㈱髙橋製作所\n"
    path.write_bytes(text.encode("cp932"))
    raw, _ = read_raw(path, Source(name="k", path=str(path), encoding="cp932", columns={}))
    assert raw.iloc[0].tolist() == ["1", "愛知県豊田市元町①番地", "㈱髙橋製作所"]
    with pytest.raises(IngestError, match=r"line 2, byte \d+ \(byte \d+ of the line\)"):
        read_raw(path, Source(name="k", path=str(path), encoding="shift_jis", columns={}))
