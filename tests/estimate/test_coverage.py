"""The coverage study (validation/coverage.py) on a few fixed seeds.

Coverage itself is a noisy count over seeds, so the test looks at its smooth version: the
simulation knows the exact SE of β̂ given x, and an interval β̂ ± q·SE covers β with
probability 2Φ(q · SE / exact SE) − 1. Averaged over 12 seeds both the SE ratio and this
conditional coverage move by about a percentage point from one set of seeds to another.
"""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

SCRIPT = Path(__file__).resolve().parents[2] / "validation" / "coverage.py"


@pytest.fixture(scope="module")
def study():
    """The script as a module (registered while loaded: its dataclass needs that)."""
    spec = importlib.util.spec_from_file_location("validation_coverage", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def _within_beta(panel) -> float:
    """β̂ of y on x with entity fixed effects, by hand."""
    demeaned = panel[["y", "x"]] - panel.groupby("entity")[["y", "x"]].transform("mean")
    return float(demeaned["x"] @ demeaned["y"] / (demeaned["x"] @ demeaned["x"]))


def test_exact_se_is_the_spread_of_the_estimates(study):
    design = study.Design(n_areas=6)
    panels = [study.simulate_panel(seed, design) for seed in range(400)]
    errors = np.array([_within_beta(p) for p in panels]) - design.beta
    exact = np.array([study.exact_se(p, design) for p in panels])
    assert np.sqrt(np.mean(errors**2)) == pytest.approx(np.sqrt(np.mean(exact**2)), rel=0.1)
    # the spatial fields matter: the iid formula σ_e / ‖x̃‖ (σ_e = 1) is far too small
    naive = [
        1 / np.linalg.norm(p["x"] - p.groupby("entity")["x"].transform("mean")) for p in panels
    ]
    assert np.mean(naive) < 0.75 * np.mean(exact)


def test_conley_errors_cover_where_entity_clustering_does_not(study):
    fits = pd.concat([study.fit_seed(seed, study.Design()) for seed in range(12)])
    ratio = fits["se"] / fits["exact_se"]
    quantile = (fits["ci_high"] - fits["coef"]) / fits["se"]
    fits = fits.assign(ratio=ratio, coverage=2 * norm.cdf(quantile * ratio) - 1)
    by_vcov = fits.groupby("vcov")[["ratio", "coverage"]].mean()
    clustered = by_vcov.loc["entity-clustered"]
    bartlett = by_vcov.loc["Conley 10 km, Bartlett"]
    uniform = by_vcov.loc["Conley 10 km, uniform"]
    assert clustered["ratio"] < 0.8 and clustered["coverage"] < 0.9  # ≈ 0.71 and 84 %
    assert 0.9 < uniform["ratio"] < 1.1 and uniform["coverage"] > 0.93  # ≈ 1.00 and 95 %
    # Bartlett weights shrink the covariance of near pairs: in between (≈ 0.92 and 93 %)
    assert clustered["coverage"] < bartlett["coverage"] < uniform["coverage"]
