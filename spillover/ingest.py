"""Ingest: read raw survey files, map them onto canonical tables, quarantine bad rows.

Every raw row ends in exactly one place: the canonical table or the quarantine (with the
file, line, column and reason). :class:`SourceReport` counts both per source file so the
manifest can show rows in = rows out + rows quarantined.

Reading and whole-file checks are in :mod:`spillover.rawfiles`, value parsing in
:mod:`spillover.parsing`, row-level plausibility rules in :mod:`spillover.plausibility` and
the per-column bounds in :mod:`spillover.schemas`. :func:`ingest_all` ends with the
completeness checks of :mod:`spillover.completeness`, so an incomplete input stops the run
before the ingest stage writes anything.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from spillover import completeness, plausibility, quarantine
from spillover.concordance import recode_column
from spillover.config import Config, PlausibilityConfig, Source
from spillover.ingest_cache import IngestCache, MappedFile
from spillover.keys import joint_codes
from spillover.linkage import check_crosswalk, link_table, linkage_summary
from spillover.parsing import parse_column
from spillover.processes import MAX_WORKERS, PARALLEL_AT_LEAST, forked_map
from spillover.progress import track
from spillover.rawfiles import (
    TEXT_FORMATS,
    IngestError,
    RawFile,
    read_bytes,
    read_raw,
    source_files,
)
from spillover.schemas import DTYPES, TABLES, Kind, empty_frame, schema
from spillover.threads import usable_cores

__all__ = ["IngestError", "IngestResult", "SourceReport", "ingest_all", "ingest_table"]

#: Provenance kept on every canonical row: the raw file and its line (header = line 1).
PROVENANCE = ["source_file", "source_line"]


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
    #: The file's mapping came from the ingest cache (:mod:`spillover.ingest_cache`).
    from_cache: bool = False


@dataclass
class IngestResult:
    """Canonical tables, the quarantined rows and the per-file accounting."""

    tables: dict[str, pd.DataFrame]
    quarantine: pd.DataFrame
    reports: list[SourceReport]
    #: crosswalk counts, establishments without a firm, match rates (:mod:`spillover.linkage`)
    linkage: dict = field(default_factory=dict)


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
    unknown = spec.unknown_mapped(source)
    if unknown:
        key, names = next(iter(unknown.items()))
        raise IngestError(
            f"sources.{table}[{source.name}].{key} names unknown canonical columns "
            f"{names}; allowed: {list(spec.columns)}"
        )
    absent = spec.unset_required(source, year_given=bool(year))
    if absent:
        raise IngestError(
            f"sources.{table}[{source.name}] ({path}): required canonical columns {absent} are "
            "neither mapped in 'columns' nor set in 'constants'"
        )


def _parse_mapped(
    raw_values: pd.Series,
    *,
    table: str,
    column: str,
    source: Source,
    year: int | None,
    reasons: _RowReasons,
    config: Config | None,
) -> pd.Series:
    """Recode (if configured) and parse the raw column mapped onto ``column``.

    Flags values the recoding refuses, unparsable and non-finite values.
    """
    if column in source.recode:
        key = f"sources.{table}[{source.name}].recode.{column}"
        raw_values, refused = recode_column(
            raw_values, source.recode[column], key=key, year=year, config=config
        )
        reasons.flag(refused.notna(), column, refused)
    values, problems = parse_column(table, column, raw_values, zero_pad=source.zero_pad.get(column))
    reasons.flag(problems.notna(), column, problems)
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
    raw: pd.DataFrame,
    *,
    table: str,
    source: Source,
    year: int | None,
    reasons: _RowReasons,
    config: Config | None = None,
) -> pd.DataFrame:
    """Build every canonical column of ``table`` from ``raw``, flagging unparsable values.

    Parameters
    ----------
    raw : pandas.DataFrame
        The raw file as read by :func:`~spillover.rawfiles.read_raw`.
    table : str
        Canonical table name (a key of :data:`~spillover.schemas.TABLES`).
    source : Source
        The mapping: ``columns`` (raw -> canonical), ``constants``, ``zero_pad`` (code width,
        digits) and ``scale`` (a factor applied after parsing, e.g. 0.01 for 万円 -> million
        yen).
    year : int or None
        Accounts year of the file, used for ``year`` when no raw column maps onto it.
    reasons : _RowReasons
        Receives a "cannot parse" reason for each value that does not parse, and the
        recoding's reason for each code it refuses.
    config : Config, optional
        Resolves the paths of concordances named in ``source.recode``.

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
                raw[inverse[column]],
                table=table,
                column=column,
                source=source,
                year=year,
                reasons=reasons,
                config=config,
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


