"""Firm linkage across the surveys: the crosswalk, and match rates per survey pair and year.

The surveys number firms their own way. With a ``firm_crosswalk`` source (``source,
source_id, firm_id, valid_from, valid_to``), the firm ids of every source it names are
replaced by the canonical ``firm_id`` valid in the row's year (the source's own ``year``);
sources it does not name already write canonical ids. An id without a crosswalk row:

- an establishment stays in with ``firm_id`` missing — unlinked, counted as today;
- a firm-survey row (firms, parents) or an affiliate goes to quarantine, since a firm
  nobody can name joins nothing.

Ingest links each table (:func:`link_table`) before it drops duplicate keys, so two source
ids of one firm are caught as a duplicate.

:func:`match_rates` then says, per survey pair and year, what share of one survey's firms
the other survey knows — the figures a referee asks for first.
"""

from __future__ import annotations

import pandas as pd

from spillover import quarantine
from spillover.errors import SpilloverError

#: The firm-id column of each table a crosswalk translates.
FIRM_ID_COLUMNS = {
    "establishments": "firm_id",
    "firms": "firm_id",
    "parents": "firm_id",
    "affiliates": "parent_firm_id",
}
#: (from, to) survey pairs of :func:`match_rates`: the share of ``from``'s firms ``to`` has.
PAIRS = (
    ("establishments", "firms"),
    ("establishments", "parents"),
    ("parents", "firms"),
    ("parents", "establishments"),
    ("affiliates", "parents"),
)
#: Tables whose ``year`` is a firm-survey (fiscal) year, shifted by ``firm_year_offset``.
_FIRM_SURVEYS = {"firms", "parents", "affiliates"}


#: How the quarantine reason of a firm row without a crosswalk row begins.
UNLINKED = "no firm_crosswalk row"


class CrosswalkError(SpilloverError, ValueError):
    """The crosswalk gives one source id two firms in a year; the message names both rows."""


def check_crosswalk(crosswalk: pd.DataFrame) -> None:
    """Raise when a (source, source_id) has two rows whose validity ranges overlap."""
    low = crosswalk["valid_from"].fillna(0).astype("int64")
    high = crosswalk["valid_to"].fillna(9999).astype("int64")
    spans = crosswalk.assign(low=low, high=high).sort_values(["source", "source_id", "low"])
    same = (spans["source"] == spans["source"].shift()) & (
        spans["source_id"] == spans["source_id"].shift()
    )
    clash = same & (spans["low"] <= spans["high"].shift())
    if clash.any():
        row = spans[clash].iloc[0]
        before = spans.loc[spans.index[spans.index.get_loc(row.name) - 1]]
        year = max(row["low"], before["low"])
        when = f"in {year}" if year else "from the first year"
        raise CrosswalkError(
            f"firm_crosswalk: {row['source']} id {row['source_id']!r} has two firms "
            f"{when}: {before['firm_id']!r} ({before['source_file']}:"
            f"{before['source_line']}) and {row['firm_id']!r} ({row['source_file']}:"
            f"{row['source_line']}); make valid_from/valid_to not overlap"
        )


def _translate(
    frame: pd.DataFrame, column: str, crosswalk: pd.DataFrame
) -> tuple[pd.Series, pd.Series]:
    """Canonical ids for ``frame[column]`` and whether each row's source is in the crosswalk."""
    covered = frame["source_name"].isin(set(crosswalk["source"]))
    rows = frame.loc[covered, ["source_name", column, "year"]].reset_index()
    found = rows.merge(
        crosswalk[["source", "source_id", "firm_id", "valid_from", "valid_to"]].rename(
            columns={"firm_id": "_canonical"}
        ),
        left_on=["source_name", column],
        right_on=["source", "source_id"],
        how="inner",
    )
    valid = (found["valid_from"].isna() | (found["valid_from"] <= found["year"])) & (
        found["valid_to"].isna() | (found["valid_to"] >= found["year"])
    )
    canonical = found[valid].set_index("index")["_canonical"]
    out = frame[column].where(~covered)
    out.loc[canonical.index] = canonical
    return out.astype("str"), covered


