import numpy as np
import pandas as pd
import pytest

from spillover.config import DisclosureConfig, ModelSpec
from spillover.disclosure import suppress_neighbourhoods
from spillover.estimate import decomposition, estimates_table, fit_spec


def _panel(seed=0, n=120, years=8, beta=(25.0, 15.0, 0.05)):
    rng = np.random.default_rng(seed)
    centre = np.repeat([f"c{i}" for i in range(n)], years)
    year = np.tile(np.arange(2012, 2012 + years), n)
    alpha = np.repeat(rng.normal(1000, 300, n), years)
    opr = np.repeat(rng.uniform(5, 40, n), years) + np.tile(np.arange(years), n) * np.repeat(
        rng.normal(1, 0.5, n), years
    )
    di = np.tile(rng.normal(-5, 5, years), n)
    shipments = rng.lognormal(8, 0.3, n * years)
    exports = (
        alpha + beta[0] * opr + beta[1] * di + beta[2] * shipments + rng.normal(0, 20, n * years)
    )
    return pd.DataFrame(
        {
            "radius_km": 5.0,
            "centre_id": centre,
            "year": year,
            "firm_id": centre,
            "pref_code": 23,
            "exports": exports,
            "opr": opr,
            "external_demand": di,
            "shipments": shipments,
        }
    )


def _within_ols(frame, y, xs):
    """A second implementation: demean by centre, then least squares with numpy."""
    demeaned = frame[[y, *xs]] - frame.groupby("centre_id")[[y, *xs]].transform("mean")
    coef, *_ = np.linalg.lstsq(demeaned[xs].to_numpy(), demeaned[y].to_numpy(), rcond=None)
    return coef


def test_panelols_matches_within_ols_and_recovers_planted_coefficients():
    panel = _panel()
    spec = ModelSpec(id="b")
    result = fit_spec(panel, spec)
    table = estimates_table(spec, result).set_index("term")
    assert table["coef"].to_numpy() == pytest.approx(
        _within_ols(panel, "exports", list(spec.regressors)), rel=1e-8
    )
    for term, truth in {"opr": 25.0, "external_demand": 15.0, "shipments": 0.05}.items():
        assert table.loc[term, "ci_low"] < truth < table.loc[term, "ci_high"]
    assert table["nobs"].iloc[0] == 960 and table["n_entities"].iloc[0] == 120


def test_cluster_choices_change_standard_errors_not_coefficients():
    panel = _panel()
    entity = estimates_table(ModelSpec(id="e"), fit_spec(panel, ModelSpec(id="e")))
    robust_spec = ModelSpec(id="r", cov_type="robust")
    robust = estimates_table(robust_spec, fit_spec(panel, robust_spec))
    assert entity["coef"].to_numpy() == pytest.approx(robust["coef"].to_numpy())
    assert not np.allclose(entity["se"], robust["se"])


def test_decomposition_by_hand():
    panel = pd.DataFrame(
        {
            "radius_km": 5.0,
            "centre_id": ["a", "a", "a", "b", "b", "b"],
            "year": [2012, 2013, 2014] * 2,
            "firm_id": ["a"] * 3 + ["b"] * 3,
            "pref_code": 1,
            "exports": [10.0, 14.0, 18.0, 5.0, 5.0, 11.0],
            "opr": [1.0, 2.0, 3.0, 4.0, 4.0, 6.0],
        }
    )
    spec = ModelSpec(id="d", regressors=["opr"])
    estimates = pd.DataFrame({"term": ["opr"], "coef": [3.0]})
    out = decomposition(panel, spec, estimates).iloc[0]
    # Δopr: 1, 1, 0, 2 -> mean 1.0 ; Δexports: 4, 4, 0, 6 -> mean 3.5
    assert out["mean_yearly_change"] == pytest.approx(1.0)
    assert out["contribution"] == pytest.approx(3.0)
    assert out["share"] == pytest.approx(3.0 / 3.5)


def test_primary_and_secondary_suppression():
    cells = pd.DataFrame(
        {
            "centre_id": ["a", "a", "b", "b", "c", "c"],
            "year": 2015,
            "radius_km": [5.0, 10.0] * 3,
            "n_neighbours": [2, 9, 7, 8, 0, 4],
            "exports": [10.0, 50.0, 70.0, 75.0, 0.0, 30.0],
        }
    )
    out = suppress_neighbourhoods(cells, ["exports"], DisclosureConfig())
    # a@5: 2 plants -> primary; a@10: ring of 7 behind a suppressed cell -> published
    # b@10: ring of one plant next to a published b@5 -> secondary ; c@5 is empty -> published
    assert out["suppression"].tolist() == ["primary", "", "", "secondary", "", ""]
    assert out["exports"].isna().tolist() == [True, False, False, True, False, False]


def test_dominance_rule_suppresses_cells_held_by_few_plants():
    cells = pd.DataFrame(
        {
            "centre_id": ["a", "b"],
            "year": 2015,
            "radius_km": 5.0,
            "n_neighbours": [10, 10],
            "exports": [1.0, 2.0],
            "top_share": [0.9, 0.5],
        }
    )
    settings = DisclosureConfig(dominance_top_n=2, dominance_share=0.8)
    out = suppress_neighbourhoods(cells, ["exports"], settings, top_share_column="top_share")
    assert out["suppression"].tolist() == ["dominance", ""]
    assert out["exports"].isna().tolist() == [True, False]


