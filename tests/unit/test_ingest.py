import os

import pandas as pd
import pytest

from spillover.config import Source, parse_config
from spillover.demo.world import WorldParams, demo_config
from spillover.ingest import IngestError, _drop_duplicate_keys, ingest_table
from spillover.quarantine import QuarantineLimitError
from spillover.rawfiles import read_raw
from spillover.threads import usable_cores

HEADER = (
    "調査年,事業所番号,企業番号,都道府県コード,市区町村コード,所在地,産業分類番号,従業者数,"
    "製造品出荷額等（万円）,直接輸出額の割合（％）,資本金額（万円）\n"
)
ROWS = [
    # good, with a thousands separator
    '2013,E1,F1,23,23211,愛知県豊田市元町一丁目1番1号,3113,120,"1,234,500",12,500000\n',
    "2013,E2,,23,23211,豊田市元町１－２,２４４１,８,５００００,,\n",  # good, full-width digits
    "2013,E3,,23,23211,豊田市元町1-3,2441,5,-3000,0,\n",  # negative shipments
    "2013,E4,,99,23211,豊田市元町1-4,2441,5,3000,0,\n",  # unknown prefecture
    "2013,E5,,23,23211,豊田市元町1-5,2441,不明,3000,0,\n",  # employees unknown
    "2013,E6,,23,23211,豊田市元町1-6,2441,5,3000,101,\n",  # share above 100 %
    "2010,E7,,23,23211,豊田市元町1-7,2441,5,3000,0,\n",  # wrong survey year for the file
    # duplicate key
    "2013,E1,F1,23,23211,愛知県豊田市元町一丁目1番1号,3113,120,1234500,12,500000\n",
]


def _config(tmp_path, *, encoding="cp932", columns=None):
    data = demo_config(WorldParams(published_layouts=False))
    source = data["sources"]["establishments"][0]
    source.update(path="kogyo_{survey_year}.csv", years=[2012], encoding=encoding)
    if columns is not None:
        source["columns"] = columns
    data["sources"]["establishments"] = [source]
    return parse_config(data, base_dir=tmp_path)


def _write(tmp_path, rows=ROWS, encoding="cp932"):
    path = tmp_path / "kogyo_2013.csv"
    path.write_text(HEADER + "".join(rows), encoding=encoding)
    return path


def test_bad_rows_go_to_quarantine_with_line_column_and_reason(tmp_path):
    _write(tmp_path)
    table, quarantine, reports = ingest_table(
        "establishments",
        _config(tmp_path).model_copy(
            update={
                "quarantine": _config(tmp_path).quarantine.model_copy(update={"max_share": 1.0})
            }
        ),
    )
    assert list(table["establishment_id"]) == ["E1", "E2"]
    assert table["year"].tolist() == [2012, 2012]  # accounts year = survey year - 1
    assert table["shipments"].tolist() == pytest.approx([12345.0, 500.0])  # 万円 → million yen
    assert table["capital"].iloc[0] == pytest.approx(5000.0)
    assert table["employees"].tolist() == [120, 8]
    assert table["industry"].tolist() == ["3113", "2441"]
    assert pd.isna(table["export_share"].iloc[1]) and pd.isna(table["firm_id"].iloc[1])
    by_line = quarantine.set_index("line")
    assert by_line.loc[4, "column"] == "shipments" and "-30.0" in by_line.loc[4, "reason"]
    assert by_line.loc[5, "column"] == "pref_code" and "99" in by_line.loc[5, "reason"]
    assert by_line.loc[6, "column"] == "employees" and "missing" in by_line.loc[6, "reason"]
    assert by_line.loc[7, "column"] == "export_share"
    assert by_line.loc[8, "column"] == "year" and "says 2010" in by_line.loc[8, "reason"]
    assert by_line.loc[9, "reason"].startswith("duplicate key; first seen at") and by_line.loc[
        9, "reason"
    ].endswith(":2")
    assert '"事業所番号": "E3"' in by_line.loc[4, "raw"]
    report = reports[0]
    assert (report.rows_in, report.rows_out, report.rows_quarantined) == (8, 2, 6)
    assert report.rows_in == report.rows_out + report.rows_quarantined


def test_too_many_bad_rows_fail_the_run_naming_the_file(tmp_path):
    path = _write(tmp_path)
    with pytest.raises(QuarantineLimitError, match=rf"{path.name}: 5 of 8 rows \(62.5%\) rejected"):
        ingest_table("establishments", _config(tmp_path))


