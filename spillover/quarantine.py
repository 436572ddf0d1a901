"""Quarantine: rows a stage rejects, with where they came from and why.

Every stage writes its rejected rows in one layout (:data:`COLUMNS`): the stage, the
canonical table, the source name, the raw file and line (header = line 1), the column at
fault, a reason in words and the raw values as JSON. A stage fails instead when the share
of rows it rejects exceeds ``quarantine.max_share`` (:func:`check_share`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import pandas as pd

from spillover.errors import SpilloverError
from spillover.schemas import TABLES

#: Columns of every quarantine frame and file.
COLUMNS = ["stage", "table", "source", "file", "line", "column", "reason", "raw"]


class QuarantineLimitError(SpilloverError):
    """A stage rejected more rows than ``quarantine.max_share`` allows."""


def records(
    *,
    stage: str,
    table: str,
    source: str | Iterable[str],
    file: str | Iterable[str],
    line: Iterable[int],
    column: str | Iterable[str],
    reason: str | Iterable[str],
    raw: list[dict],
) -> pd.DataFrame:
    """Quarantine rows in :data:`COLUMNS` order; ``raw`` is one dict per row, kept as JSON."""
    return pd.DataFrame(
        {
            "stage": stage,
            "table": table,
            "source": source,
            "file": file,
            "line": line,
            "column": column,
            "reason": reason,
            "raw": [json.dumps(record, ensure_ascii=False, default=str) for record in raw],
        },
        columns=COLUMNS,
    )


#: Provenance columns ingest keeps on mapped rows until the tables are combined.
MAPPED_PROVENANCE = ["source_file", "source_line", "source_name"]


def mapped_rows(
    rows: pd.DataFrame, *, table: str, column: str, reasons: Iterable[str]
) -> pd.DataFrame:
    """Quarantine records for mapped ingest ``rows`` (with :data:`MAPPED_PROVENANCE`).

    For rows refused once a table's files are combined (a duplicate key, a firm id no
    crosswalk row names); ``raw`` keeps the row's canonical values.
    """
    return records(
        stage="ingest",
        table=table,
        source=rows["source_name"].to_numpy(),
        file=rows["source_file"].to_numpy(),
        line=rows["source_line"].to_numpy(),
        column=column,
        reason=reasons,
        raw=rows.drop(columns=MAPPED_PROVENANCE).to_dict("records"),
    )


def rejected_rows(
    rows: pd.DataFrame, *, stage: str, table: str, column: str, reasons: pd.Series
) -> pd.DataFrame:
    """Quarantine records for canonical ``rows`` that a stage after ingest rejects.

    ``rows`` carry provenance (``source_file``, ``source_line``); ``raw`` keeps the row's key
    columns and address.
    """
    keys = [c for c in (*TABLES[table].key, "address") if c in rows.columns]
    return records(
        stage=stage,
        table=table,
        source="",
        file=rows["source_file"].to_numpy(),
        line=rows["source_line"].astype("Int64").to_numpy(),
        column=column,
        reason=reasons.loc[rows.index].to_numpy(),
        raw=rows[keys].astype(object).where(rows[keys].notna(), None).to_dict("records"),
    )


def empty() -> pd.DataFrame:
    """A quarantine frame with no rows."""
    return pd.DataFrame(columns=COLUMNS)


def concat(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Stack quarantine frames, skipping empty ones (an empty frame when all are)."""
    non_empty = [frame for frame in frames if len(frame)]
    return pd.concat(non_empty, ignore_index=True) if non_empty else empty()


def check_share(rejected: int, rows: int, max_share: float, *, subject: str, hint: str) -> None:
    """Raise :class:`QuarantineLimitError` when ``rejected / rows`` exceeds ``max_share``.

    ``subject`` names what was read (a file, a stage); ``hint`` ends the message with what
    to check.
    """
    share = rejected / rows if rows else 0.0
    if share > max_share:
        raise QuarantineLimitError(
            f"{subject}: {rejected} of {rows} rows ({share:.1%}) rejected, above "
            f"quarantine.max_share = {max_share:.1%}{hint}"
        )
