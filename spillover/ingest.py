"""Ingest: read raw survey files, map them onto canonical tables, quarantine bad rows.

Every raw row ends in exactly one place: the canonical table or the quarantine (with the
file, line, column and reason). :class:`SourceReport` counts both per source file so the
manifest can show rows in = rows out + rows quarantined.
"""

from __future__ import annotations

import glob as globlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from spillover import quarantine
from spillover.config import Config, Source
from spillover.errors import SpilloverError
from spillover.schemas import DTYPES, TABLES, Kind, empty_frame, schema

#: Raw tokens that mean "no value" in METI files (blank, dash, suppressed χ/X, 不明).
NULL_TOKENS = frozenset(
    {"", "-", "－", "―", "‐", "…", "...", "χ", "Χ", "X", "x", "不明", "NA", "nan"}
)
#: Provenance kept on every canonical row: the raw file and its line (header = line 1).
PROVENANCE = ["source_file", "source_line"]


class IngestError(SpilloverError, RuntimeError):
    """A source is missing, unreadable, mis-mapped or has too many bad rows."""


@dataclass
class SourceReport:
    """Row accounting for one raw file."""

    table: str
    source: str
    file: str
    rows_in: int
    rows_out: int
    rows_quarantined: int
    sha256: str


@dataclass
class IngestResult:
    """Canonical tables, the quarantined rows and the per-file accounting."""

    tables: dict[str, pd.DataFrame]
    quarantine: pd.DataFrame
    reports: list[SourceReport]


# ---------------------------------------------------------------- reading raw files


def _sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_raw(path: Path, source: Source) -> tuple[pd.DataFrame, pd.Series]:
    """Read one raw file as text columns; return it and the 1-based line/row of each row.

    CSV/TSV line numbers count the header as line 1, so they match what an editor shows.
    """
    fmt = source.format
    try:
        if fmt in ("csv", "tsv"):
            frame = pd.read_csv(
                path,
                sep="\t" if fmt == "tsv" else ",",
                dtype=str,
                encoding=source.encoding,
                keep_default_na=False,
                skip_blank_lines=False,
            )
            lines = pd.Series(np.arange(len(frame)) + 2, index=frame.index)
            return frame, lines
        if fmt == "fwf":
            return _read_fixed_width(path, source)
        if fmt == "parquet":
            frame = pd.read_parquet(path)
        elif fmt == "stata":
            frame = pd.read_stata(path, convert_categoricals=False)
        elif fmt == "sas":
            frame = pd.read_sas(path, encoding=source.encoding)
        elif fmt == "excel":
            frame = pd.read_excel(path, sheet_name=source.sheet or 0, dtype=str)
            # Excel shows the header as row 1, so data row i is row i + 2
            return frame, pd.Series(np.arange(len(frame)) + 2, index=frame.index)
        else:  # pragma: no cover - Literal type forbids it
            raise IngestError(f"{path}: unsupported format {fmt!r}")
    except UnicodeDecodeError as exc:
        raise IngestError(
            f"{path}: cannot decode as {source.encoding!r} at byte {exc.start}; "
            f"set sources.<table>[{source.name}].encoding (e.g. 'cp932' for Shift_JIS files)"
        ) from None
    except ImportError as exc:
        raise IngestError(f"{path}: reading {fmt!r} needs an optional package: {exc}") from None
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise IngestError(f"{path}: cannot read as {fmt}: {exc}") from None
    return frame, pd.Series(np.arange(len(frame)) + 1, index=frame.index)