def test_wrong_encoding_is_explained(tmp_path):
    path = _write(tmp_path, ROWS[:2])
    with pytest.raises(IngestError) as caught:
        ingest_table("establishments", _config(tmp_path, encoding="utf-8"))
    assert str(caught.value) == (
        f"{path}: cannot decode as 'utf-8' at line 1, byte 0 (byte 0 of the line): b'\\x92' "
        "(invalid start byte); the whole file decodes as 'cp932': set "
        "sources.establishments[kogyo_toukei].encoding: cp932"
    )


def test_a_bad_byte_is_located_by_line_and_offset(tmp_path):
    rows = [row.encode("utf-8") for row in ROWS[:3]]
    rows[2] = rows[2].replace("豊田市".encode(), "豊田市".encode("cp932"))
    data = HEADER.encode("utf-8") + b"".join(rows)
    (tmp_path / "kogyo_2013.csv").write_bytes(data)
    offset = data.index("豊田市".encode("cp932"))
    with pytest.raises(IngestError) as caught:
        ingest_table("establishments", _config(tmp_path, encoding="utf-8"))
    message = str(caught.value)
    line_start = data.rindex(b"\n", 0, offset) + 1
    assert f"at line 4, byte {offset} (byte {offset - line_start} of the line)" in message
    assert message.endswith("a binary file, or mixed encodings?")


def test_line_numbers_follow_values_that_span_lines(tmp_path):
    rows = [
        ROWS[0],
        '2013,E2,,23,23211,"豊田市元町1-2\n山田ビル",2441,8,50000,,\n',  # lines 3-4
        "2013,E3,,23,23211,豊田市元町1-3,2441,-5,3000,0,\n",  # line 5, bad
    ]
    _write(tmp_path, rows)
    config = _config(tmp_path)
    config = config.model_copy(
        update={"quarantine": config.quarantine.model_copy(update={"max_share": 1.0})}
    )
    table, quarantine, _ = ingest_table("establishments", config)
    assert table["source_line"].tolist() == [2, 3]
    assert table["address"].tolist()[1] == "豊田市元町1-2\n山田ビル"
    assert quarantine["line"].tolist() == [5]


def test_mapping_to_a_missing_raw_column_is_named(tmp_path):
    _write(tmp_path, ROWS[:2])
    columns = {"調査年": "year", "事業所番号X": "establishment_id"}
    with pytest.raises(
        IngestError, match=r"columns \['事業所番号X'\] named in sources.establishments"
    ):
        ingest_table("establishments", _config(tmp_path, columns=columns))


def test_missing_source_file_names_the_year(tmp_path):
    with pytest.raises(IngestError, match=r"no file for year 2012 \(looked for .*kogyo_2013.csv\)"):
        ingest_table("establishments", _config(tmp_path))


def test_tankan_periods_are_normalised(tmp_path):
    path = tmp_path / "di.csv"
    path.write_text(
        "時点,業種,規模,DI\n2015年6月,製造業,大企業,-3\n2015/12,製造業,大企業,4\n2016Q1,製造業,大企業,５\n",
        encoding="utf-8",
    )
    source = Source(
        name="t",
        path=str(path),
        columns={"時点": "period", "業種": "industry", "規模": "size_class", "DI": "di"},
    )
    raw, lines = read_raw(path, source)
    from spillover.ingest import map_source_frame

    good, bad = map_source_frame(
        raw, lines, table="external_demand", source=source, path=path, year=None
    )
    assert good["period"].tolist() == ["2015Q2", "2015Q4", "2016Q1"]
    assert good["di"].tolist() == [-3.0, 4.0, 5.0]
    assert bad.empty


def _firm_source(tmp_path, name, **options):
    data = demo_config(WorldParams(published_layouts=False))
    source = data["sources"]["firms"][0]
    source.update(path=name, years=[2015], **options)
    data["sources"]["firms"] = [source]
    return parse_config(data, base_dir=tmp_path)


FIRMS = pd.DataFrame(
    {
        "調査年度": [2015, 2015],
        "企業番号": [10.0, 20.0],  # numeric ids, as Stata or Parquet store them
        "資本金（百万円）": [1500.0, 40.0],
        "売上高（百万円）": [9000.0, 300.0],
        "直接輸出額（百万円）": [900.0, None],
        "常時従業者数": [800, 60],
        "主業種": [9, 31],  # JSIC majors with the leading zero of 09 lost
    }
)


