"""Reliability suite: malformed raw inputs of every source, each with its exact outcome.

The tiny world of :mod:`malformed_world` (the demo layouts, a handful of rows per file) is
broken one thing at a time: a value, a record, a whole file, its encoding.
Each case asserts the exact quarantine reason (row-level problems) or the exact error
message (file-level ones). Fixed-width, TSV, Parquet and Stata files are in
``test_malformed_formats.py``; incomplete inputs (row counts, years, Tankan quarters) in
``test_incomplete_inputs.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from malformed_world import (
    FILES,
    N_ROWS,
    World,
    base_rows,
    build_world,
    lines_of,
    rows_of,
    year_of,
)

from spillover.completeness import CompletenessWarning
from spillover.config import Config
from spillover.ingest import ingest_all, ingest_table
from spillover.rawfiles import IncompleteInputError, IngestError


@pytest.fixture
def world(tmp_path) -> World:
    return build_world(tmp_path)


def test_the_tiny_world_is_clean(world):
    result = ingest_all(world.config())
    assert result.quarantine.empty
    assert {name: len(frame) for name, frame in result.tables.items()} == {
        "establishments": 3 * N_ROWS,
        "firms": 9,
        "affiliates": 12,
        "parents": 9,
        "export_ratios": 6,
        "export_ratio_concordance": 2,
        "external_demand": 12,
    }


# ---------------------------------------------------------------- row-level cases

#: One case a line: source | row | canonical column written | raw value | quarantine column |
#: exact reason. 工業統計 money is 万円 (scaled by 0.01), the census 百万円 with separators.
#: One case a line: ``source row column=raw value | exact reason`` (the quarantine column is
#: the column written). 工業統計 money is 万円 (scaled by 0.01), the census 百万円.
ROW_TABLE = """
kogyo 2 shipments=inf | not a finite number: 'inf'
kogyo 2 shipments=-inf | not a finite number: '-inf'
kogyo 2 shipments=Infinity | not a finite number: 'Infinity'
kogyo 2 shipments=1e20 | check <= 10,000,000 million yen failed for value 1e+18
kogyo 2 shipments=-5000 | check greater_than_or_equal_to(0) failed for value -50.0
kogyo 2 shipments=約500 | cannot parse '約500' as float
kogyo 2 shipments=NaN | cannot parse 'NaN' as float
kogyo 2 employees=inf | not a finite number: 'inf'
kogyo 2 employees=1e20 | cannot parse '1e20' as int
kogyo 2 employees=2.5 | cannot parse '2.5' as int
kogyo 2 employees=200000 | check <= 100,000 persons failed for value 200000
kogyo 2 employees=不明 | missing value in a required column
kogyo 2 export_share=150 | check in_range(0, 100) failed for value 150.0
kogyo 2 export_share=inf | not a finite number: 'inf'
kogyo 2 pref_code=99 | check in_range(1, 47) failed for value 99
kogyo 2 city_code=01100 | city_code 01100 lies in prefecture 1, but pref_code is 23
kogyo 2 city_code=1100 | city_code 01100 lies in prefecture 1, but pref_code is 23
kogyo 2 city_code=豊田市 | check str_matches('^[0-9]{5}$') failed for value 豊田市
kogyo 2 industry=ABCD | check str_matches('^[0-9]{2,4}$') failed for value ABCD
kogyo 2 year=2014 | year column says 2014 but the file is for year 2017
kogyo 2 establishment_id= | missing value in a required column
kogyo 2 capital=1e20 | check <= 10,000,000 million yen failed for value 1e+18
kogyo 2 capital=-inf | not a finite number: '-inf'
census 4 shipments=99,999,999 | check <= 10,000,000 million yen failed for value 99999999.0
census 4 shipments=inf | not a finite number: 'inf'
census 4 employees=△5 | check greater_than_or_equal_to(0) failed for value -5
census 4 pref_code=23.5 | cannot parse '23.5' as int
census 4 city_code=13101 | city_code 13101 lies in prefecture 13, but pref_code is 23
kikatsu 1 sales=inf | not a finite number: 'inf'
kikatsu 1 sales=1e9 | check <= 100,000,000 million yen failed for value 1000000000.0
kikatsu 1 capital=2e7 | check <= 10,000,000 million yen failed for value 20000000.0
kikatsu 1 exports=-1 | check greater_than_or_equal_to(0) failed for value -1.0
kikatsu 1 employees=2000000 | check <= 1,000,000 persons failed for value 2000000
kikatsu 1 year=2015 | year column says 2015 but the file is for year 2016
genchi 3 country=China | check str_matches('^[A-Z]{2}$') failed for value China
genchi 3 sales=inf | not a finite number: 'inf'
genchi 3 sales=1e9 | check <= 100,000,000 million yen failed for value 1000000000.0
genchi 3 sales=-3 | check greater_than_or_equal_to(0) failed for value -3.0
genchi 3 parent_firm_id= | missing value in a required column
honsha 0 capital=inf | not a finite number: 'inf'
honsha 0 sales=1e9 | check <= 100,000,000 million yen failed for value 1000000000.0
honsha 0 sales=-1 | check greater_than_or_equal_to(0) failed for value -1.0
ratios 1 export_ratio=101 | check in_range(0, 100) failed for value 101.0
ratios 1 export_ratio=inf | not a finite number: 'inf'
ratios 1 year=abcd | cannot parse 'abcd' as int
ratios 1 year=1900 | check in_range(1950, 2100) failed for value 1900
jsic 1 jsic=291 | check str_matches('^[0-9]{2}$') failed for value 291
jsic 1 industry_group= | missing value in a required column
tankan 5 di=150 | check in_range(-100, 100) failed for value 150.0
tankan 5 di=inf | not a finite number: 'inf'
tankan 5 period=2015年13月 | check str_matches('^[0-9]{4}Q[1-4]$') failed for value 2015Q5
tankan 5 period=平成27年6月 | cannot parse '平成27年6月' as str
"""
#: Short names of the sources in :data:`ROW_TABLE`.
ALIASES = {
    "kogyo": "kogyo_toukei",
    "census": "keizai_census",
    "kikatsu": "kigyou_katsudou",
    "genchi": "genchi_houjin",
    "honsha": "honsha_kigyou",
    "ratios": "kougyou_export_ratios",
    "jsic": "jsic_to_group",
    "tankan": "tankan",
}


def _row_case(line: str) -> tuple[str, int, str, str, str]:
    """(source, row, column, raw value, reason) of one line of :data:`ROW_TABLE`."""
    case, reason = line.split(" | ", 1)
    source, row, assignment = case.split(" ", 2)
    column, value = assignment.split("=", 1)
    return ALIASES[source], int(row), column, value, reason


ROW_CASES = [_row_case(line) for line in ROW_TABLE.strip().splitlines()]


@pytest.mark.parametrize(
    ("source", "row", "column", "value", "reason"),
    ROW_CASES,
    ids=[f"{c[0]}-{c[2]}={c[3]}" for c in ROW_CASES],
)
def test_a_bad_value_is_quarantined_with_its_reason(world, source, row, column, value, reason):
    rows = base_rows(source)
    rows[row] = {**rows[row], column: value}
    path = world.write_rows(source, year_of(source), rows)
    canonical, quarantined, reports = ingest_table(FILES[source][0], world.config())
    assert quarantined[["file", "line", "column", "reason"]].to_dict("records") == [
        {"file": str(path), "line": row + 2, "column": column, "reason": reason}
    ]
    assert sum(r.rows_in for r in reports) == len(canonical) + 1


def test_keep_leaves_contradicting_codes_alone(world):
    rows = rows_of("kogyo_toukei", 2016)
    rows[2] = {**rows[2], "city_code": "01100"}
    world.write_rows("kogyo_toukei", 2016, rows)
    config = world.config(plausibility={"on_code_mismatch": "keep"})
    canonical, quarantined, _ = ingest_table("establishments", config)
    assert quarantined.empty and "01100" in set(canonical["city_code"])


# ---------------------------------------------------------------- record-level cases

#: (source, lines inserted after line 2 or 3, their line, exact reason)
RECORD_CASES = [
    (
        "kogyo_toukei",
        3,
        "2017,E900,F1,23,23211\n",
        "record has 5 of 11 fields (it ends before 所在地)",
    ),
    ("kogyo_toukei", 3, "\n", "blank line"),
    ("genchi_houjin", 2, "2016,A9,F1\n", "record has 3 of 6 fields (it ends before 所在国コード)"),
    ("tankan", 2, "2015年9月,製造業\n", "record has 2 of 4 fields (it ends before 規模)"),
]


@pytest.mark.parametrize(
    ("source", "after", "inserted", "reason"),
    RECORD_CASES,
    ids=[f"{c[0]}-{c[3][:14]}" for c in RECORD_CASES],
)
def test_a_short_record_inside_a_file_is_quarantined(world, source, after, inserted, reason):
    lines = lines_of(source)
    world.write(source, year_of(source), "".join([*lines[:after], inserted, *lines[after:]]))
    _, quarantined, _ = ingest_table(FILES[source][0], world.config())
    assert quarantined[["line", "column", "reason"]].to_dict("records") == [
        {"line": after + 1, "column": "(record)", "reason": reason}
    ]


# ---------------------------------------------------------------- file-level cases


@dataclass
class FileCase:
    """A file of ``source`` replaced by ``content(lines)``; ``message(path)`` is expected."""

    id: str
    source: str
    content: Callable[[list[str]], str | bytes]
    message: str  # {p} = the file's path
    error: type[Exception] = IncompleteInputError


def _header_only(source: str) -> FileCase:
    return FileCase(
        f"{source}-header-only", source, lambda lines: lines[0], "{p}: header only, no data rows"
    )


def _cut_at(marker: str, keep: int) -> Callable[[list[str]], str]:
    """Content cut ``keep`` characters into the last occurrence of ``marker``."""
    return lambda lines: "".join(lines)[: "".join(lines).rindex(marker) + keep]


NO_NEWLINE = (
    "{p}: line %d does not end in a newline, so the file may be cut mid-record (it ends %r); "
    "if the file is complete, end it with a newline or set completeness.require_final_newline: "
    "false"
)
LAST_SHORT = "{p}: line %d: the last record has %d of %d fields; the file looks cut mid-record"

FILE_CASES = [
    *(_header_only(source) for source in FILES),
    FileCase(
        "honsha_kigyou-header-and-blank-lines",
        "honsha_kigyou",
        lambda lines: lines[0] + "\n\n",
        "{p}: header only, no data rows (2 blank lines)",
    ),
    FileCase("kogyo_toukei-empty", "kogyo_toukei", lambda lines: b"", "{p}: empty file (0 bytes)"),
    FileCase("tankan-empty", "tankan", lambda lines: b"", "{p}: empty file (0 bytes)"),
    FileCase(
        "keizai_census-only-a-byte-order-mark",
        "keizai_census",
        lambda lines: b"\xef\xbb\xbf",
        "{p}: empty file (no header, no rows)",
    ),
    FileCase(
        "kogyo_toukei-cut-inside-a-number",  # 「123450」 cut to 「123」 on the last line
        "kogyo_toukei",
        _cut_at("123450", 3),
        NO_NEWLINE % (11, "F0,23,23211,愛知県豊田市元町1丁目9番1号,3113,120,123"),
    ),
    FileCase(
        "kigyou_katsudou-no-final-newline",
        "kigyou_katsudou",
        lambda lines: "".join(lines).rstrip("\n"),
        NO_NEWLINE % (4, "2016,F2,1500.0,9000.0,900.0,800,31"),
    ),
    FileCase(
        "genchi_houjin-last-record-short",
        "genchi_houjin",
        lambda lines: "".join(lines[:-1]) + "2016,A3,F0\n",
        LAST_SHORT % (5, 3, 6),
    ),
    FileCase(
        "keizai_census-last-record-short",
        "keizai_census",
        lambda lines: "".join(lines[:-1]) + "E009,F0,23,23211\n",
        LAST_SHORT % (11, 4, 11),
    ),
    FileCase(
        "tankan-last-record-short-then-blank-lines",
        "tankan",
        lambda lines: "".join(lines[:-1]) + "2016年12月,製造業,大企業\n\n",
        LAST_SHORT % (13, 3, 4),
    ),
    FileCase(
        "honsha_kigyou-extra-field",
        "honsha_kigyou",
        lambda lines: lines[0] + lines[1].rstrip("\n") + ",extra\n" + "".join(lines[2:]),
        "{p}: line 2 has 6 fields but the header has 5 (an unquoted separator inside a value?)",
        IngestError,
    ),
    FileCase(
        "kougyou_export_ratios-repeated-header",
        "kougyou_export_ratios",
        lambda lines: "年,業種グループ,輸出比率（％）,年\n2016,輸送機械工業,20.5,2016\n",
        "{p}: the header repeats column name(s) ['年']",
        IngestError,
    ),
    FileCase(
        "jsic_to_group-field-too-large",
        "jsic_to_group",
        lambda lines: lines[0] + '31,"' + "x" * 200_000 + '"\n',
        "{p}: line 2: malformed ','-separated text: field larger than field limit (131072)",
        IngestError,
    ),
    FileCase(
        "tankan-mapped-column-missing",
        "tankan",
        lambda lines: "調査時点,業種,規模\n2015年3月,製造業,大企業\n",
        "{p}: columns ['海外での製商品需給判断DI（最近）'] named in "
        "sources.external_demand[tankan].columns are not in the file (it has ['調査時点', "
        "'業種', '規模'])",
        IngestError,
    ),
]


@pytest.mark.parametrize("case", FILE_CASES, ids=[case.id for case in FILE_CASES])
def test_a_broken_file_stops_ingest_naming_file_line_and_rule(world, case):
    path = world.write(case.source, year_of(case.source), case.content(lines_of(case.source)))
    with pytest.raises(case.error) as caught:
        ingest_table(FILES[case.source][0], world.config())
    assert str(caught.value) == case.message.replace("{p}", str(path))


def test_cut_last_field_passes_when_the_newline_rule_is_off(world):
    path = world.write("kogyo_toukei", 2016, _cut_at("500000", 3)(lines_of("kogyo_toukei")))
    config = world.config(completeness={"require_final_newline": False})
    with pytest.warns(CompletenessWarning, match="completeness.require_final_newline"):
        result = ingest_all(config)
    table = result.tables["establishments"]
    last = table[(table["source_file"] == str(path)) & (table["source_line"] == 11)]
    assert last["capital"].tolist() == [pytest.approx(5.0)]  # 500 万円 read, not 500000


def test_a_record_cut_before_its_last_field_is_caught_without_the_newline_rule(world):
    path = world.write("kogyo_toukei", 2016, _cut_at("123450", 3)(lines_of("kogyo_toukei")))
    config = world.config(completeness={"require_final_newline": False})
    with pytest.warns(CompletenessWarning), pytest.raises(IncompleteInputError) as caught:
        ingest_all(config)
    assert str(caught.value) == (LAST_SHORT % (11, 9, 11)).replace("{p}", str(path))


# ---------------------------------------------------------------- decoding


def _decode_case(world: World) -> tuple[Path, int, int]:
    """A UTF-8 census file whose line 4 holds an address pasted in Shift_JIS."""
    lines = [line.encode("utf-8") for line in lines_of("keizai_census")]
    lines[3] = lines[3].decode("utf-8").encode("cp932")
    data = b"".join(lines)
    path = world.write("keizai_census", 2015, data)
    start = len(b"".join(lines[:3]))
    column = lines[3].index("愛".encode("cp932"))
    return path, start + column, column


def test_decode_error_names_line_and_byte_offset(world):
    path, offset, column = _decode_case(world)
    with pytest.raises(IngestError) as caught:
        ingest_table("establishments", world.config())
    assert str(caught.value) == (
        f"{path}: cannot decode as 'utf-8' at line 4, byte {offset} (byte {column} of the line): "
        "b'\\x88' (invalid start byte); it decodes as none of utf-8, cp932, euc_jp: a binary "
        "file, or mixed encodings?"
    )


def test_decode_error_of_a_file_cut_inside_a_character(world):
    data = "".join(lines_of("tankan")).encode("utf-8") + "製".encode()[:2]
    path = world.write("tankan", None, data)
    with pytest.raises(IngestError) as caught:
        ingest_table("external_demand", world.config())
    assert str(caught.value) == (
        f"{path}: cannot decode as 'utf-8' at line 14, byte {len(data) - 2} (byte 0 of the "
        "line): b'\\xe8\\xa3' (unexpected end of data); the file ends inside a character, so "
        "it looks cut mid-record"
    )


def _with_encoding(world: World, encoding: str) -> Config:
    affiliates = {**world.data["sources"]["affiliates"][0], "encoding": encoding}
    return world.config(sources={**world.data["sources"], "affiliates": [affiliates]})


def test_a_shift_jis_file_declared_utf8_gets_the_encoding_suggested(world):
    path = world.path("genchi_houjin", 2014)  # the first file read
    with pytest.raises(IngestError) as caught:
        ingest_table("affiliates", _with_encoding(world, "utf-8"))
    assert str(caught.value) == (
        f"{path}: cannot decode as 'utf-8' at line 1, byte 0 (byte 0 of the line): b'\\x92' "
        "(invalid start byte); the whole file decodes as 'cp932': set "
        "sources.affiliates[genchi_houjin].encoding: cp932"
    )


def test_decode_error_of_a_file_no_encoding_reads(world):
    lines = [line.encode("cp932") for line in lines_of("genchi_houjin")]
    lines[2] = lines[2].replace(b"CN", b"\x81\x7f")
    path = world.write("genchi_houjin", 2016, b"".join(lines))
    column = lines[2].index(b"\x81")
    offset = len(lines[0] + lines[1]) + column
    with pytest.raises(IngestError) as caught:
        ingest_table("affiliates", world.config())
    assert str(caught.value) == (
        f"{path}: cannot decode as 'cp932' at line 3, byte {offset} (byte {column} of the line): "
        "b'\\x81' (illegal multibyte sequence); it decodes as none of utf-8, cp932, euc_jp: "
        "a binary file, or mixed encodings?"
    )
