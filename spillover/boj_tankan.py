"""The BOJ Tankan 海外での製商品需給判断DI as the BOJ Time-Series Data Search publishes it.

Two layouts are read (``format: boj_tankan``), both decoded by :mod:`spillover.rawfiles`:

- the site's CSV download: header rows first — one of them the series codes (first cell
  ``系列コード``, ``データコード`` or ``Series code``; codes may carry the ``CO'`` prefix), one
  the series names (``系列名称`` / ``Name of time-series``), others (単位, …) ignored — then
  one row per quarter, ``2015/06`` (the survey month), with a column per series;
- the flat file (``code, frequency, period, value``, no header; quarters ``YYYYQQ`` with
  ``QQ`` = 01–04), of which the quarterly rows are read.

Each column (flat: each code) is matched to an industry and size class by the series table
:data:`SERIES_TABLE`; a column whose code is not there is still taken when its name reads
``D.I./海外での製商品需給/<size>/<industry>/実績``, and a column whose code is there but
whose name is another series stops the read, so a wrong code in the table cannot load the
wrong DI from a file with names. Values ``NA``/``ND`` (not shown / no data) become empty
fields and are quarantined by ingest as missing values, with their line.
"""

from __future__ import annotations

import csv
import io
import re
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from spillover.rawfiles import IngestError

#: The series table shipped with the package: ``code, industry, size_class``.
SERIES_TABLE = Path(__file__).parent / "tankan_series.csv"
#: Raw (= canonical) columns of the long frame the reader returns.
COLUMNS = ["period", "industry", "size_class", "di"]
#: The DI's name as it appears in 系列名称.
ITEM = "海外での製商品需給"

_CODE_LABELS = {"系列コード", "データコード", "series code"}
_NAME_LABELS = {"系列名称", "name of time-series"}
_PERIOD = re.compile(r"^\d{4}[/\-.]\d{1,2}$")
_NAMED = re.compile(rf"^D\.I\./{ITEM}/([^/]+)/([^/]+)/実績$")
_MISSING = {"NA", "ND", ""}
#: Frequencies of the flat file (quarterly, half fiscal year, fiscal year).
FREQUENCIES = {"Q", "FH", "FY"}


class TankanLayoutError(IngestError):
    """A Tankan file is not in either BOJ layout, or names a series against the table."""


@cache
def series_table() -> dict[str, tuple[str, str]]:
    """Series code → (industry, size class), from :data:`SERIES_TABLE`."""
    lines = SERIES_TABLE.read_text(encoding="utf-8").splitlines()
    body = [line for line in lines if not line.startswith("#")]
    rows = csv.DictReader(body)
    return {row["code"]: (row["industry"], row["size_class"]) for row in rows}


def _same_series(named: re.Match, tabled: tuple[str, str]) -> bool:
    """Whether a 系列名称's size and industry are the table's (全規模 = 全規模合計)."""
    size, industry = named.group(1), named.group(2)
    return industry == tabled[0] and size.removesuffix("合計") == tabled[1].removesuffix("合計")


def _code(cell: str) -> str:
    return cell.strip().removeprefix("CO'")


def _frame(records: list[list[str | None]], lines: list[int]) -> tuple[pd.DataFrame, pd.Series]:
    frame = pd.DataFrame(records, columns=COLUMNS, dtype="str")
    return frame, pd.Series(np.asarray(lines, dtype=np.int64), index=frame.index)


def _value(cell: str | None) -> str | None:
    """A value cell: ``NA``/``ND``/blank → ``""`` (missing); ``None`` where the row ends."""
    if cell is None:
        return None
    return "" if cell.strip() in _MISSING else cell.strip()


def _read_flat(rows: list[list[str]], path: Path) -> tuple[pd.DataFrame, pd.Series]:
    """The flat file: quarterly rows of the table's series, period ``YYYYQQ`` → ``YYYYQq``."""
    table = series_table()
    records, lines = [], []
    for number, row in enumerate(rows, start=1):
        if not any(cell.strip() for cell in row):
            continue  # blank lines
        if len(row) != 4:
            raise TankanLayoutError(
                f"{path}: line {number}: a flat-file row has 4 fields "
                f"(code, frequency, period, value), this one {len(row)}"
            )
        code, frequency, period, value = row
        if frequency.strip() != "Q" or _code(code) not in table:
            continue
        period = period.strip()
        if re.fullmatch(r"\d{4}0[1-4]", period):
            period = f"{period[:4]}Q{int(period[4:])}"
        records.append([period, *table[_code(code)], _value(value)])
        lines.append(number)
    if not records:
        raise TankanLayoutError(
            f"{path}: no quarterly row of a {ITEM} DI series of {SERIES_TABLE.name} "
            f"(first codes: {sorted({_code(row[0]) for row in rows})[:5]})"
        )
    return _frame(records, lines)


