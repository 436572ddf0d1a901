"""Reliability suite, completeness: cut files, missing years and quarters stop the whole ingest.

Each case breaks the tiny world of :mod:`malformed_world` so that an input is incomplete and
asserts the exact :class:`~spillover.rawfiles.IncompleteInputError` (file and rule), or that
an explicit config switch lets the run through with a warning.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from malformed_world import World, build_world, lines_of, rows_of, undated_rows

from spillover.completeness import CompletenessWarning
from spillover.config import Config
from spillover.ingest import ingest_all
from spillover.rawfiles import IncompleteInputError, IngestError


@pytest.fixture
def world(tmp_path) -> World:
    return build_world(tmp_path)


def _cut(world: World, source: str, year: int, keep: int) -> Path:
    return world.write_rows(source, year, rows_of(source, year)[:keep])


def _run(config: Config) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CompletenessWarning)
        ingest_all(config)


def test_census_year_cut_at_60_percent_stops_the_run(world):
    path = _cut(world, "keizai_census", 2015, 6)
    with pytest.raises(IncompleteInputError) as caught:
        ingest_all(world.config())
    assert str(caught.value) == (
        f"{path}: 6 rows for 2015, 60.0% of 2014's 10 (completeness.min_share_of_previous_year "
        "= 0.8); if the file is complete, give the year's rows in "
        "completeness.sources.<source>.expected_rows"
    )


def test_a_source_rule_overrides_the_default_share(world):
    _cut(world, "keizai_census", 2015, 6)
    _run(
        world.config(
            completeness={"sources": {"keizai_census": {"min_share_of_previous_year": 0.5}}}
        )
    )
    path = _cut(world, "kogyo_toukei", 2016, 4)  # 4 of the census year's 6 = 66.7%
    config = world.config(
        completeness={
            "tables": {"establishments": {"min_share_of_previous_year": 0.5}},
            "sources": {"kogyo_toukei": {"min_share_of_previous_year": 0.7}},
        }
    )
    with pytest.raises(IncompleteInputError) as caught:
        ingest_all(config)
    assert str(caught.value).startswith(
        f"{path}: 4 rows for 2016, 66.7% of 2015's 6 "
        "(completeness.sources.kogyo_toukei.min_share_of_previous_year = 0.7)"
    )


def test_a_table_rule_overrides_the_default_share(world):
    path = _cut(world, "genchi_houjin", 2015, 3)  # 3 of 4 affiliates = 75%
    config = world.config(
        completeness={"tables": {"affiliates": {"min_share_of_previous_year": 0.9}}}
    )
    with pytest.raises(IncompleteInputError) as caught:
        ingest_all(config)
    assert str(caught.value).startswith(
        f"{path}: 3 rows for 2015, 75.0% of 2014's 4 "
        "(completeness.tables.affiliates.min_share_of_previous_year = 0.9)"
    )


def test_expected_rows_must_match_exactly(world):
    path = _cut(world, "keizai_census", 2015, 9)
    config = world.config(
        completeness={"sources": {"keizai_census": {"expected_rows": {2015: 10}}}}
    )
    with pytest.raises(IncompleteInputError) as caught:
        ingest_all(config)
    assert str(caught.value) == (
        f"{path}: 9 rows for 2015, expected 10 (completeness.sources.keizai_census"
        ".expected_rows[2015])"
    )


def test_expected_rows_of_a_table_count_all_its_files_of_the_year(world):
    path = world.path("kogyo_toukei", 2014)
    config = world.config(
        completeness={"tables": {"establishments": {"expected_rows": {2014: 11}}}}
    )
    with pytest.raises(IncompleteInputError) as caught:
        ingest_all(config)
    assert str(caught.value) == (
        f"{path}: 10 rows for 2014, expected 11 (completeness.tables.establishments"
        ".expected_rows[2014])"
    )


def test_expected_rows_replace_the_share_for_their_year(world):
    _cut(world, "keizai_census", 2015, 3)  # the census year (all sizes) would differ anyway
    _cut(world, "kogyo_toukei", 2016, 3)
    _run(world.config(completeness={"sources": {"keizai_census": {"expected_rows": {2015: 3}}}}))


def test_a_switched_off_share_is_announced(world):
    _cut(world, "keizai_census", 2015, 2)
    with pytest.warns(CompletenessWarning) as caught:
        ingest_all(world.config(completeness={"min_share_of_previous_year": "off"}))
    assert [str(w.message) for w in caught if w.category is CompletenessWarning] == [
        "completeness rules switched off by the config: completeness.min_share_of_previous_year"
    ]


def test_a_completeness_rule_for_an_unknown_source_is_an_error(world):
    config = world.config(completeness={"sources": {"kogyo": {"expected_rows": {2016: 1}}}})
    with pytest.raises(IngestError) as caught:
        ingest_all(config)
    assert str(caught.value) == (
        "completeness.sources.kogyo: no source is named 'kogyo' (sources: ['genchi_houjin', "
        "'honsha_kigyou', 'jsic_to_group', 'keizai_census', 'kigyou_katsudou', 'kogyo_toukei', "
        "'kougyou_export_ratios', 'tankan'])"
    )


def test_expected_rows_for_a_year_the_source_does_not_read(world):
    config = world.config(completeness={"sources": {"keizai_census": {"expected_rows": {2016: 1}}}})
    with pytest.raises(IngestError) as caught:
        ingest_all(config)
    assert str(caught.value) == (
        "completeness.sources.keizai_census.expected_rows names year(s) [2016] that source "
        "'keizai_census' does not read (its years: [2015])"
    )


def _drop_year(world: World, table: str, source: str, year: int) -> dict:
    """Sources of ``table`` with ``year`` removed from ``source``'s years (or skipped)."""

    def without(s: dict) -> dict:
        if "years" in s:
            return {**s, "years": [y for y in s["years"] if y != year]}
        return {**s, "skip_years": [*s.get("skip_years", []), year]}

    sources = {**world.data["sources"]}
    sources[table] = [without(s) if s["name"] == source else s for s in sources[table]]
    return sources


