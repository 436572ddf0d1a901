"""Reading raw survey files: finding them, decoding them, splitting them into records.

Text files (CSV, TSV, fixed-width) are decoded here, not by pandas, so that an undecodable
byte is reported with its line and byte offset, and so that each record's fields can be
counted. A field the record does not reach (a CSV row with fewer fields than the header, a
fixed-width record shorter than a field's byte range) is *absent*: missing in the frame,
unlike an empty field (``""``). Whole-file checks run while reading:

- an empty or header-only file is an :class:`IncompleteInputError`;
- a text file must end in a newline (``completeness.require_final_newline``): a file cut
  inside its last record (「179458」 cut to 「179」) cannot be told from a complete one
  otherwise;
- the last record must have every field: a shorter one is a cut file, not a bad row.

Absent fields of other records are quarantined row by row by :mod:`spillover.ingest`.
"""

from __future__ import annotations

import csv
import glob as globlib
import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from python_calamine import CalamineError

from spillover.config import Config, Source
from spillover.deliveries import year_files
from spillover.errors import SpilloverError

#: pandas' Excel reader: calamine (Rust) read 16 survey workbooks (demo and national) in 0.7 s
#: against openpyxl's 4.5 s, with the same text in every cell (dates, formulas, merged cells),
#: and reads the legacy ``.xls`` format too.
EXCEL_ENGINE = "calamine"
#: What a workbook that cannot be read raises (besides OSError, ValueError, KeyError).
EXCEL_READ_ERRORS = (CalamineError, zipfile.BadZipFile)

#: Formats read as text by this module (the others are read by pandas).
TEXT_FORMATS = frozenset({"csv", "tsv", "fwf", "boj_tankan"})
#: Encodings tried, in order, to suggest the right one after a decode error.
ENCODING_CANDIDATES = ("utf-8", "cp932", "euc_jp")


class IngestError(SpilloverError, RuntimeError):
    """A source is missing, unreadable, mis-mapped or has too many bad rows."""


class IncompleteInputError(IngestError):
    """An input is not whole: empty, header-only, cut mid-record, or missing years/rows."""


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes (recorded in the manifest)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_bytes(path: Path) -> bytes:
    """A raw file's bytes; an unreadable file is an :class:`IngestError` naming it."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise IngestError(f"{path}: cannot read: {exc.strerror or exc}") from None


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
        matches = year_files(source, config, year)
        if not matches:
            concrete = pattern.format(year=year, survey_year=year + source.survey_year_offset)
            raise IngestError(
                f"source {source.name!r}: no file for year {year} (looked for {concrete})"
            )
        pairs.extend((year, Path(match)) for match in matches)
    return pairs


# ---------------------------------------------------------------- decoding


def _encoding_hint(data: bytes, exc: UnicodeDecodeError, key: str) -> str:
    """What to do about a decode error: the encoding that works, or why none does."""
    if exc.end >= len(data):
        return "the file ends inside a character, so it looks cut mid-record"
    for candidate in ENCODING_CANDIDATES:
        try:
            data.decode(candidate)
        except UnicodeDecodeError:
            continue
        return f"the whole file decodes as {candidate!r}: set {key}: {candidate}"
    names = ", ".join(ENCODING_CANDIDATES)
    return f"it decodes as none of {names}: a binary file, or mixed encodings?"


def decode_text(data: bytes, *, path: Path, source: Source, table: str | None = None) -> str:
    """Decode a text file's bytes; on failure name the line and byte offset of the bad byte.

    Parameters
    ----------
    data : bytes
        The whole file.
    path : Path
        The file, for messages.
    source : Source
        Its configured ``encoding`` and ``name``.
    table : str, optional
        Canonical table of the source, to name the config key in messages.

    Returns
    -------
    str
        The text, without a leading byte-order mark.

    Raises
    ------
    IngestError
        If a byte does not decode: the message gives the 1-based line, the 0-based byte
        offset in the file and in the line, the bytes, and the encoding that would work.
    """
    try:
        text = data.decode(source.encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1)
        key = f"sources.{table or '<table>'}[{source.name}].encoding"
        raise IngestError(
            f"{path}: cannot decode as {source.encoding!r} at line {line}, byte {exc.start} "
            f"(byte {column} of the line): {data[exc.start : exc.end]!r} ({exc.reason}); "
            + _encoding_hint(data, exc, key)
        ) from None
    return text.removeprefix("\ufeff")


def _check_final_newline(text: str, *, path: Path) -> None:
    """Raise :class:`IncompleteInputError` when non-empty ``text`` lacks a final newline."""
    if text and not text.endswith(("\n", "\r")):
        line = text.count("\n") + 1
        tail = text[text.rfind("\n") + 1 :][-40:]
        raise IncompleteInputError(
            f"{path}: line {line} does not end in a newline, so the file may be cut "
            f"mid-record (it ends {tail!r}); if the file is complete, end it with a newline "
            "or set completeness.require_final_newline: false"
        )


# ---------------------------------------------------------------- text formats


def _header_names(header: list[str], *, path: Path) -> list[str]:
    """Header cells, blank ones named like pandas (``Unnamed: 3``); repeats are an error."""
    names = [name if name != "" else f"Unnamed: {i}" for i, name in enumerate(header)]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise IngestError(f"{path}: the header repeats column name(s) {repeated}")
    return names


def _record_lines(text: str, *, sep: str, n_records: int) -> np.ndarray:
    """The line each data record starts on (header = line 1).

    Where every record is one line the answer is arithmetic; a quoted value spanning lines
    makes the records fewer than the lines, and then the file is scanned again.
    """
    n_lines = text.count("\n") + (0 if text.endswith("\n") else 1)
    if n_lines == n_records + 1:
        return np.arange(n_records, dtype=np.int64) + 2
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    starts, previous = [], 1
    next(reader)
    for _ in reader:
        starts.append(previous + 1)
        previous = reader.line_num
    return np.asarray(starts, dtype=np.int64)


def _read_delimited(text: str, *, path: Path, sep: str) -> tuple[pd.DataFrame, pd.Series]:
    """CSV/TSV records as text columns (absent fields missing) and each record's line."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    try:
        records = list(reader)
    except csv.Error as exc:
        raise IngestError(
            f"{path}: line {reader.line_num}: malformed {sep!r}-separated text: {exc}"
        ) from None
    if not records:
        raise IncompleteInputError(f"{path}: empty file (no header, no rows)")
    names = _header_names(records[0], path=path)
    body = records[1:]
    lines = _record_lines(text, sep=sep, n_records=len(body))
    lengths = np.fromiter(map(len, body), dtype=np.int64, count=len(body))
    long = np.flatnonzero(lengths > len(names))
    if long.size:
        raise IngestError(
            f"{path}: line {lines[long[0]]} has {lengths[long[0]]} fields but the header has "
            f"{len(names)} (an unquoted separator inside a value?)"
        )
    for i in np.flatnonzero(lengths < len(names)):
        body[i] = body[i] + [None] * (len(names) - len(body[i]))
    frame = pd.DataFrame(body, columns=names, dtype="str")
    return frame, pd.Series(lines, index=frame.index)


