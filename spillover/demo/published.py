"""The demo world's sources in the layouts the agencies publish, and their config entries.

With ``WorldParams.published_layouts`` (the default) the demo writes:

- 企業活動基本調査 as a **fixed-width** CP932 file per year (a record layout of byte
  ranges, a kanji 企業名称 field), numbered with the survey's own firm ids, and a
  **firm crosswalk** to the canonical ids — one firm renumbered from 2016, and a few firms
  of the survey that the crosswalk does not know (quarantined, counted);
- 海外事業活動基本調査 本社企業票 as an **Excel** workbook per year (title rows, a named
  sheet), and the 現地法人票 with **letter-prefixed JSIC codes** (``E31``, ``I50``);
- 工業統計調査 with a **classification revision** from accounts year 2014: two 細分類 are
  renumbered, and a concordance in the demo world maps both numberings to one;
- the Tankan DI as the **BOJ Time-Series Data Search** CSV download;
- export ratios as a **鉱工業出荷内訳表** (indices and weights by 業種), grouped through the
  shipped JSIC → 鉱工業 concordance.

The values that carry the planted effects are those of the plain CSV layouts (the revision
is undone by the concordance, the ids by the crosswalk, the unknown firms are quarantined).
The export ratios are drawn anew for the 鉱工業 業種 of ``jsic_to_iip_group`` (the plain
layout has its own groups), so they differ from the plain layout's; they only feed the
fallback for exports.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd

from spillover.boj_tankan import ITEM, series_table
from spillover.concordance import load_concordance
from spillover.demo.params import WorldParams

#: 細分類 renumbered by the demo's revision from this accounts year on.
REVISION_YEAR = 2014
REVISED_CODES = {"3113": "3119", "2441": "2449"}
#: The firm whose survey id changes, and from which firm-survey year.
RENUMBERED_FIRM, RENUMBERED_FROM = "F000003", 2016
#: Firms of the 企業活動基本調査 per year that the crosswalk does not know.
UNKNOWN_FIRMS = 4
#: Byte ranges of the 企業活動基本調査 record layout (a ``colspecs``/``names`` pair).
KIKATSU_LAYOUT = (
    ("調査年度", 0, 4),
    ("企業番号", 4, 11),
    ("企業名称", 11, 31),
    ("資本金（百万円）", 31, 43),
    ("売上高（百万円）", 43, 57),
    ("直接輸出額（百万円）", 57, 69),
    ("常時従業者数", 69, 77),
    ("主業種", 77, 81),
)
_KIKATSU_COLUMNS = {
    "調査年度": "year",
    "企業番号": "firm_id",
    "資本金（百万円）": "capital",
    "売上高（百万円）": "sales",
    "直接輸出額（百万円）": "exports",
    "常時従業者数": "employees",
    "主業種": "industry",
}
_JSIC_LETTERS = (
    ("A", 1, 2), ("B", 3, 4), ("C", 5, 5), ("D", 6, 8), ("E", 9, 32), ("F", 33, 36),
    ("G", 37, 41), ("H", 42, 49), ("I", 50, 61), ("J", 62, 67), ("K", 68, 70), ("L", 71, 74),
    ("M", 75, 77), ("N", 78, 80), ("O", 81, 82), ("P", 83, 85), ("Q", 86, 87), ("R", 88, 96),
    ("S", 97, 98), ("T", 99, 99),
)  # fmt: skip


def jsic_letter(code: str) -> str:
    """The JSIC 大分類 letter of a 2–4 digit code (``31`` → ``E``)."""
    major = int(code[:2])
    return next(letter for letter, low, high in _JSIC_LETTERS if low <= major <= high)


def survey_firm_id(firm_id: str, year: int) -> str:
    """The 企業活動基本調査's own number of a canonical firm in a survey year."""
    if firm_id == RENUMBERED_FIRM and year >= RENUMBERED_FROM:
        return "K9" + firm_id[2:]
    return "K" + firm_id[1:]


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _cell(value: object, width: int, *, right: bool = True) -> bytes:
    """One fixed-width field in CP932 bytes, padded with spaces (blank when missing)."""
    text = "" if pd.isna(value) else str(value)
    data = text.encode("cp932")
    if len(data) > width:
        raise ValueError(f"{text!r} does not fit {width} bytes")
    return data.rjust(width) if right else data.ljust(width)