def test_top_shares_by_hand():
    from spillover.config import NeighbourhoodConfig
    from spillover.neighbourhoods import top_shares

    # one centre and five plants due north, 1..5 km away (1 km ≈ 0.008993 degrees of latitude)
    step = 1 / 111.19492664455873
    plants = pd.DataFrame(
        {
            "year": 2015,
            "establishment_id": ["c", "p1", "p2", "p3", "p4", "big"],
            "lat": [35.0, 35 + step, 35 + 2 * step, 35 + 3 * step, 35 + 4.5 * step, 35 + step],
            "lon": 135.0,
            "is_centre": [True, False, False, False, False, False],
            "large_firm": [True, False, False, False, False, True],
            "shipments": [999.0, 20.0, 100.0, 30.0, 50.0, 5000.0],
            "employees": 1,
            "exports": 0.0,
            "export_method": "direct_share",
        }
    )
    shares = top_shares(plants, NeighbourhoodConfig(radii_km=[2.5, 5.0]), top_n=2)
    by_radius = shares.set_index("radius_km")["top_share"]
    # 2.5 km: p1 (20) and p2 (100) only -> 120 / 120; 5 km: (100 + 50) / 200; "big" is excluded
    assert by_radius[2.5] == pytest.approx(1.0)
    assert by_radius[5.0] == pytest.approx(0.75)


def test_secondary_suppression_compares_with_the_nearest_published_cell():
    # 5 / 7 / 10 km with 10 / 11 / 11 plants: 7 km hides a one-plant ring; 10 km has the
    # same count as 7 km, so publishing it would reveal the 7 km cell (ring of 1 vs 5 km)
    cells = pd.DataFrame(
        {
            "centre_id": "a",
            "year": 2015,
            "radius_km": [10.0, 5.0, 7.0],
            "n_neighbours": [11, 10, 11],
            "exports": [3.0, 1.0, 3.0],
        }
    )
    out = suppress_neighbourhoods(cells, ["exports"], DisclosureConfig())
    assert out.set_index("radius_km")["suppression"].to_dict() == {
        10.0: "secondary",
        5.0: "",
        7.0: "secondary",
    }


def test_public_table_keeps_no_identifying_columns():
    from spillover.disclosure import public_neighbourhoods

    cells = pd.DataFrame(
        {
            "centre_id": ["E2", "E1"],
            "year": 2015,
            "radius_km": 5.0,
            "n_neighbours": [4, 9],
            "exports": [1.0, 2.0],
            "lat": [35.0, 36.0],
            "lon": [137.0, 138.0],
            "pref_code": 23,
        }
    )
    public = public_neighbourhoods(cells, ["exports"], DisclosureConfig())
    assert list(public.columns) == [
        "radius_km",
        "year",
        "neighbourhood_no",
        "n_neighbours",
        "exports",
        "suppression",
    ]
    assert public["neighbourhood_no"].tolist() == [2, 1]


def test_external_demand_by_centre_industry():
    from spillover.config import ExternalDemandConfig
    from spillover.panel import annual_external_demand, build_panel

    di = pd.DataFrame(
        {
            "period": [f"2015Q{q}" for q in range(1, 5)] * 2 + ["2016Q1"],
            "industry": ["製造業"] * 4 + ["輸送用機械"] * 4 + ["製造業"],
            "size_class": "大企業",
            "di": [1.0, 2.0, 3.0, 6.0, -4.0, -4.0, 0.0, 0.0, 9.0],
        }
    )
    settings = ExternalDemandConfig(by_centre_industry=True, industry_map={"31": "輸送用機械"})
    demand = annual_external_demand(di, settings)
    # 2016 has one quarter only: not a complete year
    assert demand.set_index(["year", "industry"])["external_demand"].to_dict() == {
        (2015, "製造業"): 3.0,
        (2015, "輸送用機械"): -2.0,
    }
    neighbourhoods = pd.DataFrame({"radius_km": 5.0, "year": 2015, "centre_id": ["a", "b"]})
    centres = pd.DataFrame(
        {
            "year": 2015,
            "establishment_id": ["a", "b"],
            "firm_id": ["f", "g"],
            "pref_code": 23,
            "industry": ["3113", "2441"],
        }
    )
    firms = pd.DataFrame({"year": 2015, "firm_id": ["f", "g"], "opr": [10.0, 20.0]})
    panel = build_panel(neighbourhoods, centres, firms, demand, settings=settings)
    assert panel.set_index("centre_id")["external_demand"].to_dict() == {"a": -2.0, "b": 3.0}


def test_absorbed_regressor_gives_a_named_error():
    from spillover.estimate import EstimationError

    panel = _panel()
    panel["opr"] = panel.groupby("centre_id")["opr"].transform("first")  # constant per centre
    with pytest.raises(EstimationError, match=r"models\[b\]: AbsorbingEffectError"):
        fit_spec(panel, ModelSpec(id="b"))


def test_unlinked_entities_are_their_own_firm_clusters():
    panel = _panel().assign(firm_id=None)
    by_entity = estimates_table(ModelSpec(id="e"), fit_spec(panel, ModelSpec(id="e")))
    firm_spec = ModelSpec(id="f", cluster="firm")
    by_firm = estimates_table(firm_spec, fit_spec(panel, firm_spec))
    assert by_firm["se"].to_numpy() == pytest.approx(by_entity["se"].to_numpy())
