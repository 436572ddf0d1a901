"""Reliability suite, file formats: fixed-width, TSV, Parquet and Stata inputs gone wrong.

Built on the tiny world of :mod:`malformed_world`; each case asserts the exact error message
or quarantine reason.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from malformed_world import World, build_world, lines_of, rows_of

from spillover.config import Config
from spillover.ingest import ingest_table
from spillover.quarantine import QuarantineLimitError
from spillover.rawfiles import IncompleteInputError, IngestError


@pytest.fixture
def world(tmp_path) -> World:
    return build_world(tmp_path)


# ---------------------------------------------------------------- fixed width, TSV, Parquet

#: 工業統計 record layout (byte ranges): id, address (CP932 kanji), pref, city, industry,
#: employees, shipments (万円).
FWF = [
    ("事業所番号", (0, 6)),
    ("所在地", (6, 36)),
    ("都道府県コード", (36, 38)),
    ("市区町村コード", (38, 43)),
    ("産業分類番号", (43, 47)),
    ("従業者数", (47, 53)),
    ("製造品出荷額等（万円）", (53, 63)),
]


def _fwf_record(i: int) -> bytes:
    fields = [f"E{i:05d}", "愛知県豊田市元町１－１", "23", "23211", "3113", "120", "123450"]
    out = b""
    for value, (_, (start, end)) in zip(fields, FWF, strict=True):
        out += value.encode("cp932").ljust(end - start)
    return out


def _fwf_world(world: World, body: bytes) -> tuple[Config, Path]:
    source = {
        "name": "kogyo_fwf",
        "path": "raw/fwf/kogyo_{survey_year}.dat",
        "years": [2016],
        "survey_year_offset": 1,
        "format": "fwf",
        "encoding": "cp932",
        "skip_lines": 1,
        "colspecs": [list(span) for _, span in FWF],
        "names": [name for name, _ in FWF],
        "columns": {
            "事業所番号": "establishment_id",
            "所在地": "address",
            "都道府県コード": "pref_code",
            "市区町村コード": "city_code",
            "産業分類番号": "industry",
            "従業者数": "employees",
            "製造品出荷額等（万円）": "shipments",
        },
        "scale": {"shipments": 0.01},
    }
    path = world.root / "raw" / "fwf" / "kogyo_2017.dat"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes("事業所票 2017年\n".encode("cp932") + body)
    sources = {**world.data["sources"], "establishments": [source]}
    return world.config(sources=sources), path


FWF_CASES = [
    (
        "last-record-short",
        b"\n".join(_fwf_record(i) for i in range(3))[:-4] + b"\n",
        IncompleteInputError,
        "{p}: line 4: the last record has 6 of 7 fields; the file looks cut mid-record",
    ),
    (
        "no-final-newline",
        b"\n".join(_fwf_record(i) for i in range(3)),
        IncompleteInputError,
        "{p}: line 4 does not end in a newline, so the file may be cut mid-record (it ends "
        "'元町１－１        23232113113120   123450    '); if the file is complete, end it with "
        "a newline or set "
        "completeness.require_final_newline: false",
    ),
    ("header-only", b"", IncompleteInputError, "{p}: header only, no data rows"),
    (
        "range-cuts-a-character",  # a 7-character id pushes the address one byte right
        b"E000001" + "愛知県豊田市元町一丁目一番一号".encode("cp932") + b"2323211311312\n",
        IngestError,
        "{p}: line 2, bytes 22–52 (所在地): the byte range [6, 36) cuts a 'cp932' character in "
        "two; check the source's colspecs",
    ),
]


@pytest.mark.parametrize(
    ("body", "error", "message"), [c[1:] for c in FWF_CASES], ids=[c[0] for c in FWF_CASES]
)
def test_fixed_width_file_cases(world, body, error, message):
    config, path = _fwf_world(world, body)
    with pytest.raises(error) as caught:
        ingest_table("establishments", config)
    assert str(caught.value) == message.format(p=path)


def test_fixed_width_short_record_inside_the_file_is_quarantined(world):
    records = [_fwf_record(i) for i in range(3)]
    records[1] = records[1][:45]
    config, path = _fwf_world(world, b"\n".join(records) + b"\n")
    table, quarantined, _ = ingest_table("establishments", config)
    assert quarantined[["line", "column", "reason"]].to_dict("records") == [
        {
            "line": 3,
            "column": "(record)",
            "reason": "record has 4 of 7 fields (it ends before 産業分類番号)",
        }
    ]
    assert table["shipments"].tolist() == [1234.5, 1234.5]


def test_tsv_header_only(world):
    path = world.root / "raw" / "kikatsu" / "firms_2016.tsv"
    path.write_text(lines_of("kigyou_katsudou")[0].replace(",", "\t"), encoding="utf-8")
    source = {**world.data["sources"]["firms"][0], "path": str(path), "format": "tsv"}
    source["years"] = [2016]
    config = world.config(sources={**world.data["sources"], "firms": [source]})
    with pytest.raises(IncompleteInputError, match=rf"^{re.escape(str(path))}: header only"):
        ingest_table("firms", config)


@pytest.mark.parametrize("fmt", ["parquet", "stata"])
def test_binary_file_withoutrows_of(world, fmt):
    frame = pd.DataFrame({"year": pd.Series(dtype="int64"), "firm": pd.Series(dtype="float64")})
    path = world.root / f"firms_2016.{fmt}"
    if fmt == "parquet":
        frame.to_parquet(path)
    else:
        frame.to_stata(path, write_index=False)
    source = {
        "name": "firms_binary",
        "path": str(path),
        "years": [2016],
        "format": fmt,
        "columns": {"year": "year", "firm": "firm_id"},
        "constants": {"capital": 10.0, "sales": 10.0},
    }
    config = world.config(sources={**world.data["sources"], "firms": [source]})
    with pytest.raises(IncompleteInputError) as caught:
        ingest_table("firms", config)
    assert str(caught.value) == f"{path}: no data rows (columns only)"


def test_non_finite_values_from_parquet_are_quarantined(world):
    path = world.root / "firms_2016.parquet"
    pd.DataFrame(
        {"firm": ["F1", "F2", "F3"], "cap": [10.0, float("inf"), 10.0], "sales": [1.0, 2.0, 1e20]}
    ).to_parquet(path)
    source = {
        "name": "firms_parquet",
        "path": str(path),
        "years": [2016],
        "format": "parquet",
        "columns": {"firm": "firm_id", "cap": "capital", "sales": "sales"},
    }
    config = world.config(sources={**world.data["sources"], "firms": [source]})
    table, quarantined, _ = ingest_table("firms", config)
    assert table["firm_id"].tolist() == ["F1"]
    assert quarantined[["line", "column", "reason"]].to_dict("records") == [
        {"line": 2, "column": "capital", "reason": "not a finite number: 'inf'"},
        {
            "line": 3,
            "column": "sales",
            "reason": "check <= 100,000,000 million yen failed for value 1e+20",
        },
    ]


def test_quarantine_share_still_applies_to_the_rows_read(world):
    rows = rows_of("kigyou_katsudou", 2016)
    for row in rows[:2]:
        row["sales"] = "inf"
    path = world.write_rows("kigyou_katsudou", 2016, rows)
    with pytest.raises(QuarantineLimitError) as caught:
        ingest_table("firms", world.config(quarantine={"max_share": 0.05}))
    assert str(caught.value) == (
        f"{path}: 2 of 3 rows (66.7%) rejected, above quarantine.max_share = 5.0%. First: "
        "line 2 sales: not a finite number: 'inf'; line 3 sales: not a finite number: 'inf'"
    )
