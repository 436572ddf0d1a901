"""Wild cluster bootstrap (WCR): exact against a brute-force refit, reproducible, good size.

The oracle refits every bootstrap sample by least squares on the regressors *and* the
fixed-effect dummies (no demeaning), with the null imposed on the bootstrap DGP, so it checks
the fast formulas, the re-projection of fixed effects not nested in the clusters, weights
and the p-value convention (share of |t*| ≥ |t|, ties counted) in one go.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from spillover.estimate import bootstrap, vcov
from spillover.estimate.errors import EstimationError
from spillover.estimate.vcov import Sample


def _panel(
    seed: int,
    n_firms: int = 8,
    per_firm: int = 3,
    years: int = 5,
    *,
    weighted: bool = False,
    switchers: int = 0,
) -> dict[str, np.ndarray]:
    """An unbalanced panel: entities in firms, two regressors, firm-correlated errors.

    ``switchers`` entities move to the next firm in their last two years, so that the
    entity fixed effect is not nested in the firm clusters.
    """
    rng = np.random.default_rng(seed)
    entity, year = np.divmod(np.arange(n_firms * per_firm * years), years)
    keep = rng.random(entity.size) > 0.2
    entity, year = entity[keep], year[keep]
    firm = entity // per_firm
    moved = (entity % per_firm == 0) & (entity // per_firm < switchers) & (year >= years - 2)
    firm = np.where(moved, (firm + 1) % n_firms, firm)
    n = entity.size
    x = rng.normal(size=(n, 2)) + rng.normal(size=(n_firms, 2))[firm]
    noise = rng.normal(size=n) * (1.0 + firm % 3)
    y = x @ np.array([0.3, -0.2]) + rng.normal(size=n_firms)[firm] + noise + 0.3 * year
    w = rng.uniform(0.5, 2.0, n) if weighted else np.ones(n)
    return {"x": x, "y": y, "entity": entity, "year": year, "firm": firm, "w": w}


def _dummies(panel: dict, fe: list[str]) -> np.ndarray:
    columns = [np.eye(panel[f].max() + 1)[panel[f]] for f in fe]
    return np.column_stack(columns) if columns else np.zeros((panel["y"].size, 0))


def _sample(panel: dict, fe: list[str]) -> Sample:
    """The √w-scaled sample with the fixed effects projected out exactly (least squares)."""
    root = np.sqrt(panel["w"])
    dummies = _dummies(panel, fe) * root[:, None]

    def within(v: np.ndarray) -> np.ndarray:
        return v - dummies @ np.linalg.lstsq(dummies, v, rcond=None)[0] if fe else v

    x, y = within(panel["x"] * root[:, None]), within(panel["y"] * root)
    beta = np.linalg.lstsq(x, y, rcond=None)[0]
    return Sample(
        X=x,
        y=y,
        resid=y - x @ beta,
        entity=panel["entity"],
        time=panel["year"],
        fe={f: panel[f] for f in fe},
    )


def _brute_force(panel, fe, clusters, j, null, weights):
    """Observed t and (reps,) bootstrap t by refitting y* on [x, dummies] for every draw.

    ``weights`` is (G, reps). Restricted fit: y − null·x_j on the other columns; y* =
    restricted fit + restricted residual × v_g; t* = (β*_j − null) / CRV0 se of the refit.
    """
    root = np.sqrt(panel["w"])
    design = np.column_stack([panel["x"], _dummies(panel, fe)]) * root[:, None]
    y = panel["y"] * root
    influence = np.linalg.pinv(design)[j]
    groups = clusters.max() + 1

    def se(resid: np.ndarray) -> np.ndarray:
        sums = np.stack([np.bincount(clusters, influence * r, groups) for r in resid.T])
        return np.sqrt(np.sum(sums**2, axis=1))

    theta = np.linalg.lstsq(design, y, rcond=None)[0]
    t = (theta[j] - null) / se((y - design @ theta)[:, None])[0]
    others = np.delete(design, j, axis=1)
    shifted = y - null * design[:, j]
    restricted = shifted - others @ np.linalg.lstsq(others, shifted, rcond=None)[0]
    y_star = (y - restricted)[:, None] + restricted[:, None] * weights[clusters]
    theta_star = np.linalg.lstsq(design, y_star, rcond=None)[0]
    return t, (theta_star[j] - null) / se(y_star - design @ theta_star)


def _p(t: float, t_star: np.ndarray) -> float:
    """The documented convention: share of t*² ≥ (1 − 1e-10) t²."""
    return float(np.mean(t_star**2 >= (1 - bootstrap.TIE_RTOL) * t**2))


CONFIGS = {
    # fixed effects, bootstrap clusters, weighted, switchers
    "entity+year, firm clusters": (["entity", "year"], "firm", False, 0),
    "weighted": (["entity", "year"], "firm", True, 0),
    "entity only (nested)": (["entity"], "firm", False, 0),
    "year clusters (entity not nested)": (["entity", "year"], "year", False, 0),
    "entities switching firm": (["entity", "year"], "firm", True, 2),
    "three fixed effects": (["entity", "year", "firm"], "year", True, 1),
    "no fixed effects": ([], "firm", False, 0),
}


@pytest.mark.parametrize("config", CONFIGS)
def test_full_enumeration_equals_brute_force(config):
    fe, cluster, weighted, switchers = CONFIGS[config]
    panel = _panel(1, weighted=weighted, switchers=switchers)
    clusters = panel[cluster]
    aux = bootstrap.auxiliary_weights(clusters.max() + 1, 9999, "rademacher", seed=3)
    assert aux.enumerated and aux.reps == 2 ** (clusters.max() + 1)
    dists = bootstrap.null_distributions(
        _sample(panel, fe), clusters, aux, row_weights=panel["w"] if weighted else None
    )
    for j, dist in enumerate(dists):
        for null in (0.0, dist.coef + 2.5 * dist.se):
            t, t_star = _brute_force(panel, fe, clusters, j, null, aux.matrix())
            assert dist.t_stat(null) == pytest.approx(t, rel=1e-10)
            np.testing.assert_allclose(dist.t_star(null), t_star, rtol=1e-9, atol=1e-9)
            assert abs(dist.p_value(null) - _p(t, t_star)) <= 1e-12


def test_enumeration_rule_and_seed_irrelevance():
    panel = _panel(2, n_firms=10)
    sample = _sample(panel, ["entity", "year"])
    first = bootstrap.wild_cluster(sample, panel["firm"], reps=9999, seed=1)
    second = bootstrap.wild_cluster(sample, panel["firm"], reps=9999, seed=2)
    assert first.enumerated and first.reps_used == 1024 and first.n_clusters == 10
    for name in ("coef", "se", "t", "p", "ci_low", "ci_high"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))
    assert bootstrap.auxiliary_weights(12, 9999).enumerated
    assert bootstrap.auxiliary_weights(12, 9999).reps == 4096
    assert not bootstrap.auxiliary_weights(14, 9999).enumerated
    assert not bootstrap.auxiliary_weights(10, 9999, "webb").enumerated
    signs = bootstrap.auxiliary_weights(3, 8).matrix()
    assert {tuple(column) for column in signs.T} == {
        (a, b, c) for a in (-1, 1) for b in (-1, 1) for c in (-1, 1)
    }


@pytest.mark.parametrize("kind", bootstrap.WEIGHT_KINDS)
def test_random_draws_equal_reimplementation(kind):
    panel = _panel(3, n_firms=30, per_firm=2, years=4, weighted=True, switchers=3)
    fe = ["entity", "year"]
    aux = bootstrap.auxiliary_weights(30, 199, kind, seed=11)
    assert not aux.enumerated and aux.matrix().shape == (30, 199)
    dists = bootstrap.null_distributions(
        _sample(panel, fe), panel["firm"], aux, row_weights=panel["w"]
    )
    for j, dist in enumerate(dists):
        t, t_star = _brute_force(panel, fe, panel["firm"], j, 0.0, aux.matrix())
        np.testing.assert_allclose(dist.t_star(0.0), t_star, rtol=1e-9, atol=1e-9)
        assert abs(dist.p_value(0.0) - _p(t, t_star)) <= 1e-12


def test_weight_distributions():
    rademacher = bootstrap.auxiliary_weights(40, 500, "rademacher", seed=5).matrix()
    webb = bootstrap.auxiliary_weights(40, 500, "webb", seed=5).matrix()
    assert set(np.unique(rademacher)) == {-1.0, 1.0}
    np.testing.assert_allclose(
        np.unique(webb), [-(1.5**0.5), -1, -(0.5**0.5), 0.5**0.5, 1, 1.5**0.5]
    )
    for values in (bootstrap._VALUES["rademacher"], bootstrap._VALUES["webb"]):
        assert np.mean(values) == pytest.approx(0.0, abs=1e-15)
        assert np.mean(values**2) == pytest.approx(1.0, rel=1e-15)


def test_random_draws_reproducible_by_seed():
    panel = _panel(4, n_firms=30, per_firm=2, years=4)
    sample = _sample(panel, ["entity", "year"])
    runs = [bootstrap.wild_cluster(sample, panel["firm"], 1999, "webb", seed) for seed in (7, 7, 8)]
    assert not runs[0].enumerated and runs[0].reps_used == 1999
    np.testing.assert_array_equal(runs[0].p, runs[1].p)
    np.testing.assert_array_equal(runs[0].ci_low, runs[1].ci_low)
    draws = [bootstrap.auxiliary_weights(30, 1999, "webb", seed).codes for seed in (7, 8)]
    assert np.mean(draws[0] != draws[1]) > 0.8
    assert not np.array_equal(runs[0].p, runs[2].p)
    np.testing.assert_allclose(runs[0].p, runs[2].p, atol=0.04)


def test_interval_inverts_the_brute_force_test():
    fe = ["entity", "year"]
    panel = _panel(5, n_firms=10)
    result = bootstrap.wild_cluster(_sample(panel, fe), panel["firm"], reps=9999, seed=0)
    for j in range(2):
        low, high = result.ci_low[j], result.ci_high[j]
        assert low < result.coef[j] < high
        for bound, side in ((low, -1.0), (high, 1.0)):
            step = 1e-6 * result.se[j]
            inside = _p(*_brute_force(panel, fe, panel["firm"], j, bound - side * step, _all(10)))
            outside = _p(*_brute_force(panel, fe, panel["firm"], j, bound + side * step, _all(10)))
            assert inside > 0.05 >= outside


def _all(n_clusters: int) -> np.ndarray:
    return bootstrap.auxiliary_weights(n_clusters, 2**n_clusters).matrix()


def test_five_clusters_give_an_unbounded_interval():
    # 32 sign vectors: v = ±1 always reproduce |t|, so p ≥ 2/32 > 0.05 for every null value
    panel = _panel(6, n_firms=5)
    result = bootstrap.wild_cluster(_sample(panel, ["entity"]), panel["firm"], reps=999)
    assert result.reps_used == 32
    assert np.all(result.p >= 2 / 32)
    assert np.all(result.ci_low == -np.inf) and np.all(result.ci_high == np.inf)


def test_reported_se_is_analytic_and_ssc_leaves_p_alone():
    panel = _panel(7, n_firms=9)
    sample = _sample(panel, ["entity", "year"])
    fixest = bootstrap.wild_cluster(sample, panel["firm"], reps=999, ssc="fixest")
    none = bootstrap.wild_cluster(sample, panel["firm"], reps=999, ssc="none")
    crv1 = vcov.cluster(sample, {"firm": panel["firm"]}, "fixest").matrix
    np.testing.assert_allclose(fixest.se, np.sqrt(np.diag(crv1)), rtol=1e-12)
    np.testing.assert_allclose(fixest.t, fixest.coef / fixest.se, rtol=1e-12)
    assert np.all(none.se < fixest.se)
    np.testing.assert_array_equal(fixest.p, none.p)
    # the same bounds up to rounding: the correction cancels in the inversion, but not to
    # the last bit on every BLAS kernel (1 ulp apart on AVX2)
    np.testing.assert_allclose(fixest.ci_low, none.ci_low, rtol=1e-12)
    np.testing.assert_allclose(fixest.ci_high, none.ci_high, rtol=1e-12)
    assert fixest.df_inference is None


def _size_draw(seed: int) -> tuple[float, float]:
    """Bootstrap and CRV1 t(G − 1) p-values of a true H0 with 6 unequal, unequal-variance firms."""
    rng = np.random.default_rng(seed)
    sizes, years = (3, 5, 8, 12, 20, 30), 4
    firm_of = np.repeat(np.arange(6), sizes)
    entity, year = np.divmod(np.arange(firm_of.size * years), years)
    firm = firm_of[entity]
    x = rng.normal(size=(6, years))[firm, year] + 0.5 * rng.normal(size=entity.size)
    y = rng.normal(size=(6, years))[firm, year] * (1 + firm) / 2 + rng.normal(size=entity.size)
    panel = {"x": x[:, None], "y": y, "entity": entity, "year": year, "w": np.ones(y.size)}
    result = bootstrap.wild_cluster(_sample(panel, ["entity", "year"]), firm, reps=999)
    return result.p[0], 2 * stats.t(5).sf(abs(result.t[0]))


def test_size_with_six_heterogeneous_clusters():
    p = np.array([_size_draw(seed) for seed in range(100)])
    bootstrap_rate, analytic_rate = np.mean(p <= 0.05, axis=0)
    assert 0.01 <= bootstrap_rate <= 0.10
    assert analytic_rate >= 0.10
    assert abs(bootstrap_rate - 0.05) < abs(analytic_rate - 0.05)


def test_bad_input():
    panel = _panel(8)
    sample = _sample(panel, ["entity"])
    with pytest.raises(EstimationError, match="one cluster"):
        bootstrap.wild_cluster(sample, np.zeros(panel["y"].size))
    with pytest.raises(EstimationError, match="cluster labels"):
        bootstrap.wild_cluster(sample, panel["firm"][1:])
    with pytest.raises(EstimationError, match="weights 'mammen'"):
        bootstrap.wild_cluster(sample, panel["firm"], weights="mammen")