def _flag_short_records(raw: pd.DataFrame, *, source: Source, reasons: _RowReasons) -> None:
    """Flag text records that end before their last field, and blank lines (column ``(record)``).

    Only text files have absent fields (:mod:`spillover.rawfiles`); in binary formats a
    missing value is a missing value, checked column by column.
    """
    if source.format in TEXT_FORMATS:
        short = plausibility.absent_fields(raw)
        reasons.flag(short.notna(), "(record)", short)


def _flag_code_mismatches(
    out: pd.DataFrame, *, table: str, rules: PlausibilityConfig, reasons: _RowReasons
) -> None:
    """Flag establishments whose ``city_code`` lies in another prefecture than ``pref_code``.

    Follows ``plausibility.on_code_mismatch`` (``keep`` leaves the rows as they are).
    """
    if table == "establishments" and rules.on_code_mismatch == "quarantine":
        clash = plausibility.code_mismatches(out)
        reasons.flag(clash.notna(), "city_code", clash)


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
    rules: PlausibilityConfig | None = None,
    config: Config | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Map one raw frame onto ``table``; return (canonical rows, quarantined rows).

    Steps: check the mapping, flag short text records, parse each canonical column (flagging
    unparsable and non-finite values), check the stated year, flag missing required values,
    validate the remaining rows against the schema (types, ranges, bounds), flag
    contradicting codes. Every raw row ends either in the canonical rows or in the
    quarantine, with its first problem.

    Parameters
    ----------
    raw : pandas.DataFrame
        The raw file as read by :func:`~spillover.rawfiles.read_raw` (text columns, or typed
        for binary formats).
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
    rules : PlausibilityConfig, optional
        ``plausibility`` settings of the config (the defaults if omitted).
    config : Config, optional
        The run's config, to resolve concordance paths of ``source.recode`` (shipped
        concordances and absolute paths need none).

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
    _flag_short_records(raw, source=source, reasons=reasons)
    out = _convert_columns(
        raw, table=table, source=source, year=year, reasons=reasons, config=config
    )
    out = _check_stated_year(out, source=source, year=year, reasons=reasons)
    _flag_missing_required(out, table=table, reasons=reasons)
    _flag_schema_failures(out, table=table, reasons=reasons)
    _flag_code_mismatches(out, table=table, rules=rules or PlausibilityConfig(), reasons=reasons)
    quarantined = _quarantine_rows(raw, lines, reasons, table=table, source=source, path=path)
    return _good_rows(out, lines, reasons, path=path), quarantined


