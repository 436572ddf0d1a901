"""Fixed-effect codes, singleton removal and demeaning: hand cases, pyfixest, linearmodels.

Coefficients are OLS on the demeaned columns (rows scaled by √weight when weighted) and must
equal the references to 1e-10 (relative); the references run with tolerances far below that.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pyfixest
import pytest
from linearmodels import PanelOLS
from linearmodels.iv.absorbing import AbsorbingLS
from pyfixest.demeaners import MapDemeaner

from spillover.estimate.errors import EstimationError
from spillover.estimate.within import Demeaner, drop_singletons, fe_codes, levels
from tests.estimate.panels import random_panel

# pyfixest 0.60 calls pandas methods with ``inplace=True``, which pandas 3.1 deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword:Warning")

RTOL = 1e-10
TIGHT = MapDemeaner(fixef_tol=1e-14, fixef_maxiter=100_000)


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    """Unbalanced panel (60 entities, 2012–2017), a row-level industry and weights."""
    frame = random_panel(3)
    rng = np.random.default_rng(3)
    return frame.assign(
        industry=rng.integers(0, 4, len(frame)), w=rng.uniform(0.2, 3.0, len(frame))
    )


def within_ols(frame: pd.DataFrame, fe: list[str], weights: str | None = None) -> np.ndarray:
    """Coefficients of y on x1, x2 after :class:`Demeaner` removes ``fe``."""
    w = None if weights is None else frame[weights].to_numpy()
    demeaned = Demeaner(fe_codes(frame, fe), w).demean(frame[["y", "x1", "x2"]].to_numpy())
    if w is not None:
        demeaned = demeaned * np.sqrt(w)[:, None]
    return np.linalg.lstsq(demeaned[:, 1:], demeaned[:, 0], rcond=None)[0]


def test_one_fixed_effect_by_hand():
    codes = {"entity": np.array([0, 0, 1, 1, 1])}
    values = np.array([[1.0, 3.0, 2.0, 4.0, 9.0], [1.0, 1.0, 2.0, 2.0, 2.0]]).T
    # entity means 2 and 5; a column constant within entity vanishes
    expected = np.array([[-1.0, 1.0, -3.0, -1.0, 4.0], [0, 0, 0, 0, 0]]).T
    np.testing.assert_allclose(Demeaner(codes).demean(values), expected, atol=1e-15)
    # weights 1, 3: weighted mean of the first entity (1·1 + 3·3)/4 = 2.5
    weighted = Demeaner(codes, np.array([1.0, 3.0, 1.0, 1.0, 1.0])).demean(values[:, :1])
    np.testing.assert_allclose(weighted[:, 0], [-1.5, 0.5, -3.0, -1.0, 4.0], atol=1e-15)


def test_two_way_balanced_by_hand():
    # x_it − x̄_i − x̄_t + x̄ on [[1, 2], [3, 8]]: grand mean 3.5, rows 1.5/5.5, columns 2/5
    codes = {"entity": np.array([0, 0, 1, 1]), "year": np.array([0, 1, 0, 1])}
    demeaned = Demeaner(codes).demean(np.array([[1.0, 2.0, 3.0, 8.0]]).T)
    np.testing.assert_allclose(demeaned[:, 0], [1.0, -1.0, -1.0, 1.0], atol=1e-14)


def test_fe_codes_of_columns_and_interactions():
    frame = pd.DataFrame({"pref": ["b", "a", "b", "a"], "year": [2013, 2012, 2012, 2013]})
    codes = fe_codes(frame, ["pref", "pref^year"])
    np.testing.assert_array_equal(codes["pref"], [1, 0, 1, 0])
    # levels (a,2012) (a,2013) (b,2012) (b,2013) in sorted order
    np.testing.assert_array_equal(codes["pref^year"], [3, 0, 2, 1])
    assert codes["pref^year"].dtype == np.int64
    assert levels(codes) == {"pref": 2, "pref^year": 4}


def test_fe_codes_refuse_missing_levels_and_unknown_columns():
    frame = pd.DataFrame({"entity": [1, 2, 3], "firm": [1.0, np.nan, np.nan]})
    with pytest.raises(EstimationError, match=r"'firm' has 2 missing"):
        fe_codes(frame, ["entity", "firm"])
    with pytest.raises(EstimationError, match=r"\['pref'\].*'entity', 'firm'"):
        fe_codes(frame, ["pref^entity"])


@pytest.mark.parametrize("weights", [None, "w"])
@pytest.mark.parametrize("fe", [["entity", "year"], ["entity", "pref^year"]])
def test_coefficients_equal_pyfixest(panel, fe, weights):
    ours = within_ols(panel, fe, weights)
    model = pyfixest.feols(
        f"y ~ x1 + x2 | {' + '.join(fe)}", data=panel, weights=weights, demeaner=TIGHT
    )
    assert model._N == len(panel)
    np.testing.assert_allclose(ours, model.coef().to_numpy(), rtol=RTOL, atol=0)


@pytest.mark.parametrize("time_effects", [False, True])
def test_coefficients_equal_panel_ols(panel, time_effects):
    indexed = panel.set_index(["entity", "year"])
    reference = PanelOLS(
        indexed["y"], indexed[["x1", "x2"]], entity_effects=True, time_effects=time_effects
    ).fit()
    fe = ["entity", "year"] if time_effects else ["entity"]
    np.testing.assert_allclose(within_ols(panel, fe), reference.params, rtol=RTOL, atol=0)


@pytest.mark.parametrize("weights", [None, "w"])
def test_three_fixed_effects_equal_absorbing_ls(panel, weights):
    """Three fixed effects: entity, pref^year and industry (drawn per row, nested in none)."""
    fe = ["entity", "pref^year", "industry"]
    absorb = pd.DataFrame({n: pd.Categorical(c) for n, c in fe_codes(panel, fe).items()})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = AbsorbingLS(
            panel["y"],
            panel[["x1", "x2"]],
            absorb=absorb,
            weights=None if weights is None else panel[weights],
        ).fit(method="lsmr", absorb_options={"atol": 1e-15, "btol": 1e-15})
    ours = within_ols(panel, fe, weights)
    np.testing.assert_allclose(ours, reference.params, rtol=RTOL, atol=0)


def test_absorbed_levels_change_nothing(panel):
    """Firms made of whole entities add nothing to the entity fixed effect."""
    values = panel[["y", "x1", "x2"]].to_numpy()
    for fe in (["entity"], ["entity", "year"]):
        nested = Demeaner(fe_codes(panel, [*fe, "firm"])).demean(values)
        plain = Demeaner(fe_codes(panel, fe)).demean(values)
        np.testing.assert_allclose(nested, plain, rtol=0, atol=1e-12)


def test_column_absorbed_by_the_fixed_effects_demeans_to_zero(panel):
    """An entity-level column (scale 1e3) vanishes instead of stalling the solver."""
    level = np.random.default_rng(0).normal(0, 1e3, panel["entity"].max() + 1)
    values = np.column_stack([level[panel["entity"]], panel["x1"]])
    demeaned = Demeaner(fe_codes(panel, ["entity", "pref^year"]), panel["w"]).demean(values)
    assert np.abs(demeaned[:, 0]).max() < 1e-12 * np.abs(values[:, 0]).max()


def test_poorly_connected_fixed_effects_equal_dense_least_squares():
    """Entities rarely change firm: a hard case for alternating projections."""
    rng = np.random.default_rng(5)
    entity = np.repeat(np.arange(300), 6)
    firm = rng.integers(0, 60, 300)[entity]
    moves = np.flatnonzero(rng.random(entity.size) < 0.03)
    for row in moves:
        firm[row : (row // 6 + 1) * 6] = rng.integers(0, 60)
    codes = {"entity": entity, "firm": firm, "year": np.tile(np.arange(6), 300)}
    keep = drop_singletons(codes)
    codes = {name: c[keep] for name, c in codes.items()}
    values = rng.normal(size=(keep.sum(), 2)) + 0.1 * codes["firm"][:, None]
    dummies = np.column_stack([np.eye(c.max() + 1)[c] for c in codes.values()])
    exact = values - dummies @ np.linalg.lstsq(dummies, values, rcond=None)[0]
    # an absorbed column (entity level, scale 1e3) solved alongside stays at roundoff
    absorbed = rng.normal(0, 1e3, 300)[codes["entity"]]
    demeaned = Demeaner(codes).demean(np.column_stack([values, absorbed]))
    np.testing.assert_allclose(demeaned[:, :2], exact, rtol=0, atol=1e-11)
    assert np.abs(demeaned[:, 2]).max() < 1e-14 * np.abs(absorbed).max()


def chain_panel() -> pd.DataFrame:
    """A two-way block without singletons, plus rows 0–5 that all go, most in a chain.

    Entity 100 is alone (row 0); dropping it leaves row 1 alone in firm 50, then row 2
    alone in entity 101, then row 3 alone in firm 51, then row 5 alone in entity 102.
    Row 4 is alone in firm 52 from the start.
    """
    block = [(e, f) for e in range(6) for f in range(3) if (e + f) % 4]
    planted = [(100, 50), (101, 50), (101, 51), (102, 51), (0, 52), (102, 0)]
    rows = planted + block
    frame = pd.DataFrame(rows, columns=["entity", "firm"])
    rng = np.random.default_rng(0)
    return frame.assign(
        y=rng.normal(size=len(frame)),
        x1=rng.normal(size=len(frame)),
        x2=rng.normal(size=len(frame)),
    )


def test_singletons_dropped_like_pyfixest():
    frame = chain_panel()
    keep = drop_singletons(fe_codes(frame, ["entity", "firm"]))
    np.testing.assert_array_equal(np.flatnonzero(~keep), [0, 1, 2, 3, 4, 5])
    with pytest.warns(UserWarning, match="6 singleton"):
        model = pyfixest.feols("y ~ x1 + x2 | entity + firm", data=frame, fixef_rm="singleton")
    assert model._N == keep.sum()
    np.testing.assert_array_equal(sorted(model._na_index), np.flatnonzero(~keep))


def test_maxiter_guard_names_the_fixed_effects(panel):
    demeaner = Demeaner(fe_codes(panel, ["entity", "year"]), maxiter=1)
    with pytest.raises(EstimationError, match=r"\['entity', 'year'\] did not converge"):
        demeaner.demean(panel[["y", "x1"]].to_numpy())


def test_refuses_bad_weights_and_values(panel):
    codes = fe_codes(panel, ["entity"])
    with pytest.raises(EstimationError, match="positive"):
        Demeaner(codes, np.zeros(len(panel)))
    with pytest.raises(EstimationError, match="finite"):
        Demeaner(codes).demean(np.full((len(panel), 1), np.nan))
