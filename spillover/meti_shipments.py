"""Export ratios from METI's 鉱工業出荷内訳表 (shipments split into 輸出向け and 国内向け).

The table publishes indices (base year = 100) with base-year weights, not ratios. For an
industry group the export dependence (輸出依存度) of a year is, as METI computes it::

    export_ratio = 100 × 輸出向け指数 × 輸出ウエイト / (出荷指数 × 出荷ウエイト)

``format: meti_shipments`` reads the table as its workbooks lay it out (CSV, or Excel by
the ``.xlsx`` suffix): title rows, then a header row starting ``品目番号`` (or ``業種番号``)
with ``品目名称``, ``区分`` (出荷 / 輸出向け / 国内向け), ``ウエイト`` and one column per
period — calendar years (``2015``) or months (``201501``; a ``P`` prefix marks a preliminary
month, and a later column of the same month replaces it). Monthly indices are averaged over
the calendar year, and only over all twelve months. Rows with neither 品目名称 nor 区分
(blank lines, footnotes) are skipped. The
reader returns one row per group and year (``year, industry_group, export_ratio`` as text,
the line of the group's 輸出向け row); a year without both indices gives an empty ratio,
which ingest quarantines as a missing value.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd

from spillover.parsing import NULL_TOKENS
from spillover.rawfiles import EXCEL_ENGINE, EXCEL_READ_ERRORS, IngestError

#: Columns of the frame the reader returns (the canonical ``export_ratios`` columns).
COLUMNS = ["year", "industry_group", "export_ratio"]
#: File suffixes read as Excel workbooks (the first sheet).
EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls"}
_HEADER_FIRST = {"品目番号", "業種番号"}
_PERIOD = re.compile(r"^P?(\d{4})(\d{2})?$")


class ShipmentsLayoutError(IngestError):
    """A 鉱工業出荷内訳表 file lacks its header, a weight, or a group's 出荷/輸出向け row."""


def _kind(label: str) -> str | None:
    """出荷 → shipments, 輸出向け(出荷) → exports, 国内向け → domestic (not used)."""
    label = label.strip()
    if "輸出" in label:
        return "exports"
    if "国内" in label:
        return "domestic"
    if label in {"出荷", "出荷計", "総出荷"}:
        return "shipments"
    return None


def _number(cell: str, *, where: str) -> float | None:
    text = cell.strip().replace(",", "")
    if text in NULL_TOKENS:
        return None
    try:
        return float(text)
    except ValueError:
        raise ShipmentsLayoutError(f"{where}: {cell!r} is not a number") from None


def _rows(data: bytes, text: str | None, path: Path) -> list[list[str]]:
    if path.suffix.lower() in EXCEL_SUFFIXES:
        try:
            sheet = pd.read_excel(
                io.BytesIO(data), header=None, dtype=str, engine=EXCEL_ENGINE
            ).fillna("")
        except ImportError as exc:
            raise ShipmentsLayoutError(f"{path}: reading it needs a package: {exc}") from None
        except (OSError, ValueError, KeyError, *EXCEL_READ_ERRORS) as exc:
            raise ShipmentsLayoutError(f"{path}: cannot read as Excel: {exc}") from None
        return sheet.to_numpy().tolist()
    return list(csv.reader(io.StringIO(text or "", newline="")))


def _annual(header: list[str], row: list[str], *, path: Path, line: int) -> dict[int, float]:
    """Index by calendar year: the annual column, else the mean of twelve monthly ones."""
    annual: dict[int, float | None] = {}
    months: dict[int, dict[int, float | None]] = {}
    for j, label in enumerate(header):
        match = _PERIOD.match(label.strip())
        if match is None or j >= len(row):
            continue
        value = _number(row[j], where=f"{path}: line {line}, column {label}")
        year = int(match.group(1))
        if match.group(2) is None:
            annual[year] = value
        else:  # a preliminary (P) and a final column of one month: the later column wins
            months.setdefault(year, {})[int(match.group(2))] = value
    for year, by_month in months.items():
        if year not in annual:
            values = [by_month.get(month) for month in range(1, 13)]
            whole = all(v is not None for v in values)
            annual[year] = float(np.mean(values)) if whole else None
    return annual