def _read_fixed_width(path: Path, source: Source) -> tuple[pd.DataFrame, pd.Series]:
    """Fixed-width records sliced by **byte** ranges, as survey record layouts define them.

    ``colspecs`` are [start, end) byte offsets and ``names`` the raw column names; the first
    ``skip_lines`` lines (a header, if any) are skipped. Multi-byte CP932 characters are cut
    by bytes first and decoded per field, so kanji fields keep their documented width.
    """
    lines = path.read_bytes().splitlines()
    first = source.skip_lines
    records = lines[first:]
    columns = {}
    for name, (start, end) in zip(source.names, source.colspecs, strict=True):
        columns[name] = [record[start:end].decode(source.encoding).strip() for record in records]
    frame = pd.DataFrame(columns, dtype="str")
    return frame, pd.Series(np.arange(len(frame)) + first + 1, index=frame.index)


def source_files(source: Source, config: Config) -> list[tuple[int | None, Path]]:
    """Expand a source's path template into (year, file) pairs; fail on a missing file."""
    pattern = str(config.resolve(source.path))
    if source.years is None:
        matches = sorted(globlib.glob(pattern))
        if not matches:
            raise IngestError(f"source {source.name!r}: no file matches {pattern}")
        return [(None, Path(match)) for match in matches]
    pairs: list[tuple[int | None, Path]] = []
    for year in source.years:
        concrete = pattern.format(year=year, survey_year=year + source.survey_year_offset)
        matches = sorted(globlib.glob(concrete))
        if not matches:
            raise IngestError(
                f"source {source.name!r}: no file for year {year} (looked for {concrete})"
            )
        pairs.extend((year, Path(match)) for match in matches)
    return pairs


# ---------------------------------------------------------------- parsing values


def _clean_text(raw: pd.Series, *, normalize: bool = True) -> pd.Series:
    """Stripped text (NFKC-normalised where not ASCII) with METI null tokens as missing."""
    text = raw.astype("str")
    if normalize:
        wide = text.str.contains(r"[^\x00-\x7f]", regex=True, na=False)
        if wide.any():
            text = text.where(~wide, text[wide].str.normalize("NFKC"))
    text = text.str.strip()
    return text.where(~text.isin(NULL_TOKENS) & raw.notna())