def _arrow_csv(data: bytes, header: list[str], *, sep: str, refuse) -> object:
    """The file read by pyarrow, every column as text and nothing read as null."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    return pa_csv.read_csv(
        io.BytesIO(data),
        parse_options=pa_csv.ParseOptions(
            delimiter=sep, ignore_empty_lines=False, invalid_row_handler=refuse
        ),
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(header, pa.string()),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
            null_values=[],
        ),
    )


def _read_delimited_fast(
    data: bytes, text: str, *, sep: str
) -> tuple[pd.DataFrame, pd.Series] | None:
    """The common case of :func:`_read_delimited` with pyarrow's CSV reader, or ``None``.

    Answers only when the result is the same as the ``csv`` module's: a header of distinct,
    non-blank names, no blank line, every record one line with exactly the header's fields.
    Anything else (a short record, a quoted line break, ...) returns ``None`` and the file
    is read by :func:`_read_delimited`, which names the line at fault.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if "\n" not in text:
        return None
    header = next(csv.reader(io.StringIO(text[: text.find("\n") + 1], newline=""), delimiter=sep))
    if "" in header or len(set(header)) < len(header):
        return None
    if b"\n\n" in data or b"\n\r\n" in data:
        return None
    refused: list[object] = []

    def refuse(row: object) -> str:
        refused.append(row)
        return "skip"

    utf8 = data if data.isascii() else text.encode("utf-8")
    try:
        table = _arrow_csv(utf8, header, sep=sep, refuse=refuse)
    except pa.ArrowInvalid:  # e.g. a line longer than a block: the csv module says what is wrong
        return None
    n_lines = text.count("\n") + (0 if text.endswith("\n") else 1)
    if refused or table.num_rows + 1 != n_lines or table.column_names != header:
        return None
    limit = csv.field_size_limit()  # the csv module refuses longer fields: let it say so
    if any((pc.max(pc.utf8_length(column)).as_py() or 0) > limit for column in table.columns):
        return None
    frame = table.to_pandas().astype("str")
    return frame, pd.Series(np.arange(len(frame), dtype=np.int64) + 2, index=frame.index)


