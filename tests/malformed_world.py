"""A tiny world in the demo layouts, for the reliability suite (malformed and incomplete inputs).

Three accounts years (2014–2016), a handful of rows per file, written like the demo world's
raw files (:data:`spillover.demo.layouts.RAW_COLUMNS`, :func:`spillover.demo.layouts.demo_config`):
工業統計 (CP932 CSV, 万円) for 2014 and 2016, 経済センサス (UTF-8, 百万円 with separators) for
2015, 企業活動基本調査, 現地法人票 and 本社企業票 (CP932), 鉱工業 export ratios and their
concordance, and the Tankan DI. Tests break one file and check what ingest does.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from spillover.config import Config, parse_config
from spillover.demo.layouts import RAW_COLUMNS, demo_config
from spillover.demo.params import WorldParams

FIRST, LAST = 2014, 2016
N_ROWS = 10  # establishments per year

# ---------------------------------------------------------------- the tiny world


def _establishment(i: int) -> dict:
    return {
        "establishment_id": f"E{i:03d}",
        "firm_id": f"F{i % 3}",
        "pref_code": "23",
        "city_code": "23211",
        "address": f"愛知県豊田市元町1丁目{i}番1号",
        "industry": "3113",
        "employees": "120",
        "export_share": "12",
    }


def rows_of(source: str, year: int) -> list[dict]:
    """Raw rows (canonical names) of one file of ``source`` for accounts ``year``."""
    if source == "kogyo_toukei":
        return [
            {"year": str(year + 1), **_establishment(i), "shipments": "123450", "capital": "500000"}
            for i in range(N_ROWS)
        ]
    if source == "keizai_census":
        return [
            {**_establishment(i), "shipments": "1,234.50", "capital": "5,000"}
            for i in range(N_ROWS)
        ]
    if source == "kigyou_katsudou":
        return [
            {
                "year": str(year),
                "firm_id": f"F{i}",
                "capital": "1500.0",
                "sales": "9000.0",
                "exports": "900.0",
                "employees": "800",
                "industry": "31",
            }
            for i in range(3)
        ]
    if source == "genchi_houjin":
        return [
            {
                "year": str(year),
                "affiliate_id": f"A{i}",
                "parent_firm_id": f"F{i % 3}",
                "country": "CN",
                "industry": "31",
                "sales": "300.0",
            }
            for i in range(4)
        ]
    if source == "honsha_kigyou":
        return [
            {
                "year": str(year),
                "firm_id": f"F{i}",
                "capital": "1500.0",
                "sales": "600.0",
                "industry": "31",
            }
            for i in range(3)
        ]
    raise KeyError(source)


def undated_rows(source: str) -> list[dict]:
    years = range(FIRST, LAST + 1)
    if source == "kougyou_export_ratios":
        return [
            {"year": str(y), "industry_group": g, "export_ratio": "20.5"}
            for y in years
            for g in ("輸送機械工業", "電気機械工業")
        ]
    if source == "jsic_to_group":
        return [
            {"jsic": "31", "industry_group": "輸送機械工業"},
            {"jsic": "29", "industry_group": "電気機械工業"},
        ]
    if source == "tankan":
        return [
            {"period": f"{y}年{3 * q}月", "industry": "製造業", "size_class": "大企業", "di": "-3"}
            for y in years
            for q in range(1, 5)
        ]
    raise KeyError(source)


def csv_text(source: str, rows: list[dict], *, sep: str = ",") -> str:
    """The rows written as a file of ``source``: its raw header, every field, a final newline."""
    layout = RAW_COLUMNS[source]
    header = list(layout.values())
    if source == "keizai_census":  # an unmapped column, as in the demo file
        header.insert(5, "産業小分類")
    out = io.StringIO()
    writer = csv.writer(out, delimiter=sep, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        raw = {layout[k]: v for k, v in row.items()}
        raw.setdefault("産業小分類", "311")
        writer.writerow([raw.get(name, "") for name in header])
    return out.getvalue()


#: (table, source, file name pattern, encoding) of every file of the tiny world.
FILES = {
    "kogyo_toukei": ("establishments", "raw/establishments/kogyo_{survey_year}.csv", "cp932"),
    "keizai_census": ("establishments", "raw/establishments/keizai_census_2016.csv", "utf-8"),
    "kigyou_katsudou": ("firms", "raw/kikatsu/kigyou_katsudou_{year}.csv", "utf-8"),
    "genchi_houjin": ("affiliates", "raw/kaigai/genchi_houjin_{year}.csv", "cp932"),
    "honsha_kigyou": ("parents", "raw/kaigai/honsha_kigyou_{year}.csv", "cp932"),
    "kougyou_export_ratios": ("export_ratios", "raw/kougyou/export_ratios.csv", "utf-8"),
    "jsic_to_group": ("export_ratio_concordance", "raw/kougyou/jsic_concordance.csv", "utf-8"),
    "tankan": ("external_demand", "raw/tankan/tankan_overseas_supply_demand_di.csv", "utf-8"),
}


@dataclass
class World:
    """The tiny world under ``root``: its config data and where each file is."""

    root: Path
    data: dict

    def path(self, source: str, year: int | None = None) -> Path:
        """File of ``source`` for accounts ``year`` (undated sources: the one file)."""
        pattern = FILES[source][1]
        offset = 1 if source == "kogyo_toukei" else 0
        name = pattern.format(year=year, survey_year=(year or 0) + offset)
        return self.root / name

    def write(self, source: str, year: int | None, text: str | bytes) -> Path:
        """Replace one file's content (text is encoded in the source's encoding)."""
        path = self.path(source, year)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = text if isinstance(text, bytes) else text.encode(FILES[source][2])
        path.write_bytes(data)
        return path

    def write_rows(self, source: str, year: int | None, rows: list[dict]) -> Path:
        """Write ``rows`` (canonical names) as the file of ``source`` for ``year``."""
        return self.write(source, year, csv_text(source, rows))

    def config(self, **sections) -> Config:
        """The world's config, with top-level sections replaced by ``sections``."""
        return parse_config({**self.data, **sections}, base_dir=self.root)


def build_world(root: Path) -> World:
    """Write every file of the tiny world and return it."""
    data = demo_config(WorldParams(first_year=FIRST, last_year=LAST, published_layouts=False))
    data["quarantine"] = {"max_share": 1.0}  # row-level cases keep their other rows
    data["years"] = [FIRST, LAST]  # fixed: a missing year is an incomplete input, not "latest"
    world = World(root, data)
    for year in range(FIRST, LAST + 1):
        establishments = "keizai_census" if year == 2015 else "kogyo_toukei"
        world.write_rows(establishments, year, rows_of(establishments, year))
        for source in ("kigyou_katsudou", "genchi_houjin", "honsha_kigyou"):
            world.write_rows(source, year, rows_of(source, year))
    for source in ("kougyou_export_ratios", "jsic_to_group", "tankan"):
        world.write_rows(source, None, undated_rows(source))
    return world


def year_of(source: str) -> int | None:
    """The file a row-level case edits: 2015 for the census, 2016 for yearly files."""
    if source in ("kougyou_export_ratios", "jsic_to_group", "tankan"):
        return None
    return 2015 if source == "keizai_census" else 2016


def base_rows(source: str) -> list[dict]:
    year = year_of(source)
    return undated_rows(source) if year is None else rows_of(source, year)


def lines_of(source: str) -> list[str]:
    """The lines (with newlines) of the file a row-level case edits."""
    return csv_text(source, base_rows(source)).splitlines(keepends=True)
