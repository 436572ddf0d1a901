"""Canonical tables (DESIGN.md §3) as pandera schemas, checked where raw data enter (ingest).

Each table is described once by :data:`TABLES` (column kinds, nullability, range checks and
key). :func:`schema` turns a table into a ``pandera`` schema: ingest validates every raw row
against it (bad rows go to quarantine) and :func:`validate` checks each canonical table once
more before the ingest stage writes it, raising :class:`SchemaViolation` naming the table
and columns. Later stages build derived tables and are not re-validated.
Money is million yen, ratios are percent, coordinates are WGS84/JGD2011 degrees.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pandas as pd
import pandera.pandas as pa

from spillover.errors import SpilloverError

Kind = Literal["str", "int", "float"]

#: pandas dtype per column kind (nullable integer, float with NaN, pandas string).
DTYPES: dict[Kind, str] = {"str": "str", "int": "Int64", "float": "float64"}


@dataclass(frozen=True)
class ColumnSpec:
    """One canonical column: kind, whether nulls are allowed, and value checks."""

    kind: Kind
    nullable: bool = False
    checks: tuple[pa.Check, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class TableSpec:
    """A canonical table: its columns and its key (unique per row)."""

    name: str
    columns: dict[str, ColumnSpec]
    key: tuple[str, ...]
    optional: frozenset[str] = field(default_factory=frozenset)

    @property
    def required(self) -> list[str]:
        """Columns a source must provide (mapped or constant)."""
        return [name for name in self.columns if name not in self.optional]

    def unknown_mapped(self, source) -> dict[str, list[str]]:
        """Names a source's mapping parts (columns, scale, ...) give that this table lacks."""
        parts = {
            "columns": source.columns.values(),
            "scale": source.scale,
            "constants": source.constants,
            "zero_pad": source.zero_pad,
        }
        unknown = {part: sorted(set(names) - set(self.columns)) for part, names in parts.items()}
        return {part: names for part, names in unknown.items() if names}

    def unset_required(self, source, *, year_given: bool) -> list[str]:
        """Required columns a source neither maps nor sets (``year`` may come from the file)."""
        provided = set(source.columns.values()) | set(source.constants)
        provided |= {"year"} if year_given else set()
        return [name for name in self.required if name not in provided]


_YEAR = ColumnSpec("int", checks=(pa.Check.in_range(1950, 2100),), description="year")
_PERCENT = (pa.Check.in_range(0, 100),)
_JSIC = (pa.Check.str_matches(r"^[0-9]{2,4}$"),)

# Upper bounds (inclusive) of the numeric columns. Every numeric column is bounded on both
# sides, so a non-finite value can never pass the schema. The bounds lie far above any real
# unit: only corrupt values (1e20, a 円 column read as 万円) fail, which would otherwise
# dominate every sum and estimate downstream.

#: Shipments of one establishment, million yen: 10 trillion yen. Japan's largest plants
#: ship a few trillion yen a year (all manufacturing ships about 330 trillion yen).
MAX_ESTABLISHMENT_SHIPMENTS = 1e7
#: Paid-in capital of one enterprise, million yen: 10 trillion yen. The largest capital of
#: any Japanese corporation is a few trillion yen.
MAX_CAPITAL = 1e7
#: Annual sales or direct exports of one firm or overseas affiliate, million yen: 100
#: trillion yen. The largest Japanese firm sells about 15 trillion yen a year (non-consolidated),
#: its largest overseas affiliate less; Japan's GDP is about 600 trillion yen.
MAX_FIRM_SALES = 1e8
#: Persons employed at one establishment: the largest Japanese plants employ some 10,000.
MAX_ESTABLISHMENT_EMPLOYEES = 100_000
#: Persons employed by one firm: the largest Japanese employers have a few hundred thousand.
MAX_FIRM_EMPLOYEES = 1_000_000


