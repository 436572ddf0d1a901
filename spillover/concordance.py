"""Code concordances and value recoding: letter-prefixed codes, classification revisions.

A concordance is a CSV file whose leading ``#`` lines say where it comes from, then a header
with ``from`` and ``to`` and, optionally, ``valid_from`` and ``valid_to`` (inclusive run
years; blank = open) and descriptive columns (``from_name``, ``to_name``, …). A code may
appear more than once only with validity ranges that do not overlap, so that a code means
one thing in a year. The package ships the concordances of :data:`SHIPPED` (in
``spillover/concordances``); a config names them without ``.csv``, or gives a path.

:func:`recode_column` applies a source's ``recode`` entry (:class:`~spillover.config.Recode`)
to one raw column: extract, map, concordance — and says row by row why a value was refused.
"""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pandas as pd

from spillover.config import Config, Recode
from spillover.errors import SpilloverError
from spillover.parsing import code_text

#: Folder of the concordances shipped with the package.
SHIPPED_DIR = Path(__file__).parent / "concordances"


class ConcordanceError(SpilloverError, ValueError):
    """A concordance file is missing or malformed; the message names the file and line."""


def shipped() -> list[str]:
    """Names of the shipped concordances (file names without ``.csv``), sorted."""
    return sorted(path.stem for path in SHIPPED_DIR.glob("*.csv"))


@dataclass(frozen=True)
class Concordance:
    """One concordance: its rows (``from``, ``to``, ``valid_from``, ``valid_to``, ``line``)."""

    name: str
    path: Path
    #: the ``#`` lines at the top of the file, without the ``#``
    provenance: tuple[str, ...]
    rows: pd.DataFrame
    sha256: str

    @property
    def dated(self) -> bool:
        """Whether some row is valid only in some years."""
        return bool(self.rows["valid_from"].notna().any() or self.rows["valid_to"].notna().any())

    def lookup(self, codes: pd.Series, year: int | None) -> pd.Series:
        """The ``to`` code of each code valid in ``year`` (any year when None); else missing."""
        rows = self.rows
        if year is not None:
            rows = rows[
                (rows["valid_from"].isna() | (rows["valid_from"] <= year))
                & (rows["valid_to"].isna() | (rows["valid_to"] >= year))
            ]
        table = rows.drop_duplicates("from").set_index("from")["to"]
        return codes.map(table).astype("str")


def concordance_path(reference: str, config: Config | None = None) -> Path:
    """The file a ``concordance`` reference names: a shipped name, or a path.

    Raises
    ------
    ConcordanceError
        If the reference is neither a shipped name nor an existing file.
    """
    if "/" not in reference and not reference.endswith(".csv"):
        path = SHIPPED_DIR / f"{reference}.csv"
        if not path.is_file():
            raise ConcordanceError(
                f"no shipped concordance {reference!r}; shipped: {', '.join(shipped())} "
                "(or give a path to a CSV file)"
            )
        return path
    path = config.resolve(reference) if config is not None else Path(reference)
    if not path.is_file():
        raise ConcordanceError(f"concordance file {path} does not exist")
    return path


def _year_column(frame: pd.DataFrame, column: str, *, path: Path) -> pd.Series:
    """A ``valid_from``/``valid_to`` column as nullable years; a non-year names its line."""
    if column not in frame:
        return pd.Series(pd.NA, index=frame.index, dtype="Int64")
    text = frame[column].fillna("").str.strip()
    bad = (text != "") & ~text.str.fullmatch(r"[0-9]{4}")
    if bad.any():
        at = bad.to_numpy().nonzero()[0][0]
        raise ConcordanceError(
            f"{path}: line {frame['line'].iloc[at]}: {column} {text.iloc[at]!r} is not a year "
            "(four ASCII digits)"
        )
    return pd.to_numeric(text.where(text != "")).astype("Int64")


def _check_one_meaning(rows: pd.DataFrame, *, path: Path) -> None:
    """Raise when a ``from`` code has two rows whose validity ranges overlap."""
    low = rows["valid_from"].fillna(0).astype("int64")
    high = rows["valid_to"].fillna(9999).astype("int64")
    for code, positions in rows.groupby("from", sort=False).indices.items():
        if len(positions) < 2:
            continue
        spans = sorted(zip(low.iloc[positions], high.iloc[positions], positions, strict=True))
        for (first, end, _), (start, _, at) in zip(spans, spans[1:], strict=False):
            if start <= end:
                year = max(first, start)
                when = f"in {year}" if year else "in every year (no valid_from/valid_to)"
                raise ConcordanceError(
                    f"{path}: line {rows['line'].iloc[at]}: code {code!r} already has a row "
                    f"valid {when}: a code may map to one code per year (set valid_from/valid_to)"
                )