@pytest.mark.parametrize("fmt", ["parquet", "stata"])
def test_numeric_ids_and_codes_from_binary_formats(tmp_path, fmt):
    name = f"firms.{'dta' if fmt == 'stata' else fmt}"
    if fmt == "parquet":
        FIRMS.to_parquet(tmp_path / name)
    else:
        FIRMS.rename(
            columns=dict(
                zip(
                    FIRMS.columns,
                    ["year", "firm", "cap", "sales", "exp", "emp", "ind"],
                    strict=True,
                )
            )
        ).to_stata(tmp_path / name, write_index=False)
    columns = (
        None
        if fmt == "parquet"
        else {
            "year": "year",
            "firm": "firm_id",
            "cap": "capital",
            "sales": "sales",
            "exp": "exports",
            "emp": "employees",
            "ind": "industry",
        }
    )
    options = {"format": fmt} | ({"columns": columns} if columns else {})
    table, quarantine, _ = ingest_table("firms", _firm_source(tmp_path, name, **options))
    assert table["firm_id"].tolist() == ["10", "20"]
    assert table["industry"].tolist() == ["09", "31"]
    assert table["capital"].tolist() == [1500.0, 40.0]
    assert pd.isna(table["exports"].iloc[1]) and quarantine.empty


#: 工業統計-style record layout: (raw name, [start, end) byte range, right-justified?).
#: 事業所名 and 所在地 are CP932 kanji (2 bytes a character) and come before the codes and
#: numbers, so a reader that cut decoded text by character offsets would shift every later
#: field.
FWF_LAYOUT = [
    ("調査年", (0, 4), False),
    ("事業所番号", (4, 10), False),
    ("事業所名", (10, 26), False),
    ("所在地", (26, 56), False),
    ("都道府県コード", (56, 58), False),
    ("市区町村コード", (58, 63), False),
    ("産業分類番号", (63, 67), False),
    ("従業者数", (67, 73), True),
    ("製造品出荷額等（万円）", (73, 83), True),
]
#: Field values of each record, in layout order (as the reader must return them, stripped).
FWF_RECORDS = [
    ["2013", "E00001", "豊田工業株式会社", "愛知県豊田市元町１－１"]
    + ["23", "23211", "3113", "120", "1234500"],
    ["2013", "E00002", "諏訪精密", "長野県諏訪市高島1-22-30"]
    + ["20", "20206", "2739", "45", "50000"],
]


def _fwf_record(values):
    """Encode one record as CP932 bytes, padding each field with spaces to its byte width."""
    record = b""
    for value, (_, (start, end), right) in zip(values, FWF_LAYOUT, strict=True):
        field = value.encode("cp932")
        assert len(field) <= end - start
        record += field.rjust(end - start) if right else field.ljust(end - start)
    assert len(record) == FWF_LAYOUT[-1][1][1]
    return record


def test_fixed_width_records_are_cut_by_bytes(tmp_path):
    header = "事業所票 2013年".encode("cp932")
    body = b"\n".join(_fwf_record(values) for values in FWF_RECORDS)
    (tmp_path / "kogyo_2013.dat").write_bytes(header + b"\n" + body + b"\n")
    columns = {
        "調査年": "year",
        "事業所番号": "establishment_id",
        "所在地": "address",
        "都道府県コード": "pref_code",
        "市区町村コード": "city_code",
        "産業分類番号": "industry",
        "従業者数": "employees",
        "製造品出荷額等（万円）": "shipments",
    }
    data = demo_config(WorldParams(published_layouts=False))
    source = data["sources"]["establishments"][0]
    source.update(
        path="kogyo_{survey_year}.dat",
        years=[2012],
        survey_year_offset=1,
        format="fwf",
        encoding="cp932",
        skip_lines=1,
        colspecs=[list(span) for _, span, _ in FWF_LAYOUT],
        names=[name for name, _, _ in FWF_LAYOUT],
        columns=columns,
        scale={"shipments": 0.01},
    )
    data["sources"]["establishments"] = [source]
    config = parse_config(data, base_dir=tmp_path)
    raw, lines = read_raw(tmp_path / "kogyo_2013.dat", config.sources["establishments"][0])
    assert raw.to_numpy().tolist() == FWF_RECORDS  # every field, the unmapped 事業所名 too
    assert lines.tolist() == [2, 3]  # the skipped header is line 1
    table, quarantine, reports = ingest_table("establishments", config)
    assert quarantine.empty and reports[0].rows_in == 2
    assert table["year"].tolist() == [2012, 2012]
    assert table["establishment_id"].tolist() == ["E00001", "E00002"]
    # addresses are kept as written (full-width digits and dash included)
    assert table["address"].tolist() == ["愛知県豊田市元町１－１", "長野県諏訪市高島1-22-30"]
    assert table["pref_code"].tolist() == [23, 20]
    assert table["city_code"].tolist() == ["23211", "20206"]
    assert table["industry"].tolist() == ["3113", "2739"]
    assert table["employees"].tolist() == [120, 45]
    assert table["shipments"].tolist() == pytest.approx([12345.0, 500.0])  # 万円 → million yen
    assert table["source_line"].tolist() == [2, 3]


