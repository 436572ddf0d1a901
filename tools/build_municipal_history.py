"""Build spillover/geocode/municipal_history.csv from e-Stat's 廃置分合等情報 (facts only).

Usage (development time only; the geocoder reads the CSV, never this script or its input)::

    python tools/build_municipal_history.py ABSORPTION_SEPARATION_RDS \
        > spillover/geocode/municipal_history.csv

Input: ``data-raw/absorption_separation.rds`` of the R package jpcity 0.3.0 (MIT, Mizuki
Uchida), which holds 総務省's 廃置分合等情報 as published on e-Stat 「市区町村を探す」
(read by jpcity on 2024-02-26), one row per (date, event, old municipality, new
municipality). Reading the .rds needs the ``rdata`` package, which is not a dependency:
install it into a throwaway environment.

Output rows (changes dated 1999-04-01 or later, the first 平成の大合併 merger onwards):
``date, kind, pref, old_code, old_name, new_code, new_name, part``, with the names written as
in addresses and in the gazetteer's ``city`` column (郡 + 町村, 政令市 + 区). e-Stat's event
kinds become:

==================  ===========================================================
新設合併            merger
編入合併            absorption
政令指定都市施行    designation (the city's code becomes the 政令市 code)
区の新設            ward_creation (old = the 政令市, new = the ward)
区の再編            ward_reorganisation
市制施行 / 町制施行 city_status / town_status
名称変更            rename (支庁 renames and kana-only renames left out)
郡の区域変更        district_change (the 郡, or 北海道's 支庁, of a town changes)
==================  ===========================================================

郡の新設 and 郡の廃止 name no municipality and are left out. ``part`` is the part of the old
municipality that moved when only a part did, as the notice words it.
"""

from __future__ import annotations

import csv
import re
import sys
import warnings

import numpy as np
import pandas as pd

FIRST_DATE = "1999-04-01"
SOURCE_READ = "2024-02-26"

KINDS = {
    "新設合併": "merger",
    "編入合併": "absorption",
    "政令指定都市施行": "designation",
    "区の新設|郡の新設": "ward_creation",
    "区の再編": "ward_reorganisation",
    "市制施行": "city_status",
    "町制施行": "town_status",
    "名称変更": "rename",
    "郡の区域変更": "district_change",
}

HEADER = f"""\
# Municipal and ward changes in Japan, {FIRST_DATE} to {SOURCE_READ} (facts only).
# Source: 総務省 廃置分合等情報 (市区町村コードの改正), as published on e-Stat 「市区町村を探す」
#   and read on {SOURCE_READ} by the R package jpcity 0.3.0 (data-raw/absorption_separation.rds),
#   (c) Mizuki Uchida, MIT License. Made by tools/build_municipal_history.py.
# Names are written as in addresses: 郡 + 町村, 政令市 + 区. 北海道's 町村 are listed without
#   their 郡 (the source gives the 支庁/振興局 instead).
# Not covered: changes after {SOURCE_READ}; changes before {FIRST_DATE}; 郡 creations and
#   abolitions; 支庁 renames; boundary changes between municipalities that remain (境界変更).
# kind: merger, absorption, designation, ward_creation, ward_reorganisation, city_status,
#   town_status, rename, district_change. part: the part of the old municipality that moved,
#   when only a part did.
"""

COLUMNS = ["date", "kind", "pref", "old_code", "old_name", "new_code", "new_name", "part"]

# Facts checked against the 総務省 notices.
KNOWN = [
    ("2024-01-01", "ward_reorganisation", "22131", "浜松市中区", "22138", "浜松市中央区"),
    ("2024-01-01", "ward_reorganisation", "22135", "浜松市北区", "22139", "浜松市浜名区"),
    ("2024-01-01", "ward_reorganisation", "22137", "浜松市天竜区", "22140", "浜松市天竜区"),
    ("2012-04-01", "ward_creation", "43100", "熊本市", "43101", "熊本市中央区"),
    ("2012-04-01", "ward_creation", "43100", "熊本市", "43105", "熊本市北区"),
    ("2012-04-01", "designation", "43201", "熊本市", "43100", "熊本市"),
    ("2018-10-01", "city_status", "40305", "筑紫郡那珂川町", "40231", "那珂川市"),
]