def write_firm_survey(frame: pd.DataFrame, year: int, out: Path, rng: np.random.Generator) -> None:
    """企業活動基本調査 of one year as fixed-width CP932 records, with unknown firms added."""
    rows = frame.assign(firm_id=[survey_firm_id(f, year) for f in frame["firm_id"]])
    extra = pd.DataFrame(
        {
            "year": year,
            "firm_id": [f"K8{year % 100:02d}{i:03d}" for i in range(UNKNOWN_FIRMS)],
            "capital": rng.integers(10, 90, UNKNOWN_FIRMS).astype(float),
            "sales": rng.integers(100, 900, UNKNOWN_FIRMS).astype(float),
            "exports": np.nan,
            "employees": rng.integers(20, 90, UNKNOWN_FIRMS),
            "industry": "24",
        }
    )
    rows = pd.concat([rows, extra], ignore_index=True)
    lines = []
    for row in rows.itertuples(index=False):
        values = row._asdict()
        record = b""
        for name, start, end in KIKATSU_LAYOUT:
            if name == "企業名称":
                record += _cell(f"デモ工業{values['firm_id'][1:]}", end - start, right=False)
            else:
                record += _cell(values[_KIKATSU_COLUMNS[name]], end - start)
        lines.append(record)
    _write(out / "raw" / "kikatsu" / f"kigyou_katsudou_{year}.txt", b"\r\n".join(lines) + b"\r\n")


def write_crosswalk(firm_ids: list[str], params: WorldParams, out: Path) -> None:
    """The crosswalk of the 企業活動基本調査's ids to canonical ones (one renumbering)."""
    rows = []
    for firm_id in firm_ids:
        if firm_id == RENUMBERED_FIRM:
            rows.append(
                [
                    "kigyou_katsudou",
                    survey_firm_id(firm_id, 0),
                    firm_id,
                    "",
                    str(RENUMBERED_FROM - 1),
                ]
            )
            rows.append(
                [
                    "kigyou_katsudou",
                    survey_firm_id(firm_id, RENUMBERED_FROM),
                    firm_id,
                    str(RENUMBERED_FROM),
                    "",
                ]
            )
        else:
            rows.append(
                ["kigyou_katsudou", survey_firm_id(firm_id, params.first_year), firm_id, "", ""]
            )
    frame = pd.DataFrame(rows, columns=["source", "source_id", "firm_id", "valid_from", "valid_to"])
    path = out / "raw" / "kikatsu" / "firm_crosswalk.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, encoding="utf-8")


def write_parents(frame: pd.DataFrame, year: int, out: Path, raw_columns: dict[str, str]) -> None:
    """本社企業票 of one year as an Excel workbook: two title rows, then the table."""
    table = frame.rename(columns=raw_columns)
    title = pd.DataFrame([[f"海外事業活動基本調査 本社企業票 {year}年度"], [None]])
    path = out / "raw" / "kaigai" / f"honsha_kigyou_{year}.xlsx"
    path.parent.mkdir(parents=True, exist_ok=True)
    with pd.ExcelWriter(path) as writer:
        title.to_excel(writer, sheet_name="本社企業票", index=False, header=False)
        table.to_excel(writer, sheet_name="本社企業票", index=False, startrow=2)


def lettered(codes: pd.Series) -> pd.Series:
    """Industry codes written with their JSIC 大分類 letter (``31`` → ``E31``)."""
    return codes.map(lambda code: jsic_letter(code) + code)


def revised(codes: pd.Series, year: int) -> pd.Series:
    """工業統計 細分類 as written in accounts ``year`` (renumbered from the revision on)."""
    return codes.replace(REVISED_CODES) if year >= REVISION_YEAR else codes


def write_revision_concordance(codes: list[str], out: Path) -> None:
    """The demo's concordance: both numberings of the revised codes → the analysis code."""
    lines = [
        "# The demo world's made-up JSIC revision: from accounts year 2014 the 工業統計 files",
        f"# renumber {', '.join(f'{a} → {b}' for a, b in REVISED_CODES.items())}; this maps both",
        "# numberings onto the analysis classification (the earlier codes). Not a real revision.",
        "from,to,valid_from,valid_to",
    ]
    for code in sorted(codes):
        if code in REVISED_CODES:
            lines.append(f"{code},{code},,{REVISION_YEAR - 1}")
            lines.append(f"{REVISED_CODES[code]},{code},{REVISION_YEAR},")
        else:
            lines.append(f"{code},{code},,")
    _write(out / "raw" / "concordances" / "jsic_revision.csv", ("\n".join(lines) + "\n").encode())