def link_table(
    table: str, frame: pd.DataFrame, crosswalk: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Replace the source firm ids of one table by canonical ones.

    Parameters
    ----------
    table : str
        A table of :data:`FIRM_ID_COLUMNS` (others are returned as they are).
    frame : pandas.DataFrame
        Its rows as mapped, with ``source_name``, ``source_file`` and ``source_line``.
    crosswalk : pandas.DataFrame
        The ``firm_crosswalk`` table, checked by :func:`check_crosswalk`.

    Returns
    -------
    linked : pandas.DataFrame
        The rows with canonical firm ids (unlinked establishments: ``firm_id`` missing).
    quarantined : pandas.DataFrame
        Firm-survey and affiliate rows whose id has no crosswalk row valid in their year.
    """
    column = FIRM_ID_COLUMNS.get(table)
    if column is None or frame.empty or crosswalk.empty:
        return frame, quarantine.empty()
    canonical, covered = _translate(frame, column, crosswalk)
    linked = frame.assign(**{column: canonical})
    if table == "establishments":
        return linked, quarantine.empty()
    unlinked = covered & canonical.isna() & frame[column].notna()
    bad = frame[unlinked]
    rejected = quarantine.mapped_rows(
        bad,
        table=table,
        column=column,
        reasons=[
            f"{UNLINKED} for {source} id {value!r} valid in {year}"
            for value, source, year in zip(
                bad[column], bad["source_name"], bad["year"], strict=True
            )
        ],
    )
    return linked[~unlinked], rejected


def linkage_summary(
    tables: dict[str, pd.DataFrame],
    rejected: pd.DataFrame,
    crosswalked_files: set[str],
    *,
    firm_year_offset: int = 0,
) -> dict:
    """What the crosswalk did per table, establishments without a firm, and match rates.

    ``crosswalked_files`` are the raw files of the sources the crosswalk names.
    """
    crosswalk: dict[str, dict[str, int]] = {}
    for table, column in FIRM_ID_COLUMNS.items():
        frame = tables.get(table)
        if frame is None or not crosswalked_files:
            continue
        covered = frame["source_file"].isin(crosswalked_files)
        refused = (rejected["table"] == table) & rejected["reason"].str.startswith(UNLINKED)
        if covered.any() or refused.any():
            crosswalk[table] = {
                "rows_linked": int((covered & frame[column].notna()).sum()),
                "rows_unlinked": int((covered & frame[column].isna()).sum() + refused.sum()),
            }
    summary: dict = {"crosswalk": crosswalk} if crosswalk else {}
    if "establishments" in tables:
        summary["establishments_by_year"] = unlinked_establishments(tables["establishments"])
    summary["match_rates"] = match_rates(tables, firm_year_offset=firm_year_offset)
    return summary


def _firm_years(table: str, frame: pd.DataFrame, offset: int) -> pd.DataFrame:
    """Distinct (accounts year, firm id) of a table; firm surveys shifted by ``offset``."""
    column = FIRM_ID_COLUMNS[table]
    years = frame["year"] - offset if table in _FIRM_SURVEYS else frame["year"]
    pairs = pd.DataFrame({"year": years, "firm_id": frame[column]}).dropna()
    return pairs.drop_duplicates()


def match_rates(tables: dict[str, pd.DataFrame], *, firm_year_offset: int = 0) -> list[dict]:
    """Share of one survey's firms found in another, per pair of :data:`PAIRS` and year.

    Years are accounts years: firm-survey years less ``firm_year_offset``. Each entry holds
    ``from``, ``to``, ``year``, ``firms`` (distinct firm ids of ``from`` that year),
    ``linked`` (of those, the ones ``to`` has that year) and ``rate`` (linked / firms).
    Establishments without a firm id are counted by :func:`unlinked_establishments`.
    """
    present = {
        table: _firm_years(table, tables[table], firm_year_offset)
        for table in FIRM_ID_COLUMNS
        if table in tables
    }
    rates = []
    for source, target in PAIRS:
        if source not in present or target not in present:
            continue
        known = present[target].assign(linked=True)
        merged = present[source].merge(known, on=["year", "firm_id"], how="left")
        counts = merged.groupby("year").agg(firms=("firm_id", "size"), linked=("linked", "count"))
        rates.extend(
            {
                "from": source,
                "to": target,
                "year": int(year),
                "firms": int(row.firms),
                "linked": int(row.linked),
                "rate": round(row.linked / row.firms, 4) if row.firms else None,
            }
            for year, row in counts.iterrows()
        )
    return rates


def unlinked_establishments(establishments: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Establishments per year, and those without a firm id (kept, as small firms' plants)."""
    by_year = establishments.groupby("year")["firm_id"]
    return {
        str(int(year)): {
            "establishments": int(group.size),
            "without_firm_id": int(group.isna().sum()),
        }
        for year, group in by_year
    }
