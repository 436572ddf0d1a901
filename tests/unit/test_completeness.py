"""Completeness rules on their own: row counts per year, needed years and Tankan quarters."""

from pathlib import Path

import pandas as pd
import pytest

from spillover.completeness import (
    CompletenessWarning,
    check_row_counts,
    needed_periods,
    needed_years,
    warn_switched_off,
)
from spillover.config import CompletenessConfig, ConfigError, Source, parse_config
from spillover.demo.world import WorldParams, demo_config
from spillover.rawfiles import IncompleteInputError, RawFile


def _file(source: str, year: int | None, rows: int) -> RawFile:
    frame = pd.DataFrame({"x": ["1"] * rows}, dtype="str")
    path = Path(f"raw/{source}_{year}.csv")
    spec = Source(name=source, path=str(path), columns={"x": "establishment_id"})
    return RawFile("establishments", spec, year, path, frame, pd.Series(range(2, rows + 2)))


def test_the_previous_year_is_the_latest_year_read_before_it():
    files = [_file("kogyo", 2012, 100), _file("kogyo", 2014, 79)]  # no 2013 in the sources
    with pytest.raises(IncompleteInputError) as caught:
        check_row_counts("establishments", files, CompletenessConfig())
    assert str(caught.value).startswith(
        "raw/kogyo_2014.csv: 79 rows for 2014, 79.0% of 2012's 100 "
        "(completeness.min_share_of_previous_year = 0.8)"
    )


def test_exactly_the_minimum_share_passes_and_growth_never_fails():
    check_row_counts(
        "establishments",
        [_file("kogyo", 2012, 100), _file("kogyo", 2013, 80), _file("kogyo", 2014, 500)],
        CompletenessConfig(),
    )


def test_the_first_year_and_undated_files_have_nothing_to_compare_with():
    check_row_counts(
        "establishments", [_file("kogyo", 2012, 1), _file("ratios", None, 1)], CompletenessConfig()
    )


def test_rows_of_a_year_add_up_over_its_files_and_the_lowest_share_applies():
    files = [
        _file("kogyo", 2012, 100),
        _file("kogyo", 2013, 40),
        _file("census", 2013, 30),  # 70 rows in 2013
    ]
    strict = CompletenessConfig(sources={"kogyo": {"min_share_of_previous_year": 0.9}})
    with pytest.raises(IncompleteInputError) as caught:
        check_row_counts("establishments", files, strict)
    assert str(caught.value).startswith(
        "raw/kogyo_2013.csv, raw/census_2013.csv: 70 rows for 2013, 70.0% of 2012's 100 "
        "(completeness.min_share_of_previous_year = 0.8)"
    )
    lenient = CompletenessConfig(sources={"census": {"min_share_of_previous_year": 0.7}})
    check_row_counts("establishments", files, lenient)


def test_a_source_switched_off_skips_its_years():
    files = [_file("kogyo", 2012, 100), _file("census", 2013, 10)]
    config = CompletenessConfig(sources={"census": {"min_share_of_previous_year": "off"}})
    check_row_counts("establishments", files, config)
    with pytest.warns(CompletenessWarning) as caught:
        warn_switched_off(config)
    assert [str(w.message) for w in caught if w.category is CompletenessWarning] == [
        "completeness rules switched off by the config: "
        "completeness.sources.census.min_share_of_previous_year"
    ]


def test_expected_rows_replace_the_share_for_that_year_only():
    files = [_file("kogyo", 2012, 100), _file("kogyo", 2013, 10), _file("kogyo", 2014, 7)]
    config = CompletenessConfig(sources={"kogyo": {"expected_rows": {2013: 10}}})
    with pytest.raises(IncompleteInputError) as caught:
        check_row_counts("establishments", files, config)
    assert str(caught.value).startswith("raw/kogyo_2014.csv: 7 rows for 2014, 70.0% of 2013's 10")


def test_expected_rows_of_a_missing_file():
    config = CompletenessConfig(sources={"kogyo": {"expected_rows": {2013: 10}}})
    with pytest.raises(IncompleteInputError) as caught:
        check_row_counts("establishments", [_file("kogyo", 2012, 10)], config)
    assert str(caught.value) == (
        "kogyo (no file): 0 rows for 2013, expected 10 "
        "(completeness.sources.kogyo.expected_rows[2013])"
    )


def test_nothing_is_switched_off_by_default(recwarn):
    warn_switched_off(CompletenessConfig())
    assert not [w for w in recwarn if issubclass(w.category, CompletenessWarning)]


def _config(**sections):
    data = demo_config(WorldParams(first_year=2014, last_year=2016))
    return parse_config({**data, **sections}, base_dir=Path("."))


def test_needed_years_follow_the_firm_year_offset_and_the_fallback():
    config = _config(definitions={"firm_year_offset": 1}, exports={"fallback": ["firm_ratio"]})
    assert needed_years(config) == {
        "establishments": [2014, 2015, 2016],
        "firms": [2015, 2016, 2017],
        "parents": [2015, 2016, 2017],
        "affiliates": [2015, 2016, 2017],
    }
    assert needed_years(_config())["export_ratios"] == [2014, 2015, 2016]


def test_needed_periods_calendar_and_fiscal():
    assert needed_periods(_config())[:5] == ["2014Q1", "2014Q2", "2014Q3", "2014Q4", "2015Q1"]
    fiscal = _config(external_demand={"aggregation": "fiscal_year"})
    assert needed_periods(fiscal)[:4] == ["2014Q2", "2014Q3", "2014Q4", "2015Q1"]
    assert needed_periods(fiscal)[-1] == "2017Q1"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "completeness.min_share_of_previous_year.constrained-float: Input should be greater"),
        (1.2, "completeness.min_share_of_previous_year.constrained-float: Input should be less"),
        ("none", "completeness.min_share_of_previous_year.literal['off']: Input should be 'off'"),
    ],
)
def test_the_share_is_validated_naming_its_key(value, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        _config(completeness={"min_share_of_previous_year": value})


def test_expected_rows_are_positive_counts():
    with pytest.raises(ConfigError, match=r"completeness\.sources\.kogyo\.expected_rows\.2015"):
        _config(completeness={"sources": {"kogyo": {"expected_rows": {2015: 0}}}})
