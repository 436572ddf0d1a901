"""Membership rules: centres and excluded neighbours decided yearly, in the base year, or ever."""

import pandas as pd
import pytest

from spillover.config import NeighbourhoodConfig
from spillover.neighbourhoods import neighbourhood_tables
from spillover.plants import with_membership


def _plants():
    """Four plants within 2 km of each other, 2012–2015.

    C: a global firm's (centre, large) in 2012 only; L: a large firm's plant in 2013 only;
    N: always small; D: enters in 2014, a global firm's from 2015.
    """
    rows = []
    for year in (2012, 2013, 2014, 2015):
        rows += [
            ("C", year, 35.000, 137.000, year == 2012, year == 2012, 10.0),
            ("L", year, 35.005, 137.000, False, year == 2013, 20.0),
            ("N", year, 35.000, 137.005, False, False, 40.0),
        ]
        if year >= 2014:
            rows.append(("D", year, 35.005, 137.005, year == 2015, year == 2015, 80.0))
    plants = pd.DataFrame(
        rows,
        columns=["establishment_id", "year", "lat", "lon", "is_centre", "large_firm", "exports"],
    )
    return plants.assign(employees=1, shipments=plants["exports"] * 2, export_method="direct_share")


def _ids(frame, flag, year):
    return set(frame.loc[frame[flag] & (frame["year"] == year), "establishment_id"])


def test_flags_under_each_rule():
    plants = _plants()
    yearly = with_membership(plants, "yearly")
    assert yearly is plants
    base = with_membership(plants, "base_year")
    assert all(_ids(base, "is_centre", y) == {"C"} for y in range(2012, 2016))
    assert all(_ids(base, "large_firm", y) == {"C"} for y in range(2012, 2016))
    ever = with_membership(plants, "ever")
    assert _ids(ever, "is_centre", 2013) == {"C"} and _ids(ever, "is_centre", 2014) == {"C", "D"}
    assert _ids(ever, "large_firm", 2012) == {"C", "L"}
    assert _ids(ever, "large_firm", 2015) == {"C", "L", "D"}


def test_sums_under_each_membership_by_hand():
    settings = NeighbourhoodConfig(radii_km=[2.0])
    yearly, _, others = neighbourhood_tables(_plants(), settings, ["base_year", "ever"])
    assert yearly.set_index(["centre_id", "year"])["exports"].to_dict() == {
        ("C", 2012): 20.0 + 40.0,
        ("D", 2015): 10.0 + 20.0 + 40.0,  # C and L are small in 2015
    }
    cells = others.set_index(["membership", "centre_id", "year"])["exports"].to_dict()
    assert cells == {
        # base year: C a centre (and excluded) every year; L small in its first year, so
        # never excluded; D small and no centre in 2014, its first year: a neighbour
        ("base_year", "C", 2012): 60.0,
        ("base_year", "C", 2013): 60.0,
        ("base_year", "C", 2014): 140.0,
        ("base_year", "C", 2015): 140.0,
        # ever: C and D centres whenever they exist, L excluded in every year
        ("ever", "C", 2012): 40.0,
        ("ever", "C", 2013): 40.0,
        ("ever", "C", 2014): 40.0,
        ("ever", "C", 2015): 40.0,
        ("ever", "D", 2014): 40.0,
        ("ever", "D", 2015): 40.0,
    }


def test_no_other_rule_gives_an_empty_table_with_the_membership_column():
    _, _, others = neighbourhood_tables(_plants(), NeighbourhoodConfig(radii_km=[2.0]))
    assert others.empty and "membership" in others.columns


@pytest.mark.parametrize("rule", ["base_year", "ever"])
def test_a_membership_spec_is_fitted_on_its_own_rows(rule):
    from spillover.estimate import spec_rows
    from spillover.specs import ModelSpec

    panel = pd.DataFrame(
        {
            "radius_km": 5.0,
            "centre_id": ["a", "a", "a", "a"],
            "year": [2012, 2013, 2012, 2013],
            "membership": ["yearly", "yearly", rule, rule],
            "exports": [1.0, 2.0, 3.0, 4.0],
        }
    )
    spec = ModelSpec(id="m", sample={"membership": rule})
    assert spec_rows(panel, spec)["exports"].tolist() == [3.0, 4.0]
    assert spec_rows(panel, ModelSpec(id="y"))["exports"].tolist() == [1.0, 2.0]