def _money(upper: float) -> tuple[pa.Check, ...]:
    """Money column checks: non-negative and at most ``upper`` million yen."""
    return (pa.Check.ge(0), pa.Check.le(upper, error=f"<= {upper:,.0f} million yen"))


def _headcount(upper: int) -> tuple[pa.Check, ...]:
    """Head-count column checks: non-negative and at most ``upper`` persons."""
    return (pa.Check.ge(0), pa.Check.le(upper, error=f"<= {upper:,} persons"))


TABLES: dict[str, TableSpec] = {
    "establishments": TableSpec(
        "establishments",
        {
            "year": _YEAR,
            "establishment_id": ColumnSpec("str", description="stable establishment key"),
            "firm_id": ColumnSpec("str", nullable=True, description="canonical firm key"),
            "pref_code": ColumnSpec("int", checks=(pa.Check.in_range(1, 47),)),
            "city_code": ColumnSpec(
                "str", nullable=True, checks=(pa.Check.str_matches(r"^[0-9]{5}$"),)
            ),
            "address": ColumnSpec("str", nullable=True, description="所在地 as written"),
            # Any latitude/longitude on Earth: whether it lies in Japan is the geocode stage's
            # test (spillover.geocode.territory), which then falls back to the address.
            "lat": ColumnSpec("float", nullable=True, checks=(pa.Check.in_range(-90, 90),)),
            "lon": ColumnSpec("float", nullable=True, checks=(pa.Check.in_range(-180, 180),)),
            "mesh_code": ColumnSpec(
                "str", nullable=True, checks=(pa.Check.str_matches(r"^[0-9]{4}([0-9]{2,6})?$"),)
            ),
            "industry": ColumnSpec("str", checks=_JSIC, description="JSIC code"),
            "employees": ColumnSpec("int", checks=_headcount(MAX_ESTABLISHMENT_EMPLOYEES)),
            "shipments": ColumnSpec(
                "float", checks=_money(MAX_ESTABLISHMENT_SHIPMENTS), description="million yen"
            ),
            "export_share": ColumnSpec(
                "float", nullable=True, checks=_PERCENT, description="直接輸出 share, %"
            ),
            "capital": ColumnSpec(
                "float", nullable=True, checks=_money(MAX_CAPITAL), description="million yen"
            ),
        },
        key=("year", "establishment_id"),
        optional=frozenset(
            {
                "firm_id",
                "city_code",
                "address",
                "lat",
                "lon",
                "mesh_code",
                "export_share",
                "capital",
            }
        ),
    ),
    "firms": TableSpec(
        "firms",
        {
            "year": _YEAR,
            "firm_id": ColumnSpec("str"),
            "capital": ColumnSpec("float", checks=_money(MAX_CAPITAL), description="million yen"),
            "sales": ColumnSpec("float", checks=_money(MAX_FIRM_SALES), description="million yen"),
            "exports": ColumnSpec(
                "float", nullable=True, checks=_money(MAX_FIRM_SALES), description="直接輸出額"
            ),
            "employees": ColumnSpec("int", nullable=True, checks=_headcount(MAX_FIRM_EMPLOYEES)),
            "industry": ColumnSpec("str", nullable=True, checks=_JSIC),
        },
        key=("year", "firm_id"),
        optional=frozenset({"exports", "employees", "industry"}),
    ),
    "affiliates": TableSpec(
        "affiliates",
        {
            "year": _YEAR,
            "affiliate_id": ColumnSpec("str"),
            "parent_firm_id": ColumnSpec("str"),
            "country": ColumnSpec("str", checks=(pa.Check.str_matches(r"^[A-Z]{2}$"),)),
            "industry": ColumnSpec("str", checks=_JSIC),
            "sales": ColumnSpec("float", checks=_money(MAX_FIRM_SALES), description="million yen"),
        },
        key=("year", "affiliate_id"),
    ),
    "parents": TableSpec(
        "parents",
        {
            "year": _YEAR,
            "firm_id": ColumnSpec("str"),
            "capital": ColumnSpec("float", checks=_money(MAX_CAPITAL), description="million yen"),
            "sales": ColumnSpec(
                "float",
                checks=_money(MAX_FIRM_SALES),
                description="domestic corporation, million yen",
            ),
            "industry": ColumnSpec("str", nullable=True, checks=_JSIC),
        },
        key=("year", "firm_id"),
        optional=frozenset({"industry"}),
    ),
    "export_ratios": TableSpec(
        "export_ratios",
        {
            "year": _YEAR,
            "industry_group": ColumnSpec("str"),
            "export_ratio": ColumnSpec(
                "float", checks=_PERCENT, description="percent of shipments"
            ),
        },
        key=("year", "industry_group"),
    ),
    "export_ratio_concordance": TableSpec(
        "export_ratio_concordance",
        {
            "jsic": ColumnSpec("str", checks=(pa.Check.str_matches(r"^[0-9]{2}$"),)),
            "industry_group": ColumnSpec("str"),
        },
        key=("jsic",),
    ),
    "external_demand": TableSpec(
        "external_demand",
        {
            "period": ColumnSpec("str", checks=(pa.Check.str_matches(r"^[0-9]{4}Q[1-4]$"),)),
            "industry": ColumnSpec("str"),
            "size_class": ColumnSpec("str"),
            "di": ColumnSpec("float", checks=(pa.Check.in_range(-100, 100),)),
        },
        key=("period", "industry", "size_class"),
    ),
    "firm_crosswalk": TableSpec(
        "firm_crosswalk",
        {
            "source": ColumnSpec("str", description="source name in the config"),
            "source_id": ColumnSpec("str", description="firm id as that source writes it"),
            "firm_id": ColumnSpec("str", description="canonical firm key"),
            "valid_from": ColumnSpec(
                "int",
                nullable=True,
                checks=_YEAR.checks,
                description="first year (the source's year), inclusive",
            ),
            "valid_to": ColumnSpec(
                "int", nullable=True, checks=_YEAR.checks, description="last year, inclusive"
            ),
        },
        # firm_id in the key: two firms for one id and year are left to the overlap check
        key=("source", "source_id", "valid_from", "firm_id"),
        optional=frozenset({"valid_from", "valid_to"}),
    ),
}