def _drop_duplicate_keys(table: str, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep the first row of each key; later ones go to quarantine naming the first.

    Keys are compared as integer codes (:func:`spillover.keys.joint_codes`; missing values
    equal each other): no index of the kept rows' keys is built to name the first rows.
    """
    codes = joint_codes([frame], list(TABLES[table].key))[0]
    index = pd.Index(codes)
    repeated = index.duplicated(keep="first")
    if not repeated.any():
        return frame, quarantine.empty()
    first = np.flatnonzero(~repeated)[index[~repeated].get_indexer(codes[repeated])]
    origin = frame[["source_file", "source_line"]].take(first)
    quarantined = quarantine.mapped_rows(
        frame[repeated],
        table=table,
        column=",".join(TABLES[table].key),
        reasons=[
            f"duplicate key; first seen at {f}:{line}"
            for f, line in zip(origin["source_file"], origin["source_line"], strict=True)
        ],
    )
    return frame[~repeated], quarantined


def _map_file(
    raw_file: RawFile, config: Config, digest: str
) -> tuple[pd.DataFrame, pd.DataFrame, SourceReport]:
    """Map one file, enforce ``quarantine.max_share`` on it, and account for its rows.

    ``digest`` is the SHA-256 of the file's bytes.
    """
    raw, path, source = raw_file.frame, raw_file.path, raw_file.source
    good, bad = map_source_frame(
        raw,
        raw_file.lines,
        table=raw_file.table,
        source=source,
        path=path,
        year=raw_file.year,
        rules=config.plausibility,
        config=config,
    )
    examples = "; ".join(f"line {r.line} {r.column}: {r.reason}" for r in bad.head(3).itertuples())
    quarantine.check_share(
        len(bad),
        len(raw),
        config.quarantine.max_share,
        subject=str(path),
        hint=f". First: {examples}",
    )
    good["source_name"] = source.name
    report = SourceReport(
        raw_file.table, source.name, str(path), len(raw), len(good), len(bad), digest
    )
    return good, bad, report


def _read_or_reuse(
    table: str, config: Config, cache: IngestCache
) -> list[tuple[str, RawFile | MappedFile]]:
    """Every file of ``table``'s sources with its cache key: kept mapping or the file read."""
    found: list[tuple[str, RawFile | MappedFile]] = []
    for source in config.sources.get(table, []):
        for year, path in source_files(source, config):
            data = read_bytes(path)  # one read: hashed here, parsed below on a cache miss
            digest = hashlib.sha256(data).hexdigest()
            key = cache.key(
                table=table, source=source, year=year, path=path, sha256=digest, config=config
            )
            kept = cache.load(key, source=source, year=year, path=path)
            if kept is None:
                frame, lines = read_raw(
                    path,
                    source,
                    table=table,
                    require_final_newline=config.completeness.require_final_newline,
                    data=data,
                )
                kept = RawFile(table, source, year, path, frame, lines, digest)
            found.append((key, kept))
    return found


def _map_files(
    raw_files: list[RawFile], config: Config
) -> Iterator[tuple[pd.DataFrame, pd.DataFrame, SourceReport]]:
    """:func:`_map_file` of each file, in order, the files mapped side by side.

    Mapping holds the interpreter (~0.6 s for a national year of establishments), so each file
    is mapped in a forked worker process (:func:`spillover.processes.forked_map`, on every
    usable core; in this process when one is missing or the files hold fewer than
    :data:`~spillover.processes.PARALLEL_AT_LEAST` rows) and its frames come back. An error is
    raised for the first failing file in order, as when the files are mapped one by one.
    """
    rows = sum(file.rows for file in raw_files)  # small tables: not worth a worker's start
    workers = min(usable_cores(MAX_WORKERS), len(raw_files)) if rows >= PARALLEL_AT_LEAST else 1
    for (result,) in forked_map(
        lambda file: _map_file(file, config, file.sha256), raw_files, 1, workers=workers
    ):
        yield result


def _move_to_quarantine(
    rows: pd.DataFrame, reports: list[SourceReport], rejected: list[pd.DataFrame]
) -> None:
    """Add quarantine records found after mapping, and count them against their files."""
    if rows.empty:
        return
    rejected.append(rows)
    for report in reports:
        lost = int((rows["file"] == report.file).sum())
        report.rows_out -= lost
        report.rows_quarantined += lost


def ingest_table(
    table: str,
    config: Config,
    cache: IngestCache | None = None,
    crosswalk: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, list[SourceReport]]:
    """Read every source of ``table``; return canonical rows, quarantine and accounting.

    ``cache`` keeps each file's mapping; a file kept unchanged is not read again.

    Raises
    ------
    IncompleteInputError
        If a file is empty, header-only or cut mid-record, or a year has too few rows
        (:func:`spillover.completeness.check_row_counts`).
    IngestError
        If a file is missing, unreadable or mis-mapped.
    QuarantineLimitError
        If a file has more than ``quarantine.max_share`` bad rows.
    """
    cache = cache or IngestCache(None)
    files = _read_or_reuse(table, config, cache)
    completeness.check_row_counts(table, [file for _, file in files], config.completeness)
    frames, rejected, reports = [], [], []
    mapped = _map_files([file for _, file in files if isinstance(file, RawFile)], config)
    try:
        for key, file in files:
            if isinstance(file, RawFile):
                good, bad, report = next(mapped)
                where = (table, file.source, file.year, file.path)
                cache.store(key, MappedFile(*where, file.rows, good, bad, report))
            else:
                good, bad, report = file.good, file.bad, replace(file.report, from_cache=True)
            frames.append(good)
            rejected.append(bad)
            reports.append(report)
    finally:
        mapped.close()  # its workers and the one-pool-at-a-time lock, should a file fail here
        cache.flush()  # each file's entry was written while the next one was mapped
    if not frames:
        empty = empty_frame(table).assign(
            source_file=pd.Series(dtype="str"), source_line=pd.Series(dtype="int64")
        )
        return empty, quarantine.empty(), reports
    combined = pd.concat(frames, ignore_index=True)
    if crosswalk is not None:
        rows = len(combined)
        combined, unlinked = link_table(table, combined, crosswalk)
        quarantine.check_share(
            len(unlinked),
            rows,
            config.quarantine.max_share,
            subject=f"{table}: firm ids of the crosswalk's sources",
            hint=" (they have no firm_crosswalk row for their year: is it the right crosswalk?)",
        )
        _move_to_quarantine(unlinked, reports, rejected)
    combined, dups = _drop_duplicate_keys(table, combined)
    _move_to_quarantine(dups, reports, rejected)
    canonical = combined[[*TABLES[table].columns, *PROVENANCE]].reset_index(drop=True)
    return canonical, quarantine.concat(rejected), reports


def ingest_all(
    config: Config, *, progress: bool = False, cache_dir: Path | None = None
) -> IngestResult:
    """Ingest every configured table, then check that the inputs are complete.

    Progress is logged per table (a bar with ``progress`` on a terminal; :mod:`spillover.progress`).
    ``cache_dir`` keeps each raw file's mapping (:mod:`spillover.ingest_cache`): files kept
    unchanged are not read again.

    Raises
    ------
    IncompleteInputError
        If an input is incomplete (:mod:`spillover.completeness`): nothing has been
        written yet, since the ingest stage writes only what this returns.
    IngestError, QuarantineLimitError
        See :func:`ingest_table`.
    """
    completeness.check_rule_names(config)
    completeness.warn_switched_off(config.completeness)
    tables, rejected, reports = {}, [], []
    cache = IngestCache(cache_dir)
    # the crosswalk first: the firm ids of the other tables are translated as they are read
    names = sorted(
        (table for table in TABLES if config.sources.get(table)),
        key=lambda table: table != "firm_crosswalk",
    )
    crosswalk = None
    for table in track(names, total=len(names), stage="ingest", unit="tables", bar=progress):
        canonical, bad, table_reports = ingest_table(table, config, cache, crosswalk)
        if table == "firm_crosswalk":
            crosswalk = _crosswalk_with_names(canonical, config)
        tables[table] = canonical
        rejected.append(bad)
        reports.extend(table_reports)
    completeness.check_years(tables, config)
    completeness.check_quarters(tables["external_demand"], config)
    cache.prune()
    everything = quarantine.concat(rejected).astype({"line": "int64"})
    named = set(crosswalk["source"].unique()) if crosswalk is not None else set()
    crosswalked = {report.file for report in reports if report.source in named}
    linkage = linkage_summary(
        tables,
        everything,
        crosswalked,
        firm_year_offset=config.definitions.firm_year_offset,
    )
    return IngestResult(tables, everything, reports, linkage)


def _crosswalk_with_names(crosswalk: pd.DataFrame, config: Config) -> pd.DataFrame:
    """The crosswalk, checked; a ``source`` that names no configured source is an error."""
    known = {source.name for sources in config.sources.values() for source in sources}
    unknown = sorted(set(crosswalk["source"]) - known)
    if unknown:
        first = crosswalk[crosswalk["source"] == unknown[0]].iloc[0]
        raise IngestError(
            f"{first['source_file']}: line {first['source_line']}: firm_crosswalk source "
            f"{unknown[0]!r} is not a source of the config (sources: {sorted(known)})"
        )
    check_crosswalk(crosswalk)
    return crosswalk