def _split_records(data: bytes) -> tuple[list[bytes], list[int]]:
    """Lines of ``data`` (without line endings) and the byte offset where each starts."""
    body = data.split(b"\n")
    if body[-1] == b"":
        body.pop()  # the final newline ends the last record; it does not start one
    offsets = np.concatenate([[0], np.cumsum([len(line) + 1 for line in body])[:-1]])
    return [line.removesuffix(b"\r") for line in body], offsets.astype(int).tolist()


def _fixed_width_column(
    records: list[bytes], offsets: list[int], *, name: str, span: tuple[int, int], **where
) -> list[str | None]:
    """Field ``name`` of every record, stripped; ``None`` where a record ends before it.

    ``where`` holds the ``path``, the ``source`` (its encoding) and the line number of the
    first record (``first_line``), for the error raised when ``span`` cuts a character.
    """
    start, end = span
    encoding = where["source"].encoding
    values: list[str | None] = []
    for i, record in enumerate(records):
        if len(record) < end:
            values.append(None)
            continue
        try:
            values.append(record[start:end].decode(encoding).strip())
        except UnicodeDecodeError:
            raise IngestError(
                f"{where['path']}: line {where['first_line'] + i}, bytes {offsets[i] + start}–"
                f"{offsets[i] + end} ({name}): the byte range [{start}, {end}) cuts a "
                f"{encoding!r} character in two; check the source's colspecs"
            ) from None
    return values


def _read_fixed_width(data: bytes, *, path: Path, source: Source) -> tuple[pd.DataFrame, pd.Series]:
    """Fixed-width records sliced by **byte** ranges, as survey record layouts define them.

    ``colspecs`` are [start, end) byte offsets and ``names`` the raw column names; the first
    ``skip_lines`` lines (a header, if any) are skipped. Multi-byte CP932 characters are cut
    by bytes first and decoded per field, so kanji fields keep their documented width.
    """
    lines, offsets = _split_records(data)
    first = source.skip_lines
    columns = {
        name: _fixed_width_column(
            lines[first:],
            offsets[first:],
            name=name,
            span=span,
            source=source,
            path=path,
            first_line=first + 1,
        )
        for name, span in zip(source.names, source.colspecs, strict=True)
    }
    frame = pd.DataFrame(columns, dtype="str")
    return frame, pd.Series(np.arange(len(frame)) + first + 1, index=frame.index)


def _check_records(frame: pd.DataFrame, lines: pd.Series, *, path: Path) -> None:
    """Raise if a text file has no records, or if its last record lacks fields."""
    fields = frame.notna().sum(axis=1)
    records = fields[fields > 0]
    if records.empty:
        blank = f" ({len(frame)} blank lines)" if len(frame) else ""
        raise IncompleteInputError(f"{path}: header only, no data rows{blank}")
    last = records.index[-1]
    if records.iloc[-1] < frame.shape[1]:
        raise IncompleteInputError(
            f"{path}: line {lines[last]}: the last record has {records.iloc[-1]} of "
            f"{frame.shape[1]} fields; the file looks cut mid-record"
        )


def _read_text(
    path: Path, data: bytes, source: Source, *, table: str | None, require_final_newline: bool
) -> tuple[pd.DataFrame, pd.Series]:
    """Read a CSV, TSV or fixed-width file (its bytes ``data``) with the whole-file checks."""
    if not data:
        raise IncompleteInputError(f"{path}: empty file (0 bytes)")
    text = decode_text(data, path=path, source=source, table=table)
    if require_final_newline:
        _check_final_newline(text, path=path)
    if source.format == "boj_tankan":
        from spillover.boj_tankan import read_tankan

        return read_tankan(text, path=path)
    if source.format == "fwf":
        frame, lines = _read_fixed_width(data, path=path, source=source)
    else:
        sep = "\t" if source.format == "tsv" else ","
        fast = _read_delimited_fast(data, text, sep=sep)
        frame, lines = fast if fast is not None else _read_delimited(text, path=path, sep=sep)
    _check_records(frame, lines, path=path)
    return frame, lines


