"""``spillover export``: one published dataset as a CSV, Excel or single Parquet file.

For an analyst who hands tables on. Excel files get a header row of Japanese labels with
units (``輸出額（百万円）``) from the data dictionary (:mod:`spillover.datasets`) and a second
sheet describing every column; CSV is UTF-8 with a byte-order mark, so Excel opens the
Japanese text correctly, with the column names as header; Parquet keeps the dictionary in
its field metadata. GeoParquet geometry is written as WKT text in CSV and Excel.

Confidential datasets (README, 'Outputs') are refused unless ``confidential=True``: an export
is how a table leaves the machine, and only ``estimates``, ``decomposition`` and
``public/neighbourhoods`` may leave the secure room.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from spillover.datasets import ACCESS_JA, DATASETS, UNITS, Dataset, dataset
from spillover.errors import SpilloverError
from spillover.storage import geo_metadata, wkb_bounds

Format = Literal["csv", "xlsx", "parquet"]
FORMATS: tuple[Format, ...] = ("csv", "xlsx", "parquet")
#: Data rows an Excel sheet holds below its header row.
EXCEL_MAX_ROWS = 1_048_575


class ExportError(SpilloverError):
    """An export that cannot or may not be written (the message says why and what to do)."""


@dataclass(frozen=True)
class Exported:
    """What :func:`export_dataset` wrote."""

    path: Path
    rows: int
    columns: int
    dataset: Dataset


def _read(output_root: Path, entry: Dataset) -> pa.Table:
    folder = Path(output_root) / entry.name
    if not folder.is_dir():
        raise ExportError(
            f"{folder} not found: is {output_root} a spillover output root (README, 'Outputs')?"
        )
    return pq.read_table(folder, partitioning=None)


def _text_frame(table: pa.Table) -> pd.DataFrame:
    """The rows as pandas, geometry as WKT text (CSV and Excel cannot hold WKB)."""
    frame = table.to_pandas()
    if "geometry" in frame.columns:
        import shapely

        wkb = frame["geometry"].to_numpy(dtype=object)
        frame["geometry"] = shapely.to_wkt(shapely.from_wkb(wkb), rounding_precision=6)
    return frame


def _write_xlsx(frame: pd.DataFrame, entry: Dataset, path: Path) -> None:
    """Sheet ``data``: Japanese header with units, then the rows; ``列の説明``: the columns."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    data = workbook.create_sheet("data")
    data.freeze_panes = "A2"
    bold = Font(bold=True)
    header = [entry.column(name).header_ja for name in frame.columns]
    data.append(_bold_row(workbook, header, bold))
    columns = [frame[name].to_numpy(dtype=object) for name in frame.columns]
    for values in zip(*columns, strict=True):
        data.append([_cell(value) for value in values])
    about = workbook.create_sheet("列の説明")
    about.append(
        _bold_row(workbook, ["列名（日本語）", "column", "type", "unit", "単位", "meaning"], bold)
    )
    for name in frame.columns:
        c = entry.column(name)
        about.append([c.label_ja, c.name, c.type, c.unit, UNITS[c.unit], c.meaning])
    about.append([])
    about.append(["データセット", entry.name])
    about.append(["内容", entry.description])
    about.append(["公表区分", f"{entry.access}: {ACCESS_JA[entry.access]}"])
    workbook.save(path)


def _bold_row(workbook, values: list[str], font) -> list:
    from openpyxl.cell import WriteOnlyCell

    sheet = workbook.worksheets[-1]
    cells = []
    for value in values:
        cell = WriteOnlyCell(sheet, value=value)
        cell.font = font
        cells.append(cell)
    return cells


def _cell(value: object) -> object:
    """An Excel cell value: empty for missing values, plain Python numbers."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def export_dataset(
    output_root: str | Path,
    name: str,
    fmt: Format,
    out: str | Path,
    *,
    confidential: bool = False,
    force: bool = False,
) -> Exported:
    """Write the published dataset ``name`` of ``output_root`` to the file ``out``.

    Parameters
    ----------
    output_root : str or pathlib.Path
        A spillover output root (the config's ``output_root``, e.g. ``demo/output``).
    name : str
        Dataset (``estimates``, ``public/neighbourhoods`` or its view name
        ``public_neighbourhoods``).
    fmt : {"csv", "xlsx", "parquet"}
        ``csv``: UTF-8 with BOM, column names as header, empty for missing values.
        ``xlsx``: Japanese labels with units as header, a ``列の説明`` sheet.
        ``parquet``: one file, data dictionary in the field metadata.
    out : str or pathlib.Path
        File to write.
    confidential : bool
        Allow a confidential dataset (for use inside the secure room only).
    force : bool
        Replace ``out`` if it exists.

    Returns
    -------
    Exported
        Path, row and column counts.

    Raises
    ------
    ExportError
        Unknown format, confidential dataset without ``confidential``, ``out`` exists
        without ``force``, no such output root, or too many rows for Excel.
    spillover.datasets.UnknownDatasetError
        ``name`` is not a dataset (the message lists them).
    """
    if fmt not in FORMATS:
        raise ExportError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    entry = dataset(name)
    if entry.access == "confidential" and not confidential:
        releasable = ", ".join(d.name for d in DATASETS if d.access != "confidential")
        raise ExportError(
            f"{entry.name} is confidential: it may not leave the secure room. Add "
            f"--confidential to export it for use inside the secure room only; tables that "
            f"may leave: {releasable}"
        )
    path = Path(out)
    if path.exists() and not force:
        raise ExportError(f"{path} exists; add --force to replace it")
    table = _read(Path(output_root), entry)
    if fmt == "xlsx" and table.num_rows > EXCEL_MAX_ROWS:
        raise ExportError(
            f"{entry.name} has {table.num_rows:,} rows, more than an Excel sheet holds "
            f"({EXCEL_MAX_ROWS:,}); export it as csv or parquet"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        if entry.geometry:  # the bounding box of all rows, not of the first file's
            geo = geo_metadata(wkb_bounds(table["geometry"]), entry.geometry)
            table = table.replace_schema_metadata({**table.schema.metadata, b"geo": geo})
        pq.write_table(table, path)
    elif fmt == "csv":
        _text_frame(table).to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\r\n")
    else:
        _write_xlsx(_text_frame(table), entry, path)
    return Exported(path, table.num_rows, table.num_columns, entry)