def read_rds(path: str) -> pd.DataFrame:
    """The jpcity table flattened: date, type, event, from_* and to_* columns."""
    import rdata
    from rdata.conversion import DEFAULT_CLASS_MAP, SimpleConverter

    classes = dict(DEFAULT_CLASS_MAP)
    classes["data.frame"] = lambda obj, attrs: dict(obj)  # nested data frames stay dicts
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Date and tbl_df have no constructor: raw values
        parsed = rdata.parser.parse_file(path)
        tree = SimpleConverter(constructor_dict=classes, default_encoding="utf8").convert(parsed)

    def flat(node: dict, prefix: str = "") -> dict:
        out = {}
        for key, value in node.items():
            if isinstance(value, dict):
                out.update(flat(value, f"{prefix}{key}_"))
            else:
                out[f"{prefix}{key}"] = np.asarray(value, dtype=object)
        return out

    frame = pd.DataFrame(flat(tree))
    frame["date"] = pd.Timestamp("1970-01-01") + pd.to_timedelta(
        frame["date"].astype(float), unit="D"
    )
    return frame


def _text(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def written(desig: object, name: object) -> str:
    """A municipality as written in addresses: 郡 + 町村, 政令市 + 区, else the name alone."""
    desig, name = _text(desig), _text(name)
    if desig.endswith("郡") or desig.endswith("市"):
        return desig + name
    return name


def part_of(event: str, name: str, code: str) -> str:
    """The part of the old municipality that moved, as the notice words it, or ""."""
    if event.startswith("大字"):
        return event.split("が", 1)[0]
    m = re.search(re.escape(name) + r"\(" + code + r"\)(?:\(([^)]*)\)|(大字[^がを]*))", event)
    return (m.group(1) or m.group(2)) if m else ""


def history(raw: pd.DataFrame) -> pd.DataFrame:
    """The rows of the CSV (see the module docstring)."""
    raw = raw[(raw["date"] >= FIRST_DATE) & raw["type"].isin(KINDS)].copy()
    designated = {  # 政令市 name → its 政令市 code
        (r.to_pref_name, r.to_city_desig_name): r.to_city_code
        for r in raw[raw["type"] == "政令指定都市施行"].itertuples()
    }
    rows = []
    for r in raw.itertuples():
        kind = KINDS[r.type]
        new_name = written(r.to_city_desig_name, r.to_city_name)
        if kind == "ward_creation":
            if not _text(r.to_city_desig_name).endswith("市"):
                continue  # 郡の新設
            parent = r.to_city_desig_name
            old_code, old_name = designated[(r.to_pref_name, parent)], parent
        else:
            old_code = _text(r.from_city_code)
            old_name = written(r.from_city_desig_name, r.from_city_name)
            if kind == "designation":
                new_name = old_name
        if not old_name or not new_name:
            continue  # 支庁 renames
        if kind == "rename" and old_name == new_name:
            continue  # a reading (kana) changed
        rows.append(
            {
                "date": r.date.strftime("%Y-%m-%d"),
                "kind": kind,
                "pref": r.to_pref_name if isinstance(r.to_pref_name, str) else r.from_pref_name,
                "old_code": old_code,
                "old_name": old_name,
                "new_code": _text(r.to_city_code),
                "new_name": new_name,
                "part": part_of(r.event, _text(r.from_city_name), old_code),
            }
        )
    table = pd.DataFrame(rows, columns=COLUMNS)
    # 鳳至郡穴水町 and 門前町 each moved to 鳳珠郡 under a new code: the source pairs every old
    # code with every new one.
    moved = {"17421": "17461", "17422": "17462"}
    wrong = (table["kind"] == "district_change") & table["old_code"].isin(list(moved))
    wrong &= table["new_code"] != table["old_code"].map(moved)
    table = table[~wrong & (table["old_code"] != "17420")]
    table = table.drop_duplicates(["date", "kind", "old_code", "new_code", "part"])
    return table.sort_values(["date", "new_code", "old_code"], kind="stable")


def check(table: pd.DataFrame) -> None:
    """Stop unless the facts checked by hand are in the table."""
    have = set(
        table[["date", "kind", "old_code", "old_name", "new_code", "new_name"]].itertuples(
            index=False, name=None
        )
    )
    missing = [fact for fact in KNOWN if fact not in have]
    if missing:
        raise SystemExit(f"known facts missing from the table: {missing}")
    five = table["old_code"].str.fullmatch(r"\d{5}") & table["new_code"].str.fullmatch(r"\d{5}")
    bad = table[~five]
    if len(bad):
        raise SystemExit(f"rows without a 5-digit code:\n{bad}")


def main() -> None:
    """Write the CSV to standard output."""
    table = history(read_rds(sys.argv[1]))
    check(table)
    sys.stdout.write(HEADER)
    table.to_csv(sys.stdout, index=False, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)


if __name__ == "__main__":
    main()