def _read_statistical(path: Path, data: bytes, source: Source) -> pd.DataFrame:
    """Read a Stata, SAS or SPSS file with pyreadstat, value labels applied or not.

    ``source.value_labels``: ``codes`` keeps the stored values, ``labels`` replaces each
    labelled value by its label (SAS needs the format catalog ``<stem>.sas7bcat`` beside the
    file). A non-UTF-8 ``encoding`` is passed on for files that do not state theirs.
    """
    import pyreadstat

    labels = source.value_labels == "labels"
    options: dict = {"encoding": source.encoding} if source.encoding != "utf-8" else {}
    try:
        if source.format == "stata":
            frame, _ = pyreadstat.read_dta(io.BytesIO(data), apply_value_formats=labels, **options)
        elif source.format == "spss":
            frame, _ = pyreadstat.read_sav(io.BytesIO(data), apply_value_formats=labels, **options)
        elif path.suffix.lower() == ".xpt":
            frame, _ = pyreadstat.read_xport(io.BytesIO(data), **options)
        else:
            catalog = path.with_suffix(".sas7bcat")
            if labels and not catalog.is_file():
                raise IngestError(
                    f"{path}: value_labels: labels needs the SAS format catalog {catalog.name} "
                    "beside the file (or set value_labels: codes)"
                )
            frame, _ = pyreadstat.read_sas7bdat(
                io.BytesIO(data), catalog_file=catalog if labels else None, **options
            )
    except (pyreadstat.ReadstatError, pyreadstat.PyreadstatError) as exc:
        raise IngestError(f"{path}: cannot read as {source.format}: {exc}") from None
    if labels:  # labels arrive as categoricals mixed with unlabelled codes: all as text
        for column in frame.columns[frame.dtypes == "category"]:
            frame[column] = frame[column].astype("object").map(_label_or_code)
    return frame


def _label_or_code(value: object) -> object:
    """A value label as it is; an unlabelled numeric code as text without ``.0``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return None if value != value else str(value)
    return value


def _read_binary(path: Path, data: bytes, source: Source) -> tuple[pd.DataFrame, pd.Series]:
    """Read a Parquet, Stata, SAS, SPSS or Excel file; fail when it has no rows.

    Excel rows are numbered as the sheet shows them: the header is row ``skip_lines + 1``.
    """
    fmt = source.format
    try:
        if fmt == "parquet":
            frame = pd.read_parquet(io.BytesIO(data))
        elif fmt in ("stata", "sas", "spss"):
            frame = _read_statistical(path, data, source)
        else:  # excel
            sheet = source.sheet or 0
            frame = pd.read_excel(
                io.BytesIO(data),
                sheet_name=sheet,
                dtype=str,
                skiprows=source.skip_lines,
                engine=EXCEL_ENGINE,
            )
    except ImportError as exc:
        raise IngestError(f"{path}: reading {fmt!r} needs an optional package: {exc}") from None
    except (OSError, ValueError, KeyError, pd.errors.ParserError, *EXCEL_READ_ERRORS) as exc:
        raise IngestError(f"{path}: cannot read as {fmt}: {exc}") from None
    if frame.empty:
        raise IncompleteInputError(f"{path}: no data rows (columns only)")
    first = 2 + source.skip_lines if fmt == "excel" else 1
    return frame, pd.Series(np.arange(len(frame)) + first, index=frame.index)


def read_raw(
    path: Path,
    source: Source,
    *,
    table: str | None = None,
    require_final_newline: bool = True,
    data: bytes | None = None,
) -> tuple[pd.DataFrame, pd.Series]:
    """Read one raw file as text columns; return it and the 1-based line/row of each row.

    CSV/TSV line numbers count the header as line 1, so they match what an editor shows.
    Fields a text record does not reach are missing (see the module docstring).

    Parameters
    ----------
    path : Path
        The raw file.
    source : Source
        Its format, encoding and (fixed-width) layout.
    table : str, optional
        Canonical table of the source, to name config keys in messages.
    require_final_newline : bool, default True
        ``completeness.require_final_newline``: a text file must end in a newline.
    data : bytes, optional
        The file's bytes when the caller has read them already (to hash them): the file is
        then not read again.

    Raises
    ------
    IncompleteInputError
        If the file is empty or header-only, lacks its final newline, or its last record
        lacks fields.
    IngestError
        If it cannot be read or decoded (the message gives the line and byte offset).
    """
    if data is None:
        data = read_bytes(path)
    if source.format == "meti_shipments":
        from spillover.meti_shipments import EXCEL_SUFFIXES, read_shipments

        excel = path.suffix.lower() in EXCEL_SUFFIXES
        text = None if excel else decode_text(data, path=path, source=source, table=table)
        return read_shipments(data, text, path=path)
    if source.format in TEXT_FORMATS:
        return _read_text(
            path, data, source, table=table, require_final_newline=require_final_newline
        )
    return _read_binary(path, data, source)


@dataclass
class RawFile:
    """One raw file read for a canonical table: its rows as text columns and their lines."""

    table: str
    source: Source
    year: int | None
    path: Path
    frame: pd.DataFrame
    lines: pd.Series
    #: SHA-256 of the file's bytes.
    sha256: str = ""

    @property
    def rows(self) -> int:
        """Rows read (data records, the header not counted)."""
        return len(self.frame)