def _records(text: str, *, path: Path) -> tuple[tuple[str, ...], pd.DataFrame]:
    """The ``#`` lines and the CSV rows with their line numbers (blank lines skipped)."""
    lines = text.splitlines()
    comments = 0
    while comments < len(lines) and lines[comments].startswith("#"):
        comments += 1
    numbered = [(n, line) for n, line in enumerate(lines, start=1) if n > comments and line.strip()]
    if not numbered:
        raise ConcordanceError(f"{path}: no header after the comment lines")
    rows = list(csv.reader(line for _, line in numbered))
    header = [cell.strip() for cell in rows[0]]
    missing = [column for column in ("from", "to") if column not in header]
    if missing:
        raise ConcordanceError(
            f"{path}: line {numbered[0][0]}: the header lacks {missing} (it has {header}); a "
            "concordance needs from,to[,valid_from,valid_to]"
        )
    width = len(header)
    for (number, _), row in zip(numbered[1:], rows[1:], strict=True):
        if len(row) != width:
            raise ConcordanceError(
                f"{path}: line {number}: {len(row)} fields, the header has {width}"
            )
    frame = pd.DataFrame(rows[1:], columns=header, dtype="str")
    frame["line"] = [number for number, _ in numbered[1:]]
    provenance = tuple(line.lstrip("#").strip() for line in lines[:comments])
    return provenance, frame


@cache
def _load(path: Path, mtime_ns: int) -> Concordance:
    """Read and check one concordance file (cached by path and modification time)."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConcordanceError(f"{path}: line {line}: not UTF-8 ({exc.reason})") from None
    provenance, frame = _records(text, path=path)
    for column in ("from", "to"):
        frame[column] = frame[column].str.strip()
        empty = frame[column] == ""
        if empty.any():
            at = empty.to_numpy().nonzero()[0][0]
            raise ConcordanceError(f"{path}: line {frame['line'].iloc[at]}: empty {column!r} code")
    rows = pd.DataFrame(
        {
            "from": frame["from"],
            "to": frame["to"],
            "valid_from": _year_column(frame, "valid_from", path=path),
            "valid_to": _year_column(frame, "valid_to", path=path),
            "line": frame["line"],
        }
    )
    _check_one_meaning(rows, path=path)
    return Concordance(path.stem, path, provenance, rows, hashlib.sha256(data).hexdigest())


def load_concordance(reference: str, config: Config | None = None) -> Concordance:
    """Load the concordance a config names (a shipped name or a path).

    Raises
    ------
    ConcordanceError
        If the file is missing, not UTF-8, lacks ``from``/``to``, has an empty code or a
        non-year validity, or maps one code twice in a year; the message names the line.
    """
    path = concordance_path(reference, config)
    return _load(path, path.stat().st_mtime_ns)


def recode_digests(recode: dict[str, Recode], config: Config | None = None) -> dict[str, str]:
    """SHA-256 of each concordance a ``recode`` section uses, by column (for cache keys)."""
    return {
        column: load_concordance(entry.concordance, config).sha256
        for column, entry in recode.items()
        if entry.concordance is not None
    }


def recode_column(
    raw: pd.Series, entry: Recode, *, key: str, year: int | None, config: Config | None = None
) -> tuple[pd.Series, pd.Series]:
    """Recode one raw column; return the codes and, per row, why a code was refused.

    Parameters
    ----------
    raw : pandas.Series
        The raw values (text, or numbers from binary formats).
    entry : Recode
        The source's ``recode`` entry for this column.
    key : str
        The config key of the entry (``sources.firms[kigyou].recode.industry``), for reasons.
    year : int or None
        Run year of the file: selects the concordance rows valid that year.
    config : Config, optional
        Resolves a concordance path relative to the config file.

    Returns
    -------
    codes : pandas.Series
        Recoded text (missing where the raw value is missing or refused).
    reasons : pandas.Series
        A reason where a value was refused (no match of ``extract``; not in ``map`` nor in
        the concordance), else missing.
    """
    text = code_text(raw)
    reasons = pd.Series(None, index=raw.index, dtype=object)
    if entry.extract is not None:
        extracted = text.str.extract(re.compile(entry.extract), expand=False)
        if isinstance(extracted, pd.DataFrame):
            extracted = extracted.iloc[:, 0]
        failed = text.notna() & extracted.isna()
        reasons[failed] = text[failed].map(
            lambda value: f"{value!r} does not match {key}.extract {entry.extract!r}"
        )
        text = extracted.astype("str").where(~failed)
    if not entry.map and entry.concordance is None:
        return text, reasons
    codes = text.map(entry.map).astype("str")
    if entry.concordance is not None:
        concordance = load_concordance(entry.concordance, config)
        if year is None and concordance.dated:
            raise ConcordanceError(
                f"{key}.concordance: {concordance.path} maps codes by year (valid_from/"
                "valid_to), but the source's files have no year: list the source's `years`"
            )
        rest = codes.isna() & text.notna()
        codes[rest] = concordance.lookup(text[rest], year)
        where = f"concordance {concordance.name!r}" + (f" for {year}" if year else "")
    else:
        where = f"{key}.map"
    unmatched = codes.isna() & text.notna()
    if entry.unmatched == "keep":
        return codes.where(~unmatched, text), reasons
    reasons[unmatched] = text[unmatched].map(
        lambda value: f"code {value!r} is not in {where} ({key}; unmatched: keep keeps it)"
    )
    return codes, reasons