def read_shipments(data: bytes, text: str | None, *, path: Path) -> tuple[pd.DataFrame, pd.Series]:
    """Read a 鉱工業出荷内訳表 file into export ratios by industry group and year.

    Parameters
    ----------
    data : bytes
        The file (read as Excel when its suffix says so).
    text : str or None
        The decoded file, for CSV.
    path : Path
        The file, for messages and its suffix.

    Returns
    -------
    frame : pandas.DataFrame
        ``year, industry_group, export_ratio`` (percent) as text.
    lines : pandas.Series
        The 1-based line (sheet row) of each group's 輸出向け row.

    Raises
    ------
    ShipmentsLayoutError
        If no header row starts with 品目番号, a column is missing, a weight is not a
        positive number, or a group lacks its 出荷 or 輸出向け row.
    """
    rows = _rows(data, text, path)
    start = next((i for i, r in enumerate(rows) if r and r[0].strip() in _HEADER_FIRST), None)
    if start is None:
        raise ShipmentsLayoutError(f"{path}: no header row starting with 品目番号 or 業種番号")
    header = [cell.strip() for cell in rows[start]]
    missing = [name for name in ("品目名称", "区分", "ウエイト") if name not in header]
    if missing:
        raise ShipmentsLayoutError(f"{path}: line {start + 1}: the header lacks {missing}")
    at = {name: header.index(name) for name in ("品目名称", "区分", "ウエイト")}
    groups: dict[str, dict[str, tuple[int, float, dict[int, float]]]] = {}
    for offset, row in enumerate(rows[start + 1 :], start=start + 2):
        label = row[at["区分"]] if at["区分"] < len(row) else ""
        if not label.strip() and not row[at["品目名称"]].strip():
            continue  # a blank line or a footnote (注: …) below the table
        kind = _kind(label)
        if kind is None:
            raise ShipmentsLayoutError(
                f"{path}: line {offset}: 区分 {label!r} is none of 出荷, 輸出向け, 国内向け"
            )
        weight = _number(row[at["ウエイト"]], where=f"{path}: line {offset}, column ウエイト")
        if weight is None or weight <= 0:
            raise ShipmentsLayoutError(f"{path}: line {offset}: ウエイト must be a positive number")
        name = row[at["品目名称"]].strip()
        if kind in groups.get(name, {}):
            raise ShipmentsLayoutError(
                f"{path}: line {offset}: {name!r} already has a {label.strip()} row (line "
                f"{groups[name][kind][0]}); a 品目名称 names one group"
            )
        groups.setdefault(name, {})[kind] = (
            offset,
            weight,
            _annual(header, row, path=path, line=offset),
        )
    records, lines = [], []
    for name, kinds in groups.items():
        lacking = [k for k in ("shipments", "exports") if k not in kinds]
        if lacking:
            label = {"shipments": "出荷", "exports": "輸出向け"}
            raise ShipmentsLayoutError(
                f"{path}: {name!r} has no {', '.join(label[k] for k in lacking)} row"
            )
        line, export_weight, exports = kinds["exports"]
        _, shipment_weight, shipments = kinds["shipments"]
        for year in sorted(exports):
            export_index, shipment_index = exports[year], shipments.get(year)
            ratio = (
                repr(100 * export_index * export_weight / (shipment_index * shipment_weight))
                if export_index is not None and shipment_index
                else ""
            )
            records.append([str(year), name, ratio])
            lines.append(line)
    if not records:
        raise ShipmentsLayoutError(f"{path}: no group has both 出荷 and 輸出向け rows")
    frame = pd.DataFrame(records, columns=COLUMNS, dtype="str")
    return frame, pd.Series(np.asarray(lines, dtype=np.int64), index=frame.index)
