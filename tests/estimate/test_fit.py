"""``spillover.estimate.fit`` end to end: terms, sample filters, engines, pyfixest agreement."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from spillover.estimate import EstimationError, fit
from spillover.estimate.decompose import OTHER, decomposition
from spillover.estimate.sample import estimation_sample, term_values
from spillover.specs import ModelSpec, parse_term

pyfixest = pytest.importorskip("pyfixest")


def random_panel(seed: int, entities: int = 60, years=range(2012, 2020)) -> pd.DataFrame:
    """An unbalanced panel with entity, year, firm and pref effects and two regressors."""
    rng = np.random.default_rng(seed)
    rows = pd.DataFrame(
        [(e, y) for e in range(entities) for y in years if rng.random() > 0.15],
        columns=["entity", "year"],
    )
    firm = rng.integers(0, 12, entities)
    pref = rng.integers(0, 5, entities)
    rows["firm"] = firm[rows["entity"]]
    rows["pref"] = pref[rows["entity"]]
    rows["lat"] = 35 + rng.normal(0, 0.1, entities)[rows["entity"]]
    rows["lon"] = 137 + rng.normal(0, 0.1, entities)[rows["entity"]]
    n = len(rows)
    alpha = rng.normal(0, 2, entities)[rows["entity"]]
    gamma = rng.normal(0, 1, 8)[rows["year"] - 2012]
    rows["x1"] = rng.normal(0, 1, n) + 0.5 * alpha
    rows["x2"] = rng.gamma(2.0, 1.0, n) + 0.3 * gamma
    rows["w"] = rng.uniform(0.5, 2.0, n)
    rows["y"] = 1.5 * rows["x1"] - 0.7 * rows["x2"] + alpha + gamma + rng.normal(0, 1, n)
    return rows


def _pyfixest(panel: pd.DataFrame, formula: str, vcov, **options) -> pd.DataFrame:
    """The tidy table of pyfixest (indexed by coefficient), demeaned to a tight tolerance."""
    from pyfixest.demeaners import MapDemeaner

    demeaner = MapDemeaner(fixef_tol=1e-14)
    return pyfixest.feols(formula, data=panel, vcov=vcov, demeaner=demeaner, **options).tidy()


@pytest.mark.parametrize(
    ("fe", "vcov", "pyfixest_vcov"),
    [
        (["entity"], {"type": "cluster", "by": ["entity"]}, {"CRV1": "entity"}),
        (["entity", "year"], {"type": "cluster", "by": ["firm"]}, {"CRV1": "firm"}),
        (["entity", "pref^year"], {"type": "hetero"}, "hetero"),
        (
            ["entity", "year"],
            {"type": "cluster", "by": ["entity", "year"]},
            {"CRV1": "entity+year"},
        ),
    ],
)
def test_fit_equals_pyfixest_feols(fe, vcov, pyfixest_vcov):
    panel = random_panel(1)
    spec = {"id": "s", "dependent": "y", "regressors": ["x1", "x2"], "fe": fe, "vcov": vcov}
    ours = fit(panel, spec).set_index("term")
    data = panel.assign(pref_year=panel["pref"].astype(str) + "_" + panel["year"].astype(str))
    absorbed = " + ".join(f.replace("pref^year", "pref_year") for f in fe)
    theirs = _pyfixest(data, f"y ~ x1 + x2 | {absorbed}", pyfixest_vcov)
    np.testing.assert_allclose(ours["coef"], theirs["Estimate"], rtol=1e-10)
    np.testing.assert_allclose(ours["se"], theirs["Std. Error"], rtol=1e-8)
    np.testing.assert_allclose(ours["p"], theirs["Pr(>|t|)"], rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(ours["ci_low"], theirs["2.5%"], rtol=1e-8)


def test_weighted_fit_equals_pyfixest_with_weights():
    panel = random_panel(2)
    spec = {
        "id": "w",
        "dependent": "y",
        "regressors": ["x1", "x2"],
        "fe": ["entity", "year"],
        "sample": {"weights": "w"},
        "vcov": {"type": "cluster", "by": ["entity"]},
    }
    ours = fit(panel, spec).set_index("term")
    theirs = _pyfixest(panel, "y ~ x1 + x2 | entity + year", {"CRV1": "entity"}, weights="w")
    np.testing.assert_allclose(ours["coef"], theirs["Estimate"], rtol=1e-10)
    np.testing.assert_allclose(ours["se"], theirs["Std. Error"], rtol=1e-8)


def test_the_linearmodels_engine_agrees_with_ours():
    panel = random_panel(3)
    spec = {
        "id": "e",
        "dependent": "y",
        "regressors": ["x1", "log(x2)"],
        "fe": ["entity", "pref^year"],
        "sample": {"weights": "w"},
        "vcov": {"type": "cluster", "by": ["firm"]},
    }
    ours = fit(panel, spec)
    reference = fit(panel, {**spec, "engine": "linearmodels"})
    np.testing.assert_allclose(ours["coef"], reference["coef"], rtol=1e-10)
    np.testing.assert_allclose(ours["se"], reference["se"], rtol=1e-8)


def test_terms_on_a_hand_checkable_panel():
    # entity a has 2012, 2013, 2015 (a gap); entity b has 2012, 2013
    panel = pd.DataFrame(
        {
            "entity": ["a", "a", "a", "b", "b"],
            "year": [2012, 2013, 2015, 2012, 2013],
            "x": [1.0, 3.0, 0.0, np.e, 2.0],
        }
    )

    def values(text):
        return term_values(panel, parse_term(text)).tolist()

    assert values("d(x)")[:2] == [pytest.approx(np.nan, nan_ok=True), 2.0]
    assert np.isnan(values("d(x)")[2])  # 2014 is missing: no difference across the gap
    assert values("L1(x)")[1] == 1.0 and values("L1(x)")[4] == np.e
    assert values("F1(x)")[0] == 3.0 and np.isnan(values("F1(x)")[1])
    logs = values("log(x)")
    assert logs[0] == 0.0 and np.isnan(logs[2]) and logs[3] == pytest.approx(1.0)
    assert values("log1p(x)")[2] == 0.0
    assert values("d(log(x))")[1] == pytest.approx(np.log(3.0))
    assert values("L2(x)")[2] == 3.0  # 2015 reads 2013


def test_sample_filters_count_every_row_left_out():
    panel = random_panel(4, entities=40)
    panel["n_neighbours"] = np.where(panel["entity"] % 7 == 0, 0, 4)
    panel["exports_imputed"] = np.where(panel["entity"] % 11 == 1, 5.0, 0.0)
    panel.loc[panel.index[:3], "x2"] = np.nan
    spec = ModelSpec.model_validate(
        {
            "id": "f",
            "dependent": "y",
            "regressors": ["x1", "x2"],
            "sample": {
                "years": [2013, 2019],
                "min_neighbours": 1,
                "direct_exports_only": True,
                "balanced": True,
            },
        }
    )
    sample = estimation_sample(panel, spec)
    frame = sample.frame
    assert len(frame) + sum(sample.dropped.values()) == len(panel)
    assert sample.dropped["outside_years"] == (panel["year"] == 2012).sum()
    assert frame["year"].min() >= 2013
    assert (frame.groupby("entity")["year"].size() == frame["year"].nunique()).all()
    kept = panel.merge(frame[["entity", "year"]], on=["entity", "year"])
    assert (kept["n_neighbours"] >= 1).all() and (kept["exports_imputed"] == 0).all()
    assert set(sample.dropped) == {
        "outside_years",
        "few_neighbours",
        "imputed_exports",
        "incomplete",
        "unbalanced",
        "singletons",
    }


def test_singletons_are_dropped_and_counted_like_pyfixest():
    panel = random_panel(5)
    lonely = panel.groupby("entity").head(1).iloc[:4].assign(entity=lambda f: f["entity"] + 1000)
    panel = pd.concat([panel, lonely], ignore_index=True)
    spec = {"id": "s", "dependent": "y", "regressors": ["x1"], "fe": ["entity", "year"]}
    ours = fit(panel, spec)
    assert ours["singletons_dropped"].iloc[0] == 4
    theirs = pyfixest.feols("y ~ x1 | entity + year", data=panel, vcov={"CRV1": "entity"})
    assert ours["nobs"].iloc[0] == theirs._N


def test_errors_name_the_spec_and_what_is_wrong():
    panel = random_panel(6)
    with pytest.raises(EstimationError, match=r"models\[u\]: the panel has no column\(s\) \['z'\]"):
        fit(panel, {"id": "u", "dependent": "y", "regressors": ["z"]})
    constant = panel.assign(c=panel["entity"] * 2.0)
    with pytest.raises(EstimationError, match=r"models\[c\]: \['c'\] collinear with the fixed"):
        fit(constant, {"id": "c", "dependent": "y", "regressors": ["x1", "c"]})
    grid = {"id": "g", "dependent": "y", "regressors": ["x1"], "radius_km": [1, 2]}
    with pytest.raises(EstimationError, match="expand the grid"):
        fit(panel, grid)


def test_decomposition_bars_add_up_to_the_dependent_change():
    panel = random_panel(7)
    spec = ModelSpec.model_validate(
        {"id": "d", "dependent": "log(x2)", "regressors": ["x1", "y"], "fe": ["entity"]}
    )
    sample = estimation_sample(panel, spec)
    estimates = fit(panel, spec)
    parts = decomposition(sample, spec, estimates).set_index("term")
    dependent_change = parts["dependent_mean_yearly_change"].iloc[0]
    assert parts["contribution"].sum() == pytest.approx(dependent_change)
    frame = sample.frame.sort_values(["entity", "year"])
    diffs = frame.groupby("entity")[["x1", "log(x2)"]].diff()[
        frame.groupby("entity")["year"].diff() == 1
    ]
    assert parts.at["x1", "mean_yearly_change"] == pytest.approx(diffs["x1"].mean())
    assert parts.at["x1", "dependent_mean_yearly_change"] == pytest.approx(diffs["log(x2)"].mean())
    coef = estimates.set_index("term").loc["x1"]
    change = parts.at["x1", "mean_yearly_change"]
    expected = sorted([coef["ci_low"] * change, coef["ci_high"] * change])
    assert [parts.at["x1", "ci_low"], parts.at["x1", "ci_high"]] == pytest.approx(expected)
    assert np.isnan(parts.at[OTHER, "ci_low"])
    assert parts["unit"].iloc[0] == "log points per year"


def test_wild_bootstrap_through_fit_reports_crv1_se_and_bootstrap_p():
    panel = random_panel(8)
    base = {"id": "b", "dependent": "y", "regressors": ["x1", "x2"], "fe": ["entity", "year"]}
    wild = {"type": "wild_bootstrap", "cluster": "firm", "reps": 9999, "seed": 1}
    boot = fit(panel, {**base, "vcov": wild})
    again = fit(panel, {**base, "vcov": {**wild, "seed": 2}})  # 2^12 ≤ reps: enumerated
    crv1 = fit(panel, {**base, "vcov": {"type": "cluster", "by": ["firm"]}})
    np.testing.assert_allclose(boot["se"], crv1["se"], rtol=1e-12)
    assert boot["p"].tolist() == again["p"].tolist()
    assert boot["n_clusters"].iloc[0] == 12 and boot["df_inference"].isna().all()
    assert (boot["ci_low"] < boot["coef"]).all() and (boot["coef"] < boot["ci_high"]).all()
    assert (
        boot["vcov"].iloc[0]
        == "wild_bootstrap(cluster=firm, reps=9999, weights=rademacher, seed=1)"
    )
