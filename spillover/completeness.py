"""Input completeness: every table has its years, every year its rows, the DI its quarters.

Ingest runs these checks after reading the files and before the ingest stage returns, so a
failing check stops the run before any stage writes anything, with an
:class:`~spillover.rawfiles.IncompleteInputError` that names the file(s) and the rule
(its config key under ``completeness``). Whole-file checks (empty, header-only, cut
mid-record) run while reading, in :mod:`spillover.rawfiles`.

Rules (``completeness`` in the config, :class:`~spillover.config.CompletenessConfig`):

- **row counts**: the data rows of a year (all files of a table for that year) must be at
  least ``min_share_of_previous_year`` of the rows of the previous year read for that table,
  or exactly ``expected_rows[year]`` where a table or source rule gives it. Applies to
  sources with ``years``; an undated file's years are checked by the next rule.
- **years** (``require_all_years``): every year of ``config.years`` has rows in
  establishments, every year + ``definitions.firm_year_offset`` in firms, parents and
  affiliates, and, when ``exports.fallback`` uses ``industry_ratio``, in export_ratios.
- **quarters** (``require_all_quarters``): the Tankan DI series used as external demand has
  all four quarters of every year of ``config.years`` (calendar or fiscal, per
  ``external_demand.aggregation``).
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from typing import TYPE_CHECKING

import pandas as pd

from spillover.config import CompletenessConfig, Config
from spillover.options import INDUSTRY_RATIO
from spillover.panel import periods_of_year
from spillover.rawfiles import IncompleteInputError, IngestError, RawFile

if TYPE_CHECKING:
    from spillover.ingest_cache import MappedFile

#: Tables read by surveys with a firm-survey (fiscal) year.
FIRM_SURVEY_TABLES = ("firms", "parents", "affiliates")


class CompletenessWarning(UserWarning):
    """A completeness rule is switched off in the config, so its check did not run."""


def _names(paths) -> str:
    return ", ".join(str(path) for path in dict.fromkeys(paths))


def check_rule_names(config: Config) -> None:
    """Fail when ``completeness.sources`` names no configured source, or a year it does not read.

    Raises
    ------
    IngestError
        Naming the key and the configured sources or years.
    """
    known = {source.name: source for sources in config.sources.values() for source in sources}
    for name, rule in config.completeness.sources.items():
        if name not in known:
            raise IngestError(
                f"completeness.sources.{name}: no source is named {name!r} "
                f"(sources: {sorted(known)})"
            )
        years = known[name].years
        stray = sorted(set(rule.expected_rows) - set(years or []))
        if stray:
            raise IngestError(
                f"completeness.sources.{name}.expected_rows names year(s) {stray} that source "
                f"{name!r} does not read (its years: {years})"
            )


def warn_switched_off(config: CompletenessConfig) -> None:
    """Warn once per run for every completeness rule the config switches off."""
    off = [
        key
        for key, value in (
            ("completeness.require_final_newline", config.require_final_newline),
            ("completeness.require_all_years", config.require_all_years),
            ("completeness.require_all_quarters", config.require_all_quarters),
        )
        if value is False
    ]
    shares = {"completeness.min_share_of_previous_year": config.min_share_of_previous_year}
    for level, rules in (("tables", config.tables), ("sources", config.sources)):
        for name, rule in rules.items():
            key = f"completeness.{level}.{name}.min_share_of_previous_year"
            shares[key] = rule.min_share_of_previous_year
    off += [key for key, value in shares.items() if value == "off"]
    if off:
        warnings.warn(
            f"completeness rules switched off by the config: {', '.join(off)}",
            CompletenessWarning,
            stacklevel=2,
        )


def _min_share(config: CompletenessConfig, table: str, source: str) -> tuple[float | str, str]:
    """The share rule of a source's files and its config key (source, table, then default)."""
    for key, rule in (
        (f"completeness.sources.{source}", config.sources.get(source)),
        (f"completeness.tables.{table}", config.tables.get(table)),
    ):
        if rule is not None and rule.min_share_of_previous_year is not None:
            return rule.min_share_of_previous_year, f"{key}.min_share_of_previous_year"
    return config.min_share_of_previous_year, "completeness.min_share_of_previous_year"


def _check_expected(
    rows: dict[tuple[str, int], int],
    paths: dict[tuple[str, int], list],
    *,
    rules: dict,
    prefix: str,
) -> set[int]:
    """Compare row counts with ``expected_rows`` of each rule; return the years covered.

    ``rows`` and ``paths`` are keyed by (rule name, year); ``rules`` maps rule names (source
    or table names) to their :class:`~spillover.config.CompletenessRule`.
    """
    covered = set()
    for name, rule in rules.items():
        for year, expected in rule.expected_rows.items():
            covered.add(year)
            found = rows.get((name, year), 0)
            if found != expected:
                where = _names(paths.get((name, year), [])) or f"{name} (no file)"
                raise IncompleteInputError(
                    f"{where}: {found:,} rows for {year}, expected {expected:,} "
                    f"({prefix}.{name}.expected_rows[{year}])"
                )
    return covered