class SchemaViolation(SpilloverError, ValueError):
    """A canonical table does not match its schema (raised by :func:`validate`)."""


def schema(table: str) -> pa.DataFrameSchema:
    """Return the pandera schema of a canonical table (columns in contract order)."""
    spec = TABLES[table]
    return pa.DataFrameSchema(
        {
            name: pa.Column(DTYPES[col.kind], checks=list(col.checks), nullable=col.nullable)
            for name, col in spec.columns.items()
        },
        name=table,
        strict=False,  # provenance columns (source_file, source_line) ride along
        coerce=False,
    )


def empty_frame(table: str) -> pd.DataFrame:
    """An empty frame with the table's columns and dtypes."""
    spec = TABLES[table]
    return pd.DataFrame(
        {name: pd.Series(dtype=DTYPES[col.kind]) for name, col in spec.columns.items()}
    )


def validate(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Check ``frame`` against the canonical ``table`` (all failures reported at once)."""
    try:
        checked = schema(table).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        summary = cases.groupby(["column", "check"], dropna=False).size().reset_index(name="rows")
        detail = "; ".join(
            f"{row.column}: {row.check} ({row.rows} rows)" for row in summary.itertuples()
        )
        raise SchemaViolation(f"table {table!r} violates its contract: {detail}") from None
    duplicated = checked.duplicated(list(TABLES[table].key))
    if duplicated.any():
        raise SchemaViolation(
            f"table {table!r}: {int(duplicated.sum())} rows repeat the key {TABLES[table].key}"
        )
    return checked