def _select_columns(
    codes: list[str], names: list[str] | None, *, path: Path, code_line: int, name_line: int
) -> dict[int, tuple[str, str]]:
    """Column index → (industry, size class) of the columns that are this DI."""
    table = series_table()
    chosen: dict[int, tuple[str, str]] = {}
    for j, cell in enumerate(codes[1:], start=1):
        code = _code(cell)
        name = names[j].strip() if names is not None and j < len(names) else None
        named = _NAMED.match(name) if name else None
        if code in table:
            if name is not None and (named is None or not _same_series(named, table[code])):
                raise TankanLayoutError(
                    f"{path}: column {j + 1}: {SERIES_TABLE.name} lists {code} as the {ITEM} "
                    f"DI (実績) of {'/'.join(table[code])}, but line {name_line} names it "
                    f"{name!r}; correct the table or the download"
                )
            chosen[j] = table[code]
        elif named is not None:
            chosen[j] = (named.group(2), named.group(1))
    if not chosen:
        raise TankanLayoutError(
            f"{path}: line {code_line}: no column is a {ITEM} DI series (codes of "
            f"{SERIES_TABLE.name}, or names 'D.I./{ITEM}/<規模>/<業種>/実績'); "
            f"codes: {[_code(c) for c in codes[1:6]]}"
        )
    return chosen


def _read_wide(rows: list[list[str]], path: Path) -> tuple[pd.DataFrame, pd.Series]:
    """The site's CSV download: header rows, then one row per quarter."""
    first_data = next(
        (i for i, row in enumerate(rows) if row and _PERIOD.match(row[0].strip())), None
    )
    if first_data is None:
        raise TankanLayoutError(f"{path}: no data row (a first cell like 2015/06)")
    header = {row[0].strip().lower(): (i, row) for i, row in enumerate(rows[:first_data]) if row}
    codes = next((header[label] for label in _CODE_LABELS if label in header), None)
    if codes is None:
        raise TankanLayoutError(
            f"{path}: none of the header rows (lines 1–{first_data}) starts with "
            f"系列コード, データコード or Series code"
        )
    names = next((header[label] for label in _NAME_LABELS if label in header), None)
    chosen = _select_columns(
        codes[1],
        names[1] if names else None,
        path=path,
        code_line=codes[0] + 1,
        name_line=names[0] + 1 if names else 0,
    )
    width = len(codes[1])
    data = rows[first_data:]
    filled = [i for i, row in enumerate(data) if any(cell.strip() for cell in row)]
    if filled and len(data[filled[-1]]) < width:
        raise TankanLayoutError(
            f"{path}: line {first_data + filled[-1] + 1}: the last row has "
            f"{len(data[filled[-1]])} of {width} fields; the file looks cut mid-record"
        )
    records, lines = [], []
    for offset, row in enumerate(data):
        if not any(cell.strip() for cell in row):
            continue  # trailing blank lines of the download
        for j, (industry, size) in chosen.items():
            records.append([row[0], industry, size, _value(row[j] if j < len(row) else None)])
            lines.append(first_data + offset + 1)
    return _frame(records, lines)


def read_tankan(text: str, *, path: Path) -> tuple[pd.DataFrame, pd.Series]:
    """Read a Tankan DI file in either BOJ layout into ``period, industry, size_class, di``.

    Parameters
    ----------
    text : str
        The decoded file.
    path : Path
        The file, for messages.

    Returns
    -------
    frame : pandas.DataFrame
        One text row per quarter and series (``period`` as written, or ``YYYYQq`` from the
        flat file), values ``""`` where BOJ writes NA/ND.
    lines : pandas.Series
        The 1-based line of each row in the file.

    Raises
    ------
    TankanLayoutError
        If the file is in neither layout, has no column of this DI, ends inside its last
        row, or names a tabled code as another series.
    """
    rows = list(csv.reader(io.StringIO(text, newline="")))
    first = next((row for row in rows if row), [])
    flat = len(first) == 4 and _code(first[0]).startswith("TK") and first[1].strip() in FREQUENCIES
    return _read_flat(rows, path) if flat else _read_wide(rows, path)