def _parse_number(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse numbers written with commas or full-width digits; return values and failures."""
    if pd.api.types.is_numeric_dtype(raw):
        values = raw.astype("float64")
        return values, pd.Series(False, index=raw.index)
    text = _clean_text(raw).str.replace(",", "", regex=False).str.replace("△", "-", regex=False)
    values = pd.to_numeric(text, errors="coerce").astype("float64")
    return values, values.isna() & text.notna()


_PERIOD_PATTERNS = (
    (re.compile(r"^(\d{4})\s*Q([1-4])$"), lambda y, q: (y, int(q))),
    (re.compile(r"^(\d{4})[/\-.年](\d{1,2})月?$"), lambda y, m: (y, (int(m) - 1) // 3 + 1)),
)


def _parse_period(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Turn ``2015Q2``, ``2015/06``, ``2015-06`` or ``2015年6月`` into ``2015Q2``."""
    text = _clean_text(raw)
    out = pd.Series(pd.NA, index=raw.index, dtype="str")
    for pattern, to_quarter in _PERIOD_PATTERNS:
        parts = text.str.extract(pattern)
        hit = parts[0].notna() & out.isna()
        if hit.any():
            out[hit] = [
                "{}Q{}".format(*to_quarter(int(y), v))
                for y, v in zip(parts.loc[hit, 0], parts.loc[hit, 1], strict=True)
            ]
    return out, out.isna() & text.notna()


#: Code widths whose lost leading zero is unambiguous (city 1100 -> 01100, JSIC 9 -> 09).
#: A 3-digit industry code may be a 小分類 or a 細分類 that lost its zero: name the width
#: in the source's ``zero_pad`` (e.g. ``{industry: 4}``) instead.
CODE_WIDTHS = {"industry": 2, "jsic": 2, "city_code": 5}


def _zero_pad(text: pd.Series, width: int, *, only_one_short: bool) -> pd.Series:
    """Left-pad digit codes with zeros to ``width`` (only those one digit short, if asked)."""
    digits = text.str.fullmatch(r"\d+").fillna(False).astype(bool)
    length = text.str.len()
    short = digits & ((length == width - 1) if only_one_short else (length < width))
    return text.where(~short, text.str.zfill(width))


def _parse_column(
    table: str, column: str, raw: pd.Series, *, zero_pad: int | None = None
) -> tuple[pd.Series, pd.Series]:
    """Parse one raw column into its canonical kind; return values and a failure mask."""
    kind = TABLES[table].columns[column].kind
    if column == "period":
        return _parse_period(raw)
    if kind == "str":
        if pd.api.types.is_float_dtype(raw) or pd.api.types.is_integer_dtype(raw):
            # ids and codes stored as numbers (Parquet, Stata): 10.0 -> "10", not "10.0"
            raw = raw.astype("Int64").astype("str").where(raw.notna())
        # addresses stay as written: the geocoder has its own, address-aware normaliser
        text = _clean_text(raw, normalize=column != "address")
        if zero_pad is not None:
            text = _zero_pad(text, zero_pad, only_one_short=False)
        elif column in CODE_WIDTHS:
            text = _zero_pad(text, CODE_WIDTHS[column], only_one_short=True)
        return text.astype("str"), pd.Series(False, index=raw.index)
    values, failed = _parse_number(raw)
    if kind == "int":
        fractional = values.notna() & (values != np.floor(values))
        failed = failed | fractional
        values = values.where(~fractional).astype("Int64")
    return values, failed


# ---------------------------------------------------------------- mapping one file


class _RowReasons:
    """Why each raw row is rejected: the canonical column and message of its first problem.

    Checks run in a fixed order (parsing, stated year, missing values, schema) and each only
    flags rows that are still clean, so a quarantined row carries exactly one reason.

    Parameters
    ----------
    index : pandas.Index
        Index of the raw frame; one reason slot per raw row.
    """

    def __init__(self, index: pd.Index) -> None:
        # (canonical column, message) per flagged row, None while the row is clean
        self._reason = pd.Series([None] * len(index), index=index, dtype=object)

    @property
    def clean(self) -> pd.Series:
        """Boolean mask of the rows not flagged so far."""
        return self._reason.isna()

    @property
    def columns(self) -> pd.Series:
        """Canonical column of each flagged row's reason."""
        return self._reason[~self.clean].map(lambda reason: reason[0])

    @property
    def messages(self) -> pd.Series:
        """Message of each flagged row's reason."""
        return self._reason[~self.clean].map(lambda reason: reason[1])

    def flag(self, mask: pd.Series, column: str, message: pd.Series | str) -> None:
        """Flag the clean rows in ``mask`` with ``column`` and ``message``.

        Parameters
        ----------
        mask : pandas.Series
            Boolean, aligned with the raw rows: the rows that fail this check.
        column : str
            Canonical column the failure is reported under.
        message : pandas.Series or str
            One message for every row, or a message per row (indexed like the raw rows).
        """
        hit = mask & self.clean
        if hit.any():
            texts = (
                message.reindex(hit.index)[hit]
                if isinstance(message, pd.Series)
                else [message] * int(hit.sum())
            )
            self._reason[hit] = [(column, text) for text in texts]

    def flag_row(self, label: object, column: str, message: str) -> None:
        """Flag the row labelled ``label`` unless it is unknown or already flagged."""
        if label in self._reason.index and self._reason[label] is None:
            self._reason[label] = (column, message)


def _check_mapping(
    raw: pd.DataFrame, *, table: str, source: Source, path: Path, year: int | None
) -> None:
    """Check ``source``'s mapping against the raw columns and the schema of ``table``.

    Raises
    ------
    IngestError
        If a mapped raw column is not in ``raw``; if ``columns``, ``scale``, ``constants`` or
        ``zero_pad`` name a column ``table`` does not have; or if a required canonical column
        is neither mapped, a constant, nor (for ``year``) given by the file's year.
    """
    spec = TABLES[table]
    missing_raw = [name for name in source.columns if name not in raw.columns]
    if missing_raw:
        raise IngestError(
            f"{path}: columns {missing_raw} named in sources.{table}[{source.name}].columns are "
            f"not in the file (it has {list(raw.columns)[:20]})"
        )
    for key, names in (
        ("columns", source.columns.values()),
        ("scale", source.scale),
        ("constants", source.constants),
        ("zero_pad", source.zero_pad),
    ):
        unknown = sorted(set(names) - set(spec.columns))
        if unknown:
            raise IngestError(
                f"sources.{table}[{source.name}].{key} names unknown canonical columns "
                f"{unknown}; allowed: {list(spec.columns)}"
            )
    provided = set(source.columns.values()) | set(source.constants) | ({"year"} if year else set())
    absent = [name for name in spec.required if name not in provided]
    if absent:
        raise IngestError(
            f"sources.{table}[{source.name}] ({path}): required canonical columns {absent} are "
            "neither mapped in 'columns' nor set in 'constants'"
        )


def _parse_mapped(
    raw_values: pd.Series, *, table: str, column: str, source: Source, reasons: _RowReasons
) -> pd.Series:
    """Parse the raw column mapped onto ``column``; flag the values that do not parse."""
    values, failed = _parse_column(table, column, raw_values, zero_pad=source.zero_pad.get(column))
    if failed.any():
        kind = TABLES[table].columns[column].kind
        shown = raw_values[failed].astype("str").map(repr)
        reasons.flag(failed, column, "cannot parse " + shown + f" as {kind}")
    return values


def _unmapped_values(
    column: str, kind: Kind, *, index: pd.Index, source: Source, year: int | None
) -> pd.Series:
    """Values of a column no raw column maps onto: its constant, the file's year, or missing."""
    if column in source.constants:
        return pd.Series(source.constants[column], index=index).astype(DTYPES[kind])
    if column == "year" and year is not None:
        return pd.Series(year, index=index, dtype="Int64")
    return pd.Series(None, index=index, dtype=DTYPES[kind])


def _convert_columns(
    raw: pd.DataFrame, *, table: str, source: Source, year: int | None, reasons: _RowReasons
) -> pd.DataFrame:
    """Build every canonical column of ``table`` from ``raw``, flagging unparsable values.

    Parameters
    ----------
    raw : pandas.DataFrame
        The raw file as read by :func:`read_raw`.
    table : str
        Canonical table name (a key of :data:`~spillover.schemas.TABLES`).
    source : Source
        The mapping: ``columns`` (raw -> canonical), ``constants``, ``zero_pad`` (code width,
        digits) and ``scale`` (a factor applied after parsing, e.g. 0.01 for 万円 -> million
        yen).
    year : int or None
        Accounts year of the file, used for ``year`` when no raw column maps onto it.
    reasons : _RowReasons
        Receives a "cannot parse" reason for each value that does not parse.

    Returns
    -------
    pandas.DataFrame
        One column per canonical column, in schema order, with the canonical dtypes.
    """
    inverse = {canonical: raw_name for raw_name, canonical in source.columns.items()}
    out = pd.DataFrame(index=raw.index)
    for column, col_spec in TABLES[table].columns.items():
        if column in inverse:
            values = _parse_mapped(
                raw[inverse[column]], table=table, column=column, source=source, reasons=reasons
            )
        else:
            values = _unmapped_values(
                column, col_spec.kind, index=raw.index, source=source, year=year
            )
        if column in source.scale:
            values = values * source.scale[column]
        out[column] = values.astype(DTYPES[col_spec.kind])
    return out


def _check_stated_year(
    out: pd.DataFrame, *, source: Source, year: int | None, reasons: _RowReasons
) -> pd.DataFrame:
    """Flag rows whose mapped year is not the file's survey year; then set ``year`` everywhere.

    Only applies when the file has a ``year`` and a raw column maps onto ``year``: a row must
    state ``year + source.survey_year_offset`` (the survey year, e.g. 2013 for 2012
    accounts). Returns ``out`` with ``year`` set to the accounts year on every row.
    """
    if year is None or "year" not in source.columns.values():
        return out
    expected = year + source.survey_year_offset
    stated = out["year"]
    reasons.flag(
        stated.notna() & (stated != expected),
        "year",
        "year column says " + stated.astype("str") + f" but the file is for year {expected}",
    )
    return out.assign(year=pd.Series(year, index=out.index, dtype="Int64"))


def _flag_missing_required(out: pd.DataFrame, *, table: str, reasons: _RowReasons) -> None:
    """Flag rows with a missing value in a non-nullable column of ``table``."""
    for column, col_spec in TABLES[table].columns.items():
        if not col_spec.nullable:
            reasons.flag(out[column].isna(), column, "missing value in a required column")


def _flag_schema_failures(out: pd.DataFrame, *, table: str, reasons: _RowReasons) -> None:
    """Validate the still-clean rows against the pandera schema; flag each failing row once.

    A row failing several checks gets the first failure pandera reports. Failures not tied
    to a row (no index) are ignored.
    """
    try:
        schema(table).validate(out.loc[reasons.clean], lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases.dropna(subset=["index"])
        for case in cases.itertuples():
            reasons.flag_row(
                case.index, case.column, f"check {case.check} failed for value {case.failure_case}"
            )


def _quarantine_rows(
    raw: pd.DataFrame,
    lines: pd.Series,
    reasons: _RowReasons,
    *,
    table: str,
    source: Source,
    path: Path,
) -> pd.DataFrame:
    """Quarantine records for the flagged rows, with their raw values, line and reason."""
    bad = ~reasons.clean
    return quarantine.records(
        stage="ingest",
        table=table,
        source=source.name,
        file=str(path),
        line=lines[bad].astype("int64").to_numpy(),
        column=reasons.columns.to_numpy(),
        reason=reasons.messages.to_numpy(),
        raw=raw.loc[bad].to_dict("records"),
    )


def _good_rows(
    out: pd.DataFrame, lines: pd.Series, reasons: _RowReasons, *, path: Path
) -> pd.DataFrame:
    """The unflagged canonical rows with their provenance (file and 1-based line)."""
    good = out.loc[reasons.clean].copy()
    good["source_file"] = str(path)
    good["source_line"] = lines[reasons.clean].astype("int64")
    return good


def map_source_frame(
    raw: pd.DataFrame,
    lines: pd.Series,
    *,
    table: str,
    source: Source,
    path: Path,
    year: int | None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Map one raw frame onto ``table``; return (canonical rows, quarantined rows).

    Steps: check the mapping, parse each canonical column, check the stated year, flag
    missing required values, validate the remaining rows against the schema. Every raw row
    ends either in the canonical rows or in the quarantine, with its first problem.

    Parameters
    ----------
    raw : pandas.DataFrame
        The raw file as read by :func:`read_raw` (text columns, or typed for binary formats).
    lines : pandas.Series
        1-based line/row number of each raw row in its file, indexed like ``raw``.
    table : str
        Canonical table name (a key of :data:`~spillover.schemas.TABLES`).
    source : Source
        The source's mapping (columns, constants, scale, zero_pad, survey_year_offset).
    path : Path
        The raw file, recorded as provenance and in messages.
    year : int or None
        Accounts year of the file (from the source's ``years``), or None for undated files.

    Returns
    -------
    good : pandas.DataFrame
        Canonical rows (schema columns and dtypes) plus ``source_file`` and ``source_line``.
    quarantined : pandas.DataFrame
        One quarantine record (:data:`spillover.quarantine.COLUMNS`) per rejected row.

    Raises
    ------
    IngestError
        If a mapped raw column is not in the file, the mapping names a column ``table`` does
        not have, or a required canonical column is neither mapped nor a constant.
    """
    _check_mapping(raw, table=table, source=source, path=path, year=year)
    reasons = _RowReasons(raw.index)
    out = _convert_columns(raw, table=table, source=source, year=year, reasons=reasons)
    out = _check_stated_year(out, source=source, year=year, reasons=reasons)
    _flag_missing_required(out, table=table, reasons=reasons)
    _flag_schema_failures(out, table=table, reasons=reasons)
    quarantined = _quarantine_rows(raw, lines, reasons, table=table, source=source, path=path)
    return _good_rows(out, lines, reasons, path=path), quarantined


def _drop_duplicate_keys(table: str, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep the first row of each key; later ones go to quarantine naming the first."""
    key = list(TABLES[table].key)
    repeated = frame.duplicated(key, keep="first")
    if not repeated.any():
        return frame, quarantine.empty()
    first = frame.loc[~repeated].set_index(key)[["source_file", "source_line"]]
    dups = frame.loc[repeated]
    origin = first.loc[pd.MultiIndex.from_frame(dups[key]) if len(key) > 1 else dups[key[0]]]
    quarantined = quarantine.records(
        stage="ingest",
        table=table,
        source=dups["source_name"].to_numpy(),
        file=dups["source_file"].to_numpy(),
        line=dups["source_line"].to_numpy(),
        column=",".join(key),
        reason=[
            f"duplicate key; first seen at {f}:{line}"
            for f, line in zip(origin["source_file"], origin["source_line"], strict=True)
        ],
        raw=dups.drop(columns=["source_file", "source_line", "source_name"]).to_dict("records"),
    )
    return frame.loc[~repeated], quarantined


def ingest_table(
    table: str, config: Config
) -> tuple[pd.DataFrame, pd.DataFrame, list[SourceReport]]:
    """Read every source of ``table``; return canonical rows, quarantine and accounting."""
    frames, rejected, reports = [], [], []
    for source in config.sources.get(table, []):
        for year, path in source_files(source, config):
            raw, lines = read_raw(path, source)
            good, bad = map_source_frame(
                raw, lines, table=table, source=source, path=path, year=year
            )
            examples = "; ".join(
                f"line {r.line} {r.column}: {r.reason}" for r in bad.head(3).itertuples()
            )
            quarantine.check_share(
                len(bad),
                len(raw),
                config.quarantine.max_share,
                subject=str(path),
                hint=f". First: {examples}",
            )
            good["source_name"] = source.name
            frames.append(good)
            rejected.append(bad)
            reports.append(
                SourceReport(
                    table, source.name, str(path), len(raw), len(good), len(bad), _sha256(path)
                )
            )
    if not frames:
        empty = empty_frame(table).assign(
            source_file=pd.Series(dtype="str"), source_line=pd.Series(dtype="int64")
        )
        return empty, quarantine.empty(), reports
    combined = pd.concat(frames, ignore_index=True)
    combined, dups = _drop_duplicate_keys(table, combined)
    if len(dups):
        rejected.append(dups)
        for report in reports:
            lost = int((dups["file"] == report.file).sum())
            report.rows_out -= lost
            report.rows_quarantined += lost
    canonical = combined[[*TABLES[table].columns, *PROVENANCE]].reset_index(drop=True)
    return canonical, quarantine.concat(rejected), reports


def ingest_all(config: Config) -> IngestResult:
    """Ingest every configured table."""
    tables, rejected, reports = {}, [], []
    for table in TABLES:
        if not config.sources.get(table):
            continue
        canonical, bad, table_reports = ingest_table(table, config)
        tables[table] = canonical
        rejected.append(bad)
        reports.extend(table_reports)
    return IngestResult(tables, quarantine.concat(rejected).astype({"line": "int64"}), reports)
