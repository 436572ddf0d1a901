"""Covariance estimators and small-sample rules against pyfixest, linearmodels and by hand.

Samples are demeaned here with a dense dummy regression (exact, independent of
``spillover.estimate.within``). pyfixest's formula writes its fixed effects with spaces
(``"entity + year"``): in pyfixest 0.60 a fixed effect whose name equals a cluster
variable's is matched by name, and with ``"entity+year"`` the flag can land on the wrong
column (the order of its fixed-effect columns depends on the hash seed), counting ``year``
as nested in ``entity`` clusters in some runs. With the spaces the names never match and
pyfixest decides nesting from the data, as we do.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyfixest
import pytest
from linearmodels import PanelOLS
from pyfixest.demeaners import MapDemeaner

from spillover.estimate import vcov
from spillover.estimate.errors import EstimationError
from spillover.spatial import EARTH_RADIUS_KM
from tests.estimate.panels import random_panel

# pyfixest 0.60 calls pandas methods with ``inplace=True``, which pandas 3.1 deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword:Warning")

REGRESSORS = ["x1", "x2"]


def demeaned_sample(frame: pd.DataFrame, fe: list[str]) -> vcov.Sample:
    """OLS on y ~ x1 + x2 + dummies of each fixed effect, as a :class:`vcov.Sample`."""
    columns = frame[["y", *REGRESSORS]].to_numpy(float)
    if fe:
        dummies = np.column_stack([pd.get_dummies(frame[f]).to_numpy(float) for f in fe])
        columns = columns - dummies @ np.linalg.lstsq(dummies, columns, rcond=None)[0]
    else:
        columns = columns - columns.mean(axis=0)
    y, x = columns[:, 0], columns[:, 1:]
    beta = np.linalg.lstsq(x, y, rcond=None)[0]
    return vcov.Sample(
        X=x,
        y=y,
        resid=y - x @ beta,
        entity=frame["entity"].to_numpy(),
        time=frame["year"].to_numpy(),
        fe={f: frame[f].to_numpy() for f in fe},
        lat=frame["lat"].to_numpy(),
        lon=frame["lon"].to_numpy(),
    )


def se(covariance: vcov.Covariance) -> np.ndarray:
    return np.sqrt(np.diag(covariance.matrix))


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return random_panel(1)


FIXEST_CASES = {
    "iid": ("iid", lambda s, p: vcov.iid(s)),
    "hetero": ("hetero", lambda s, p: vcov.hetero(s)),
    "crv1-entity": ({"CRV1": "entity"}, lambda s, p: vcov.cluster(s, {"entity": s.entity})),
    "crv1-firm": ({"CRV1": "firm"}, lambda s, p: vcov.cluster(s, {"firm": p["firm"]})),
    "crv1-pref": ({"CRV1": "pref"}, lambda s, p: vcov.cluster(s, {"pref": p["pref"]})),
    "crv1-entity+year": (
        {"CRV1": "entity+year"},
        lambda s, p: vcov.cluster(s, {"entity": s.entity, "year": s.time}),
    ),
    "crv1-firm+year": (
        {"CRV1": "firm+year"},
        lambda s, p: vcov.cluster(s, {"firm": p["firm"], "year": s.time}),
    ),
    "dk-2": ("DK", lambda s, p: vcov.driscoll_kraay(s, 2)),
}


@pytest.mark.parametrize("fe", [["entity", "year"], ["entity"]], ids=["twoway-fe", "entity-fe"])
@pytest.mark.parametrize("case", list(FIXEST_CASES))
def test_fixest_rule_equals_pyfixest_feols(panel, fe, case):
    theirs_vcov, ours = FIXEST_CASES[case]
    model = pyfixest.feols(
        "y ~ x1 + x2 | " + " + ".join(fe),
        data=panel,
        vcov=theirs_vcov,
        vcov_kwargs={"lag": 2, "time_id": "year", "panel_id": "entity"} if case == "dk-2" else None,
        demeaner=MapDemeaner(fixef_tol=1e-14),
    )
    sample = demeaned_sample(panel, fe)
    covariance = ours(sample, panel)
    np.testing.assert_allclose(se(covariance), model.se().to_numpy(), rtol=1e-8)
    assert covariance.df_inference == model._df_t


@pytest.mark.parametrize("time_effects", [False, True], ids=["entity", "entity+time"])
@pytest.mark.parametrize(
    ("cov_type", "config", "ours"),
    [
        ("unadjusted", {}, lambda s, p: vcov.iid(s, "linearmodels")),
        ("robust", {}, lambda s, p: vcov.hetero(s, "linearmodels")),
        (
            "clustered",
            {"cluster_entity": True},
            lambda s, p: vcov.cluster(s, {"entity": s.entity}, "linearmodels"),
        ),
        (
            "clustered",
            {"cluster_entity": True, "cluster_time": True},
            lambda s, p: vcov.cluster(s, {"entity": s.entity, "year": s.time}, "linearmodels"),
        ),
        (
            "clustered",
            {"clusters": "pref"},
            lambda s, p: vcov.cluster(s, {"pref": p["pref"]}, "linearmodels"),
        ),
        ("kernel", {"bandwidth": 2}, lambda s, p: vcov.driscoll_kraay(s, 2, "linearmodels")),
    ],
    ids=["unadjusted", "robust", "cluster-entity", "cluster-twoway", "cluster-pref", "kernel"],
)
def test_linearmodels_rule_equals_panelols(panel, time_effects, cov_type, config, ours):
    data = panel.set_index(["entity", "year"])
    if "clusters" in config:
        config = {"clusters": data[[config["clusters"]]]}
    model = PanelOLS(data["y"], data[REGRESSORS], entity_effects=True, time_effects=time_effects)
    theirs = model.fit(cov_type=cov_type, **config)
    sample = demeaned_sample(panel, ["entity", "year"] if time_effects else ["entity"])
    covariance = ours(sample, panel)
    np.testing.assert_allclose(se(covariance), theirs.std_errors.to_numpy(), rtol=1e-10)
    assert covariance.df_inference == theirs.df_resid


def test_linearmodels_rule_refuses_what_panelols_does_not_define(panel):
    sample = demeaned_sample(panel, ["entity", "year"])
    with pytest.raises(EstimationError, match="no Conley"):
        vcov.conley(sample, 10.0, "bartlett", 0, "linearmodels")
    with pytest.raises(EstimationError, match="lags below the 6 periods"):
        vcov.driscoll_kraay(sample, 6, "linearmodels")
    three = vcov.Sample(**{**sample.__dict__, "fe": {**sample.fe, "firm": panel["firm"]}})
    with pytest.raises(EstimationError, match="at most two effects"):
        vcov.hetero(three, "linearmodels")


def test_conley_below_the_closest_pair_is_hc0(panel):
    sample = demeaned_sample(panel, ["entity", "year"])
    conley = vcov.conley(sample, 1e-3, "bartlett", 0, "none")
    np.testing.assert_allclose(conley.matrix, vcov.hetero(sample, "none").matrix, rtol=1e-12)
    assert conley.df_inference is None
    # fixest rule: (n − 1)/(n − K) with K = 2 regressors + 60 entities + 6 years − 1.
    n, big_k = sample.time.size, 2 + 60 + 6 - 1
    fixest = vcov.conley(sample, 1e-3, "bartlett", 0)
    np.testing.assert_allclose(fixest.matrix, (n - 1) / (n - big_k) * conley.matrix, rtol=1e-12)
    assert fixest.df_inference == n - big_k


def test_uniform_conley_over_all_years_is_entity_clustering(panel):
    """Uniform weights give every pair of an entity's years weight 1, as clustering does.

    With the Bartlett kernel the years l apart would get 1 − l/(L+1) < 1, so no lag makes it
    equal to clustering; with the uniform kernel any L ≥ T − 1 (here 5) covers every pair.
    """
    sample = demeaned_sample(panel, ["entity", "year"])
    conley = vcov.conley(sample, 1e-3, "uniform", 5, "none")
    entity = vcov.cluster(sample, {"entity": sample.entity}, "none")
    np.testing.assert_allclose(conley.matrix, entity.matrix, rtol=1e-12)
    short = vcov.conley(sample, 1e-3, "uniform", 4, "none")
    assert not np.allclose(short.matrix, entity.matrix, rtol=1e-6)


def brute_force_conley(sample: vcov.Sample, cutoff_km: float, kernel: str, lags: int):
    """All pairs of rows: K(d) within a year plus the serial weights within an entity."""
    lat, lon = np.radians(sample.lat), np.radians(sample.lon)
    h = (
        np.sin((lat[:, None] - lat[None, :]) / 2) ** 2
        + np.cos(lat[:, None])
        * np.cos(lat[None, :])
        * np.sin((lon[:, None] - lon[None, :]) / 2) ** 2
    )
    distance = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(h, 1.0)))
    lag = np.abs(sample.time[:, None] - sample.time[None, :])
    bartlett = kernel == "bartlett"
    space = np.where(distance <= cutoff_km, 1 - distance / cutoff_km if bartlett else 1.0, 0.0)
    time = np.where((lag >= 1) & (lag <= lags), 1 - lag / (lags + 1) if bartlett else 1.0, 0.0)
    same_entity = sample.entity[:, None] == sample.entity[None, :]
    weights = np.where(lag == 0, space, 0.0) + np.where(same_entity, time, 0.0)
    bread = np.linalg.inv(sample.X.T @ sample.X)
    return bread @ sample.scores.T @ weights @ sample.scores @ bread, distance


@pytest.mark.parametrize("lags", [0, 2])
@pytest.mark.parametrize("kernel", ["bartlett", "uniform"])
def test_conley_equals_all_pairs_brute_force(kernel, lags):
    frame = random_panel(3, n_entities=150, n_centres=3, spread_km=4.0)
    sample = demeaned_sample(frame, ["entity"])
    expected, distance = brute_force_conley(sample, 5.0, kernel, lags)
    one_year = sample.time[:, None] == sample.time[None, :]
    others = (distance[one_year] <= 5.0).sum() - sample.time.size
    assert others / sample.time.size > 10  # each row has over 10 others within the cutoff
    ours = vcov.conley(sample, 5.0, kernel, lags, "none").matrix
    np.testing.assert_allclose(ours, expected, rtol=1e-10, atol=1e-10 * np.abs(expected).max())


# A hand-checkable world: 3 entities × 2 years, one regressor x = 1 (so the bread is
# 1/Σx² = 1/6 and every variance is meat/36) and the scores s = x·e written out. Entities
# A and B are 0.05° of latitude apart on one meridian (d = R·0.05·π/180 ≈ 5.56 km), C is
# 1° away.
#
#   row  entity year  lat    s
#   0    A      0     35.00   2
#   1    A      1     35.00  -1
#   2    B      0     35.05   2
#   3    B      1     35.05   0
#   4    C      0     36.00  -1
#   5    C      1     36.00  -1
TINY = vcov.Sample(
    X=np.ones((6, 1)),
    y=np.array([2.0, -1, 2, 0, -1, -1]),
    resid=np.array([2.0, -1, 2, 0, -1, -1]),
    entity=np.array([0, 0, 1, 1, 2, 2]),
    time=np.array([2018, 2019, 2018, 2019, 2018, 2019]),
    fe={},
    lat=np.array([35.0, 35.0, 35.05, 35.05, 36.0, 36.0]),
    lon=np.full(6, 139.0),
)


def test_tiny_panel_by_hand():
    def variance(covariance):
        return covariance.matrix[0, 0]

    # HC0: Σ s² = 4+1+4+0+1+1 = 11; entity sums 1, 2, −2 -> 9; year sums 3, −2 -> 13.
    assert variance(vcov.hetero(TINY, "none")) == pytest.approx(11 / 36, rel=1e-14)
    assert variance(vcov.cluster(TINY, {"e": TINY.entity}, "none")) == pytest.approx(9 / 36)
    # fixest CRV1: (n−1)/(n−k) · G/(G−1) = 5/5 · 3/2, t(G − 1 = 2).
    crv1 = vcov.cluster(TINY, {"e": TINY.entity})
    assert (variance(crv1), crv1.df_inference, crv1.n_clusters) == (pytest.approx(13.5 / 36), 2, 3)
    # linearmodels: n/(n−k) = 6/5, t(n − k = 5).
    lm = vcov.cluster(TINY, {"e": TINY.entity}, "linearmodels")
    assert (variance(lm), lm.df_inference) == (pytest.approx(6 / 5 * 9 / 36), 5)
    # Two-way entity + year: 9 + 13 − 11 (the intersection is every row) = 11.
    twoway = vcov.cluster(TINY, {"e": TINY.entity, "t": TINY.time}, "none")
    assert variance(twoway) == pytest.approx(11 / 36)
    # Driscoll–Kraay, L = 1: ξ = (3, −2); 9 + 4 + ½·2·(3·−2) = 7.
    assert variance(vcov.driscoll_kraay(TINY, 1, "none")) == pytest.approx(7 / 36)
    # Conley 10 km Bartlett, L = 1: 11 + 2K(2·2 + (−1)·0) + 2·½·(2·−1 + 2·0 + −1·−1).
    k = 1 - EARTH_RADIUS_KM * np.radians(0.05) / 10.0
    conley = vcov.conley(TINY, 10.0, "bartlett", 1, "none")
    assert variance(conley) == pytest.approx((11 + 8 * k - 1) / 36, rel=1e-12)


def test_a_negative_variance_is_repaired_like_fixest():
    # Scores 1, −1, −1, 1 on a 2×2 grid of clusters: each way sums to zero, the
    # intersection (every row) does not, so M_a + M_b − M_ab = −4 < 0.
    sample = vcov.Sample(
        X=np.ones((4, 1)),
        y=np.array([1.0, -1, -1, 1]),
        resid=np.array([1.0, -1, -1, 1]),
        entity=np.arange(4),
        time=np.zeros(4, dtype=int),
        fe={},
    )
    by = {"a": np.array([0, 0, 1, 1]), "b": np.array([0, 1, 0, 1])}
    repaired = vcov.cluster(sample, by, "none")
    assert repaired.matrix[0, 0] == vcov.PSD_TOLERANCE


def test_fe_parameters_under_each_rule():
    entity = np.repeat(np.arange(4), 3)
    year = np.tile(np.arange(3), 4)
    pref = entity // 2  # entities nested in prefectures
    fe = {"entity": entity, "year": year}
    assert vcov.fe_parameters(fe) == 4 + 3 - 1
    # fixest: entity is nested in pref clusters, so it keeps one of its 4 parameters.
    assert vcov.fe_parameters(fe, [pref]) == 1 + 3 - 1
    # ... nested in any of two-way clusters; year is nested in year clusters too.
    assert vcov.fe_parameters(fe, [pref, year]) == 1 + 1 - 1
    # linearmodels: only a single effect nested in every cluster variable is not counted.
    assert vcov.fe_parameters(fe, [pref], rule="linearmodels") == 6
    assert vcov.fe_parameters({"entity": entity}, [pref], rule="linearmodels") == 0
    assert vcov.fe_parameters({"entity": entity}, [pref, year], rule="linearmodels") == 4
    assert vcov.fe_parameters(fe, rule="none") == 0


def test_bad_requests_raise_estimation_errors(panel):
    sample = demeaned_sample(panel, ["entity"])
    with pytest.raises(EstimationError, match="ssc 'stata'"):
        vcov.iid(sample, "stata")
    with pytest.raises(EstimationError, match="one or two cluster variables"):
        vcov.cluster(sample, {"a": sample.entity, "b": sample.time, "c": panel["firm"]})
    with pytest.raises(EstimationError, match="only one cluster"):
        vcov.cluster(sample, {"one": np.zeros(sample.time.size)})
    with pytest.raises(EstimationError, match="no lat/lon"):
        vcov.conley(vcov.Sample(**{**sample.__dict__, "lat": None}), 10.0)
    with pytest.raises(EstimationError, match="kernel 'gauss'"):
        vcov.conley(sample, 10.0, "gauss")
    with pytest.raises(EstimationError, match="two rows in one year"):
        twice = np.zeros_like(sample.time)
        vcov.conley(vcov.Sample(**{**sample.__dict__, "time": twice}), 10.0)