def check_row_counts(
    table: str, files: list[RawFile | MappedFile], config: CompletenessConfig
) -> None:
    """Check the rows read per year of ``table`` against the completeness rules.

    Parameters
    ----------
    table : str
        Canonical table name.
    files : list of RawFile or MappedFile
        Every file read for the table, with its ``rows`` read (undated files are ignored).
    config : CompletenessConfig
        The rules: ``min_share_of_previous_year`` and ``expected_rows`` per table/source.

    Raises
    ------
    IncompleteInputError
        Naming the file(s) of the year, its rows, the comparison and the config key.
    """
    dated = [f for f in files if f.year is not None]
    by_source, by_year = defaultdict(int), defaultdict(int)
    paths, shares = defaultdict(list), defaultdict(list)
    for f in dated:
        by_source[f.source.name, f.year] += f.rows
        by_year[f.year] += f.rows
        paths[f.source.name, f.year].append(f.path)
        paths[table, f.year].append(f.path)
        shares[f.year].append(_min_share(config, table, f.source.name))
    names = {f.source.name for f in dated}
    sources = {name: rule for name, rule in config.sources.items() if name in names}
    covered = _check_expected(by_source, paths, rules=sources, prefix="completeness.sources")
    tables = {table: config.tables[table]} if table in config.tables else {}
    totals = {(table, year): n for year, n in by_year.items()}
    covered |= _check_expected(totals, paths, rules=tables, prefix="completeness.tables")
    years = sorted(by_year)
    for previous, year in zip(years, years[1:], strict=False):
        rules = [rule for rule in shares[year] if rule[0] != "off"]
        if year in covered or len(rules) < len(shares[year]):
            continue
        share, key = min(rules)
        if by_year[year] < share * by_year[previous]:
            raise IncompleteInputError(
                f"{_names(paths[table, year])}: {by_year[year]:,} rows for {year}, "
                f"{by_year[year] / by_year[previous]:.1%} of {previous}'s "
                f"{by_year[previous]:,} ({key} = {share}); if the file is complete, give the "
                f"year's rows in completeness.sources.<source>.expected_rows"
            )


def needed_years(config: Config) -> dict[str, list[int]]:
    """The years each table must have rows for, by the rule ``require_all_years``."""
    years = config.year_list
    offset = config.definitions.firm_year_offset
    needed = {"establishments": years}
    needed |= {table: [year + offset for year in years] for table in FIRM_SURVEY_TABLES}
    if INDUSTRY_RATIO in config.exports.fallback:
        needed["export_ratios"] = years
    return needed


def _year_origin(table: str, year: int, config: Config) -> str:
    """Where the rows of ``year`` of ``table`` should have come from (for messages)."""
    listing = [
        source.name
        for source in config.sources.get(table, [])
        if source.years is None or year in source.years
    ]
    return f"sources {listing} gave no usable row for it" if listing else "no source lists it"


def check_years(tables: dict[str, pd.DataFrame], config: Config) -> None:
    """Every table of :func:`needed_years` has rows for every year it needs.

    Raises
    ------
    IncompleteInputError
        Naming the table, the missing year(s), where their rows should come from, and the
        rule; the firm surveys also name ``definitions.firm_year_offset``.
    """
    if not config.completeness.require_all_years:
        return
    first, last = config.years
    offset = config.definitions.firm_year_offset
    for table, years in needed_years(config).items():
        present = set(tables[table]["year"].dropna().astype(int))
        missing = [year for year in years if year not in present]
        if not missing:
            continue
        shift = ""
        if table in FIRM_SURVEY_TABLES and offset:
            shift = f" + definitions.firm_year_offset = {offset}"
        origin = _year_origin(table, missing[0], config)
        raise IncompleteInputError(
            f"{table}: no rows for year(s) {missing} ({missing[0]}: {origin}); config.years "
            f"{first}–{last}{shift} needs every year (completeness.require_all_years)"
        )


def needed_periods(config: Config) -> list[str]:
    """Tankan periods (``2015Q2``) averaged into the years of ``config.years``."""
    aggregation = config.external_demand.aggregation
    return [p for year in config.year_list for p in periods_of_year(year, aggregation)]


def check_quarters(di: pd.DataFrame, config: Config) -> None:
    """The external-demand DI series has every quarter its years need.

    The series are ``external_demand.industry`` (and, with ``by_centre_industry``, every
    industry of ``industry_map``) at ``external_demand.size_class``.

    Raises
    ------
    IncompleteInputError
        Naming the DI file(s), the series and the missing periods.
    """
    if not config.completeness.require_all_quarters:
        return
    settings = config.external_demand
    industries = [settings.industry]
    if settings.by_centre_industry:
        industries += sorted(set(settings.industry_map.values()) - {settings.industry})
    files = _names(di["source_file"])
    needed = needed_periods(config)
    for industry in industries:
        series = di[(di["industry"] == industry) & (di["size_class"] == settings.size_class)]
        if series.empty:
            raise IncompleteInputError(
                f"{files}: no DI rows for industry {industry!r} and size class "
                f"{settings.size_class!r} (external_demand); the file has industries "
                f"{sorted(di['industry'].unique())} and size classes "
                f"{sorted(di['size_class'].unique())}"
            )
        missing = [period for period in needed if period not in set(series["period"])]
        if missing:
            first, last = config.years
            raise IncompleteInputError(
                f"{files}: the DI series {industry} / {settings.size_class} lacks "
                f"{len(missing)} quarter(s) {missing[:8]}{' …' if len(missing) > 8 else ''}, "
                f"needed for the {settings.aggregation.replace('_', ' ')}s {first}–{last} "
                "(completeness.require_all_quarters)"
            )
