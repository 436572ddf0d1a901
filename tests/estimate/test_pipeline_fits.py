import numpy as np
import pandas as pd
import pytest

from spillover.estimate import EstimationError, fit_specs
from spillover.specs import ModelSpec


def _fit(panel, spec):
    """The spec's estimates from the pipeline's call, indexed by term."""
    spec = spec.expand()[0]
    return fit_specs({spec.family: panel}, [spec])[spec.id]


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
    table = _fit(panel, spec).estimates.set_index("term")
    assert table["coef"].to_numpy() == pytest.approx(
        _within_ols(panel, "exports", list(spec.regressors)), rel=1e-8
    )
    for term, truth in {"opr": 25.0, "external_demand": 15.0, "shipments": 0.05}.items():
        assert table.loc[term, "ci_low"] < truth < table.loc[term, "ci_high"]
    assert table["nobs"].iloc[0] == 960 and table["n_entities"].iloc[0] == 120


def test_cluster_choices_change_standard_errors_not_coefficients():
    panel = _panel()
    entity = _fit(panel, ModelSpec(id="e")).estimates
    robust = _fit(panel, ModelSpec(id="r", vcov={"type": "hetero"})).estimates
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
    fitted = _fit(panel, ModelSpec(id="d", regressors=["opr"]))
    coef = fitted.estimates["coef"].iloc[0]
    out = fitted.decomposition.set_index("term")
    # Δopr: 1, 1, 0, 2 -> mean 1.0 ; Δexports: 4, 4, 0, 6 -> mean 3.5
    assert out.at["opr", "mean_yearly_change"] == pytest.approx(1.0)
    assert out.at["opr", "contribution"] == pytest.approx(coef)
    assert out.at["opr", "share"] == pytest.approx(coef / 3.5)
    assert out.at["(other)", "contribution"] == pytest.approx(3.5 - coef)
    assert out["unit"].iloc[0] == "million yen per year"


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
    panel = _panel()
    panel["opr"] = panel.groupby("centre_id")["opr"].transform("first")  # constant per centre
    with pytest.raises(EstimationError, match=r"models\[b\]: \['opr'\] collinear"):
        _fit(panel, ModelSpec(id="b"))


def test_unlinked_entities_are_their_own_firm_clusters():
    panel = _panel().assign(firm_id=None)
    by_entity = _fit(panel, ModelSpec(id="e")).estimates
    firm_spec = ModelSpec(id="f", vcov={"type": "cluster", "by": ["firm"]})
    by_firm = _fit(panel, firm_spec).estimates
    assert by_firm["se"].to_numpy() == pytest.approx(by_entity["se"].to_numpy())