def test_unknown_scale_key_is_named(tmp_path):
    _write(tmp_path, ROWS[:2])
    config = _config(tmp_path)
    data = config.model_dump()
    data["sources"]["establishments"][0]["scale"] = {"shipment": 0.01}
    from spillover.config import Config

    bad = Config.model_validate(data)
    with pytest.raises(
        IngestError, match=r"\.scale names unknown canonical columns \['shipment'\]"
    ):
        ingest_table("establishments", bad)


def test_every_later_row_of_a_key_names_the_first_row_of_that_key():
    frame = pd.DataFrame(
        {
            "year": pd.array([2013, 2013, 2014, 2013, None, 2013, None], "Int64"),
            "establishment_id": pd.array(["E1", "E2", "E1", "E1", "E9", "E2", "E9"]),
            "source_name": ["kogyo"] * 7,
            "source_file": ["a.csv"] * 4 + ["b.csv"] * 3,
            "source_line": [2, 3, 4, 5, 2, 3, 4],
        },
        index=[10, 11, 12, 13, 14, 15, 16],
    )
    kept, dropped = _drop_duplicate_keys("establishments", frame)
    assert kept.index.tolist() == [10, 11, 12, 14]
    reasons = dict(zip(dropped["line"], dropped["reason"], strict=True))
    assert reasons == {
        5: "duplicate key; first seen at a.csv:2",
        3: "duplicate key; first seen at a.csv:3",
        4: "duplicate key; first seen at b.csv:2",
    }


def _yearly_files(tmp_path, bad_years=()):
    """Files of survey years 2013–2015: two good rows each, four bad ones more in ``bad_years``."""
    for survey_year in (2013, 2014, 2015):
        rows = ROWS[:2] + (ROWS[2:6] if survey_year in bad_years else [])
        text = HEADER + "".join(row.replace("2013,", f"{survey_year},", 1) for row in rows)
        (tmp_path / f"kogyo_{survey_year}.csv").write_text(text, encoding="cp932")
    config = _config(tmp_path)
    source = config.sources["establishments"][0].model_copy(update={"years": [2012, 2013, 2014]})
    return config.model_copy(update={"sources": {**config.sources, "establishments": [source]}})


@pytest.fixture
def mapped_in(tmp_path, monkeypatch):
    """Map every table's files in forked workers (``"workers"``) or here (``"here"``); the pids."""
    import spillover.ingest as ingest

    mapping, pids = ingest._map_file, tmp_path / "pids"

    def recorded(*args):
        with pids.open("a") as out:
            out.write(f"{os.getpid()}\n")
        return mapping(*args)

    def choose(where):
        monkeypatch.setattr(ingest, "_map_file", recorded)
        monkeypatch.setattr(ingest, "PARALLEL_AT_LEAST", 0 if where == "workers" else 10**9)
        pids.unlink(missing_ok=True)
        return lambda: set(pids.read_text().split())

    return choose


def test_files_mapped_side_by_side_equal_the_files_mapped_here(tmp_path, mapped_in):
    config = _yearly_files(tmp_path)
    seen = mapped_in("here")
    here = ingest_table("establishments", config)
    assert seen() == {str(os.getpid())}
    seen = mapped_in("workers")
    side_by_side = ingest_table("establishments", config)
    if usable_cores(2) > 1:
        assert len(seen()) == 2 and str(os.getpid()) not in seen()
    pd.testing.assert_frame_equal(side_by_side[0], here[0])
    pd.testing.assert_frame_equal(side_by_side[1], here[1])
    assert side_by_side[2] == here[2]
    assert here[0]["year"].tolist() == [2012, 2012, 2013, 2013, 2014, 2014]


@pytest.mark.parametrize("where", ["here", "workers"])
def test_the_first_failing_file_in_order_fails_the_table(tmp_path, mapped_in, where):
    config = _yearly_files(tmp_path, bad_years=(2014, 2015))
    mapped_in(where)
    with pytest.raises(QuarantineLimitError, match=r"kogyo_2014\.csv: 4 of 6 rows"):
        ingest_table("establishments", config)


def test_a_file_failing_after_its_mapping_lets_the_workers_go(tmp_path, mapped_in):
    """An error between two mapped files ends the pool: a later pool of this process starts."""
    from spillover import processes
    from spillover.ingest_cache import IngestCache

    class StoreError(Exception):
        pass

    class FailingCache(IngestCache):
        def store(self, key, mapped):
            raise StoreError(key)

    mapped_in("workers")
    with pytest.raises(StoreError) as caught:  # keeps ingest_table's frame alive
        ingest_table("establishments", _yearly_files(tmp_path), FailingCache(tmp_path / "c"))
    assert caught.traceback and not processes._one_at_a_time.locked()