def test_a_year_no_source_lists_stops_the_run(world):
    config = world.config(sources=_drop_year(world, "establishments", "kogyo_toukei", 2014))
    with pytest.raises(IncompleteInputError) as caught:
        ingest_all(config)
    assert str(caught.value) == (
        "establishments: no rows for year(s) [2014] (2014: no source lists it); config.years "
        "2014–2016 needs every year (completeness.require_all_years)"
    )


def test_firm_surveys_need_the_years_shifted_by_the_firm_year_offset(world):
    config = world.config(definitions={"firm_year_offset": 1})
    with pytest.raises(IncompleteInputError) as caught:
        ingest_all(config)
    assert str(caught.value) == (
        "firms: no rows for year(s) [2017] (2017: no source lists it); config.years 2014–2016 "
        "+ definitions.firm_year_offset = 1 needs every year (completeness.require_all_years)"
    )


def test_affiliates_year_missing(world):
    config = world.config(sources=_drop_year(world, "affiliates", "genchi_houjin", 2016))
    with pytest.raises(IncompleteInputError, match=r"^affiliates: no rows for year\(s\) \[2016\]"):
        ingest_all(config)


def test_an_undated_file_missing_a_year(world):
    rows = [r for r in undated_rows("kougyou_export_ratios") if r["year"] != "2016"]
    world.write_rows("kougyou_export_ratios", None, rows)
    with pytest.raises(IncompleteInputError) as caught:
        ingest_all(world.config())
    assert str(caught.value) == (
        "export_ratios: no rows for year(s) [2016] (2016: sources ['kougyou_export_ratios'] gave "
        "no usable row for it); config.years 2014–2016 needs every year "
        "(completeness.require_all_years)"
    )


def test_export_ratio_years_are_needed_only_by_the_industry_ratio_fallback(world):
    rows = [r for r in undated_rows("kougyou_export_ratios") if r["year"] != "2016"]
    world.write_rows("kougyou_export_ratios", None, rows)
    _run(world.config(exports={"fallback": ["firm_ratio"]}))


def test_require_all_years_can_be_switched_off(world):
    config = world.config(
        sources=_drop_year(world, "establishments", "kogyo_toukei", 2014),
        completeness={"require_all_years": False},
    )
    with pytest.warns(CompletenessWarning, match="completeness.require_all_years"):
        result = ingest_all(config)
    assert sorted(set(result.tables["establishments"]["year"])) == [2015, 2016]


def _tankan_without(*periods: str) -> list[dict]:
    return [r for r in undated_rows("tankan") if r["period"] not in periods]


def test_a_missing_tankan_quarter_stops_the_run(world):
    path = world.write_rows("tankan", None, _tankan_without("2016年9月"))
    with pytest.raises(IncompleteInputError) as caught:
        ingest_all(world.config())
    assert str(caught.value) == (
        f"{path}: the DI series 製造業 / 大企業 lacks 1 quarter(s) ['2016Q3'], needed for the "
        "calendar years 2014–2016 (completeness.require_all_quarters)"
    )


def test_a_quarantined_tankan_row_leaves_its_quarter_missing(world):
    rows = undated_rows("tankan")
    rows[0] = {**rows[0], "di": "n/a"}
    path = world.write_rows("tankan", None, rows)
    with pytest.raises(IncompleteInputError) as caught:
        ingest_all(world.config())
    assert str(caught.value).startswith(
        f"{path}: the DI series 製造業 / 大企業 lacks 1 quarter(s) ['2014Q1']"
    )


def test_fiscal_years_need_the_next_march_survey(world):
    config = world.config(
        external_demand={**world.data["external_demand"], "aggregation": "fiscal_year"}
    )
    with pytest.raises(IncompleteInputError) as caught:
        ingest_all(config)
    assert str(caught.value).endswith(
        "lacks 1 quarter(s) ['2017Q1'], needed for the fiscal years 2014–2016 "
        "(completeness.require_all_quarters)"
    )


def test_every_industry_series_is_needed_by_centre_industry(world):
    path = world.path("tankan")
    settings = {**world.data["external_demand"], "by_centre_industry": True}
    with pytest.raises(IncompleteInputError) as caught:
        ingest_all(world.config(external_demand=settings))
    assert str(caught.value) == (
        f"{path}: no DI rows for industry '輸送用機械' and size class '大企業' (external_demand); "
        "the file has industries ['製造業'] and size classes ['大企業']"
    )


def test_an_unknown_size_class_is_named(world):
    settings = {**world.data["external_demand"], "size_class": "中小企業"}
    with pytest.raises(
        IncompleteInputError, match=r"no DI rows for industry '製造業' and size class '中小企業'"
    ):
        ingest_all(world.config(external_demand=settings))


def test_require_all_quarters_can_be_switched_off(world):
    world.write_rows("tankan", None, _tankan_without("2016年9月"))
    with pytest.warns(CompletenessWarning, match="completeness.require_all_quarters"):
        ingest_all(world.config(completeness={"require_all_quarters": False}))


def test_a_header_only_affiliates_year_stops_the_run_before_any_opr(world):
    path = world.write("genchi_houjin", 2015, lines_of("genchi_houjin")[0])
    with pytest.raises(IncompleteInputError) as caught:
        ingest_all(world.config())
    assert str(caught.value) == f"{path}: header only, no data rows"
