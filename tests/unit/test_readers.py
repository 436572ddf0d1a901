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


ID = {"事業所番号": "establishment_id"}


def test_cp932_extension_characters_are_read_as_written(tmp_path):
    path = tmp_path / "kogyo.csv"
    text = "事業所番号,所在地,事業所名\n1,愛知県豊田市元町①番地,㈱髙橋製作所\n"
    path.write_bytes(text.encode("cp932"))
    raw, _ = read_raw(path, Source(name="k", path=str(path), encoding="cp932", columns=ID))
    assert raw.iloc[0].tolist() == ["1", "愛知県豊田市元町①番地", "㈱髙橋製作所"]
    with pytest.raises(IngestError, match=r"line 2, byte \d+ \(byte \d+ of the line\)"):
        read_raw(path, Source(name="k", path=str(path), encoding="shift_jis", columns=ID))


def _random_csv(rng, sep: str, newline: str) -> str:
    """A clean delimited file: quoted separators and quotes, spaces, kanji, empty fields."""
    pieces = ["1,234", ' a "b" ', "", "東京都千代田区", "χ", "△5", "-", "x\ty", "0012"]
    rows = [sep.join(["事業所番号", "所在地", "値"])]
    for i in range(200):
        fields = [str(i)] + [pieces[j] for j in rng.integers(0, len(pieces), 2)]
        quoted = [
            '"' + f.replace('"', '""') + '"' if (sep in f or '"' in f or rng.random() < 0.2) else f
            for f in fields
        ]
        rows.append(sep.join(quoted))
    return newline.join(rows) + newline


@pytest.mark.parametrize(("sep", "fmt"), [(",", "csv"), ("\t", "tsv")])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_the_arrow_reader_reads_clean_files_exactly_as_the_csv_module(tmp_path, sep, fmt, newline):
    import numpy as np

    from spillover import rawfiles

    text = _random_csv(np.random.default_rng(len(newline) + len(sep)), sep, newline)
    data = text.encode("cp932")
    decoded = data.decode("cp932")
    fast = rawfiles._read_delimited_fast(data, decoded, sep=sep)
    assert fast is not None, "a clean file takes the arrow path"
    slow = rawfiles._read_delimited(decoded, path=tmp_path, sep=sep)
    pd.testing.assert_frame_equal(fast[0], slow[0])
    pd.testing.assert_series_equal(fast[1], slow[1])


@pytest.mark.parametrize(
    "text",
    [
        "a,b\n1,2\n3\n",  # a short record
        "a,b\n1,2\n\n3,4\n",  # a blank line
        'a,b\n1,"x\ny"\n',  # a quoted line break
        "a,a\n1,2\n",  # a repeated header name
        "a,\n1,2\n",  # a blank header name
    ],
)
def test_files_the_arrow_reader_cannot_read_like_the_csv_module_go_to_it(text):
    from spillover import rawfiles

    assert rawfiles._read_delimited_fast(text.encode(), text, sep=",") is None


def test_ingest_reads_each_raw_file_once_hashing_what_it_parses(tmp_path, monkeypatch):
    from pathlib import Path

    from spillover.config import parse_config
    from spillover.demo.world import WorldParams, build_demo_world
    from spillover.ingest import ingest_table

    world = build_demo_world(tmp_path / "world", WorldParams())
    config = parse_config(
        {**__import__("yaml").safe_load(world.config_path.read_text()), "cache_dir": None},
        base_dir=world.root,
    )
    opened: list[str] = []  # Path.read_bytes opens through Path.open too
    open_ = Path.open
    monkeypatch.setattr(
        Path, "open", lambda self, *a, **k: opened.append(self.name) or open_(self, *a, **k)
    )
    _, _, reports = ingest_table("establishments", config)
    names = [Path(report.file).name for report in reports]
    assert len(names) == 8
    assert sorted(name for name in opened if name in names) == sorted(names)


def test_unlabelled_codes_next_to_labels_stay_codes(tmp_path):
    path = tmp_path / "partly.dta"
    frame = AFFILIATES.assign(ind=[31.0, 9.0, 29.0])
    pyreadstat.write_dta(frame, path, variable_value_labels={"ind": {31.0: "31"}, **COUNTRY_LABELS})
    good, bad = _affiliates(path, "stata", "labels")
    assert good["industry"].tolist() == ["31", "09", "29"] and bad.empty


def test_a_corrupt_workbook_is_an_ingest_error(tmp_path):
    path = tmp_path / "cut.xlsx"
    path.write_bytes(b"PK\x03\x04 not a whole workbook")
    source = Source(name="x", path=str(path), format="excel", columns=ID)
    with pytest.raises(IngestError, match=r"cut.xlsx: cannot read as excel: "):
        read_raw(path, source)