def write_tankan(di: pd.DataFrame, out: Path, rng: np.random.Generator) -> None:
    """The DI as the BOJ Time-Series Data Search CSV download (CP932), plus an unused series."""
    codes = {pair: code for code, pair in series_table().items()}
    di = di.assign(
        code=[codes[(i, s)] for i, s in zip(di["industry"], di["size_class"], strict=True)]
    )
    wide = di.pivot(index="period", columns="code", values="di")
    order = list(dict.fromkeys(di["code"]))
    names = {
        code: f"D.I./{ITEM}/{s}/{i}/実績"
        for code, (i, s) in series_table().items()
        if code in order
    }
    business = "TK99F1000601GCQ01000"  # 業況判断 (another item): the loader leaves it out
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["系列コード", *(f"CO'{c}" for c in order), f"CO'{business}"])
    writer.writerow(["系列名称", *(names[c] for c in order), "D.I./業況/大企業/製造業/実績"])
    writer.writerow(["単位", *(["％ポイント"] * (len(order) + 1))])
    for period, row in wide.iterrows():
        month = int(period[-1]) * 3
        values = [f"{row[c]:.0f}" for c in order]
        writer.writerow([f"{period[:4]}/{month:02d}", *values, str(int(rng.integers(-20, 30)))])
    _write(out / "raw" / "tankan" / "nme_tankan_overseas_di.csv", buffer.getvalue().encode("cp932"))


def write_shipments_breakdown(params: WorldParams, out: Path, rng: np.random.Generator) -> None:
    """鉱工業出荷内訳表 (2015 = 100): 出荷, 輸出向け, 国内向け indices and weights by 業種."""
    groups = list(dict.fromkeys(load_concordance("jsic_to_iip_group").rows["to"]))
    years = list(range(params.first_year, params.last_year + 1))
    header = ["品目番号", "品目名称", "区分", "ウエイト", *map(str, years)]
    rows = [
        ["鉱工業出荷内訳表（2015年=100）原指数", *[""] * (len(header) - 1)],
        [""] * len(header),
        header,
    ]
    for number, group in enumerate(groups, start=1):
        base = rng.uniform(3, 30)
        shipments_weight = round(float(rng.uniform(200, 2000)), 1)
        export_weight = round(shipments_weight * base / 100, 1)
        shipments = [100.0 if y == 2015 else round(float(rng.uniform(90, 110)), 1) for y in years]
        ratios = [base + 0.3 * (y - params.first_year) for y in years]
        exports = [
            round(r * s * shipments_weight / (100 * export_weight), 1)
            for r, s in zip(ratios, shipments, strict=True)
        ]
        domestic = [
            round(
                (s * shipments_weight - e * export_weight) / (shipments_weight - export_weight), 1
            )
            for s, e in zip(shipments, exports, strict=True)
        ]
        code = f"{number:02d}00000000"
        rows.append([code, group, "出荷", f"{shipments_weight:.1f}", *map(str, shipments)])
        rows.append(
            [
                code,
                group,
                "国内向け",
                f"{shipments_weight - export_weight:.1f}",
                *map(str, domestic),
            ]
        )
        rows.append([code, group, "輸出向け", f"{export_weight:.1f}", *map(str, exports)])
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    _write(out / "raw" / "kougyou" / "utiwake_2015base.csv", buffer.getvalue().encode("cp932"))


def published_sources(source, params: WorldParams) -> dict[str, list[dict]]:
    """The ``sources`` entries of the published layouts (``source`` builds one entry)."""
    names = [name for name, _, _ in KIKATSU_LAYOUT]
    return {
        "firms": [
            {
                "name": "kigyou_katsudou",
                "path": "raw/kikatsu/kigyou_katsudou_{year}.txt",
                "format": "fwf",
                "encoding": "cp932",
                "names": names,
                "colspecs": [[start, end] for _, start, end in KIKATSU_LAYOUT],
                "columns": dict(_KIKATSU_COLUMNS),
            }
        ],
        "firm_crosswalk": [
            {
                "name": "firm_crosswalk",
                "path": "raw/kikatsu/firm_crosswalk.csv",
                "columns": {
                    c: c for c in ("source", "source_id", "firm_id", "valid_from", "valid_to")
                },
            }
        ],
        "affiliates": [
            source(
                "genchi_houjin",
                "kaigai/genchi_houjin_{year}.csv",
                encoding="cp932",
                recode={"industry": {"extract": r"^[A-Z]?(\d{2,4})$"}},
            )
        ],
        "parents": [
            source(
                "honsha_kigyou",
                "kaigai/honsha_kigyou_{year}.xlsx",
                format="excel",
                sheet="本社企業票",
                skip_lines=2,
            )
        ],
        "export_ratios": [
            {
                "name": "kougyou_utiwake",
                "path": "raw/kougyou/utiwake_2015base.csv",
                "format": "meti_shipments",
                "encoding": "cp932",
            }
        ],
        "external_demand": [
            {
                "name": "tankan",
                "path": "raw/tankan/nme_tankan_overseas_di.csv",
                "format": "boj_tankan",
                "encoding": "cp932",
            }
        ],
    }
