r"""Covariance matrices of the within (fixed-effects) estimator, with small-sample rules.

Every estimator starts from one :class:`Sample`: the demeaned regressors :math:`\tilde X`
(n × k), the residuals :math:`e` and the panel keys, with rows already multiplied by
:math:`\sqrt{w}` under weights. With the scores :math:`s_i = \tilde x_i e_i` and the bread
:math:`B = (\tilde X'\tilde X)^{-1}`, each covariance is :math:`c \cdot B M B` where the
*meat* M is

- ``iid``: :math:`M = \hat\sigma^2 \tilde X'\tilde X` with :math:`\hat\sigma^2 = e'e/n`;
- ``hetero``: :math:`M = \sum_i s_i s_i'` (HC0);
- ``cluster``: :math:`M_g = \sum_g S_g S_g'` with :math:`S_g = \sum_{i \in g} s_i` (CRV0);
  two-way (Cameron, Gelbach and Miller 2011): :math:`M_a + M_b - M_{a \cap b}`;
- ``driscoll_kraay``: with :math:`\xi_t = \sum_{i \in t} s_i`,
  :math:`M = \Gamma_0 + \sum_{l=1}^{L} (1 - l/(L+1)) (\Gamma_l + \Gamma_l')`,
  :math:`\Gamma_l = \sum_t \xi_t \xi_{t-l}'`; t and l count the distinct periods of the
  sample in order (as fixest and linearmodels do), not calendar years;
- ``conley``: :math:`M = \sum_t \sum_{i,j \in t} K(d_{ij}) s_i s_j' + \sum_i
  \sum_{t \ne r, |t-r| \le L} w_{|t-r|} s_{it} s_{ir}'`, d the great-circle distance of
  the rows' coordinates (haversine, Earth radius :data:`EARTH_RADIUS_KM`), t and r calendar
  years; Bartlett kernel K = 1 − d/C and w_l = 1 − l/(L+1), uniform kernel K = w_l = 1
  (d ≤ C, l ≤ L; a row with itself has K = 1).

The factor c and the degrees of freedom of the t distribution come from the small-sample
rule ``ssc`` (one of :data:`SSC_RULES`). n = rows, k = regressors, K = k + the fixed-effect
parameters of :func:`fe_parameters` (Σ levels − (#FE − 1)), K* = K with each fixed effect
nested in a cluster variable counted as one parameter, G = clusters (the smaller count of
two ways), T = distinct periods:

============  ==============================  ===============================  ==========
 vcov          ``fixest`` (default)             ``linearmodels``                 ``none``
============  ==============================  ===============================  ==========
 iid           n/(n−K), t(n−K)                  n/(n−K), t(n−K)                  1, normal
 hetero        n/(n−K), t(n−K)                  n/(n−K), t(n−K)                  1, normal
 cluster       (n−1)/(n−K*)·G/(G−1), t(G−1)     n/(n−K'), t(n−K)                 1, normal
 DK            (n−1)/(n−K)·T/(T−1), t(T−1)      n/(n−K), t(n−K); needs L < T     1, normal
 conley        (n−1)/(n−K), t(n−K)              not defined: raises              1, normal
============  ==============================  ===============================  ==========

``fixest`` reproduces pyfixest 0.60's defaults (``ssc(k_adj=True, k_fixef="nonnested",
G_adj=True, G_df="min")``, its iid σ̂² = e'e/(n − K) and HC1 = n/(n − K)·HC0): a fixed
effect nested in *any* cluster variable (each of its levels inside one cluster) keeps one
parameter, and all three terms of a two-way covariance are scaled by the smaller G/(G − 1)
(fixest's ``cluster.df = "min"``). pyfixest has no Conley covariance; under this rule it
takes fixest's ``adj`` factor (n − 1)/(n − K) alone (there are no clusters to count) and
t(n − K), our choice.
``linearmodels`` reproduces ``PanelOLS(...).fit(cov_type=...)`` with its defaults
(``debiased=True, auto_df=True, count_effects=True``, no ``group_debias``): K' = k when the
model has a single fixed effect nested in *every* cluster variable and K otherwise, and
inference always uses t(n − K), PanelOLS's ``df_resid``. PanelOLS has at most two effects
and no Conley covariance, so those raise :class:`EstimationError`.

A covariance with a negative diagonal element (possible for two-way clustering and for
Conley, whose kernels are not guaranteed positive semi-definite on a sphere) is repaired as R fixest
does (``mat_posdef_fix``, "a la Cameron, Gelbach & Miller"): its eigenvalues are raised
to at least :data:`PSD_TOLERANCE`. An indefinite matrix with a non-negative diagonal is
returned as it is: every standard error is defined (pyfixest repairs nothing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.spatial import cKDTree

from spillover.estimate.errors import EstimationError
from spillover.spatial import EARTH_RADIUS_KM

SSC_RULES = ("fixest", "linearmodels", "none")
"""The small-sample rules (see the module docstring)."""

KERNELS = ("bartlett", "uniform")
"""Conley kernels: Bartlett 1 − d/C (and 1 − l/(L+1) over lags); uniform 1 within C and L."""

PSD_TOLERANCE = 1e-10
"""Smallest eigenvalue of a repaired covariance (R fixest's ``mat_posdef_fix`` tolerance)."""

_CHUNK_LOCATIONS = 4096


@dataclass(frozen=True)
class Sample:
    """One estimation sample after demeaning (rows already multiplied by sqrt(weight))."""

    X: np.ndarray
    """(n, k) demeaned regressors."""
    y: np.ndarray
    """(n,) demeaned dependent variable."""
    resid: np.ndarray
    """(n,) residuals ỹ − X̃β."""
    entity: np.ndarray
    """(n,) integer codes of the panel entity."""
    time: np.ndarray
    """(n,) integer year."""
    fe: dict[str, np.ndarray]
    """Absorbed fixed effect name (as written: "entity", "pref^year", ...) -> (n,) codes."""
    lat: np.ndarray | None = None
    """(n,) latitude of the row's entity in degrees (Conley only)."""
    lon: np.ndarray | None = None
    """(n,) longitude of the row's entity in degrees (Conley only)."""

    @property
    def scores(self) -> np.ndarray:
        """(n, k) scores x̃_i e_i."""
        return self.X * self.resid[:, None]


@dataclass(frozen=True)
class Covariance:
    """A coefficient covariance and how to use it for inference."""

    matrix: np.ndarray
    """(k, k) covariance of the coefficients."""
    df_inference: int | None
    """Degrees of freedom of the t distribution for p-values and CIs; None = normal."""
    n_clusters: int | None
    """Clusters (two-way: the smaller count); None when not clustered."""


def fe_parameters(
    fe: Mapping[str, np.ndarray],
    nested_in: Sequence[np.ndarray] = (),
    *,
    rule: str = "fixest",
) -> int:
    """Number of fixed-effect parameters a small-sample rule counts.

    Parameters
    ----------
    fe : mapping of str to numpy.ndarray
        Absorbed fixed effects: name -> (n,) codes.
    nested_in : sequence of numpy.ndarray
        Cluster variables ((n,) codes) of a clustered covariance; empty otherwise.
    rule : {"fixest", "linearmodels", "none"}
        ``fixest``: Σ levels − (number of FE − 1), minus (levels − 1) of every FE nested in
        *any* cluster variable (each of its levels is in one cluster; pyfixest's
        ``k_fixef="nonnested"``). ``linearmodels``: Σ levels − (number of FE − 1), or 0 when
        there is a single FE nested in *every* cluster variable (PanelOLS ``auto_df``).
        ``none``: 0.

    Returns
    -------
    int
        The FE parameters K − k of the rule.
    """
    _check_rule(rule)
    if rule == "none" or not fe:
        return 0
    levels = {name: pd.unique(codes).size for name, codes in fe.items()}
    total = sum(levels.values()) - (len(levels) - 1)
    nested = {name: [_is_nested(codes, c) for c in nested_in] for name, codes in fe.items()}
    if rule == "linearmodels":
        single = len(fe) == 1 and len(nested_in) > 0
        return 0 if single and all(next(iter(nested.values()))) else total
    return total - sum(levels[name] - 1 for name, flags in nested.items() if any(flags))


def iid(sample: Sample, ssc: str = "fixest") -> Covariance:
    """Homoskedastic covariance σ̂²(X̃'X̃)⁻¹ (σ̂² = e'e/(n − K) under fixest/linearmodels).

    Parameters
    ----------
    sample : Sample
        The demeaned sample.
    ssc : {"fixest", "linearmodels", "none"}
        Small-sample rule (module docstring).

    Returns
    -------
    Covariance
    """
    n = _check(sample, ssc)
    sigma2 = float(sample.resid @ sample.resid) / n
    return _finish(sample, sigma2 * (sample.X.T @ sample.X), ssc, "iid")


def hetero(sample: Sample, ssc: str = "fixest") -> Covariance:
    """Heteroskedasticity-robust covariance (HC0 scaled by n/(n − K): fixest's HC1).

    Parameters
    ----------
    sample : Sample
        The demeaned sample.
    ssc : {"fixest", "linearmodels", "none"}
        Small-sample rule (module docstring).

    Returns
    -------
    Covariance
    """
    _check(sample, ssc)
    scores = sample.scores
    return _finish(sample, scores.T @ scores, ssc, "hetero")


def cluster(sample: Sample, by: Mapping[str, np.ndarray], ssc: str = "fixest") -> Covariance:
    """One- or two-way cluster-robust covariance (CRV1 under fixest).

    Parameters
    ----------
    sample : Sample
        The demeaned sample.
    by : mapping of str to numpy.ndarray
        One or two cluster variables: name -> (n,) labels (any hashable dtype). Two-way is
        Cameron–Gelbach–Miller: the meats of each variable minus the meat of their
        intersection.
    ssc : {"fixest", "linearmodels", "none"}
        Small-sample rule (module docstring). Under fixest each of the three two-way terms
        is scaled by G/(G − 1) with G the smaller cluster count (fixest's ``cluster.df =
        "min"``), and K counts a fixed effect nested in a cluster variable as one parameter.

    Returns
    -------
    Covariance
        ``n_clusters`` is the (smaller) number of clusters.
    """
    _check(sample, ssc)
    if len(by) not in (1, 2):
        raise EstimationError(f"cluster by {list(by)}: one or two cluster variables, please")
    codes = [_codes(np.asarray(values)) for values in by.values()]
    if any(c.shape != sample.resid.shape for c in codes):
        raise EstimationError(f"cluster by {list(by)}: one label per row of the sample, please")
    groups = min(int(c.max()) + 1 for c in codes)
    if groups < 2:
        raise EstimationError(f"cluster by {list(by)}: only one cluster in the sample")
    scores = sample.scores
    meat = sum(_cluster_meat(scores, c) for c in codes)
    if len(codes) == 2:
        meat = meat - _cluster_meat(scores, _codes(codes[0] * (codes[1].max() + 1) + codes[1]))
    return _finish(sample, meat, ssc, "cluster", clusters=codes, groups=groups)


def driscoll_kraay(sample: Sample, lags: int, ssc: str = "fixest") -> Covariance:
    """Driscoll–Kraay covariance: Newey–West (Bartlett) over the per-period sums of scores.

    Parameters
    ----------
    sample : Sample
        The demeaned sample.
    lags : int
        Bartlett bandwidth L ≥ 0: lag l has weight 1 − l/(L + 1). Lags count the distinct
        periods present in the sample, in order.
    ssc : {"fixest", "linearmodels", "none"}
        Small-sample rule (module docstring); ``linearmodels`` needs L below the number of
        periods, as PanelOLS does.

    Returns
    -------
    Covariance
    """
    _check(sample, ssc)
    periods = np.unique(sample.time, return_inverse=True)[1].reshape(-1)  # in time order
    n_periods = int(periods.max()) + 1
    if not isinstance(lags, int | np.integer) or lags < 0:
        raise EstimationError(f"driscoll_kraay lags={lags!r}: a non-negative integer, please")
    if ssc == "linearmodels" and lags >= n_periods:
        raise EstimationError(
            f"driscoll_kraay lags={lags}: linearmodels needs lags below the {n_periods} periods"
        )
    if n_periods < 2:
        raise EstimationError("driscoll_kraay: the sample has a single period")
    xi = _group_sums(sample.scores, periods, n_periods)
    meat = xi.T @ xi
    for lag in range(1, min(lags, n_periods - 1) + 1):
        gamma = xi[lag:].T @ xi[:-lag]
        meat += (1.0 - lag / (lags + 1.0)) * (gamma + gamma.T)
    return _finish(sample, meat, ssc, "driscoll_kraay", groups=n_periods)


def conley(
    sample: Sample,
    cutoff_km: float,
    kernel: str = "bartlett",
    serial_lags: int = 0,
    ssc: str = "fixest",
) -> Covariance:
    """Conley spatial (and optionally serial) HAC covariance.

    Parameters
    ----------
    sample : Sample
        The demeaned sample, with ``lat``/``lon`` in degrees and one row per entity and year.
    cutoff_km : float
        Spatial cutoff C > 0 in km. Rows of the same year at great-circle distance d ≤ C
        are correlated with weight K(d): Bartlett 1 − d/C, uniform 1 (a row with itself: 1).
    kernel : {"bartlett", "uniform"}
        The kernel in space *and* time: rows of the same entity l = |t − r| ≤ L years apart
        (t ≠ r) have weight 1 − l/(L + 1) (Bartlett) or 1 (uniform). With the uniform kernel,
        L ≥ T − 1 and C below the smallest distance between entities this is entity
        clustering (CRV0 under ``ssc="none"``).
    serial_lags : int
        L ≥ 0; 0 = no serial term.
    ssc : {"fixest", "none"}
        Small-sample rule (module docstring); linearmodels has no Conley covariance.

    Returns
    -------
    Covariance

    Notes
    -----
    The spatial sum runs over pairs of distinct locations found with a k-d tree on 3-D unit
    vectors (chord radius 2 sin(C/2R), padded), their distances recomputed with the
    haversine formula; scores are first summed by (location, year). The cost is
    O(n log n + P·T·k) time and O(A·T·k + chunk·neighbours) memory for A locations, T
    years and P location pairs within C. Neither kernel is guaranteed positive
    semi-definite on a sphere; see the module docstring for the repair.
    """
    _check(sample, ssc)
    if ssc == "linearmodels":
        raise EstimationError("conley: linearmodels has no Conley covariance (use fixest or none)")
    _check_conley(sample, cutoff_km, kernel, serial_lags)
    scores = sample.scores
    meat = _spatial_meat(scores, sample.lat, sample.lon, sample.time, cutoff_km, kernel)
    if serial_lags > 0:
        meat += _serial_meat(scores, sample.entity, sample.time, serial_lags, kernel)
    return _finish(sample, meat, ssc, "conley")


def _check_rule(ssc: str) -> None:
    if ssc not in SSC_RULES:
        raise EstimationError(f"ssc {ssc!r}: one of {', '.join(SSC_RULES)}, please")


def _check(sample: Sample, ssc: str) -> int:
    """Validate the rule and the sample's shapes; the number of rows."""
    _check_rule(ssc)
    n, k = sample.X.shape
    if sample.resid.shape != (n,) or n <= k:
        raise EstimationError(f"vcov: {n} rows and {k} regressors cannot give a covariance")
    if ssc == "linearmodels" and len(sample.fe) > 2:
        raise EstimationError(
            f"ssc linearmodels: PanelOLS has at most two effects, not {list(sample.fe)}"
        )
    return n


def _check_conley(sample: Sample, cutoff_km: float, kernel: str, serial_lags: int) -> None:
    if sample.lat is None or sample.lon is None:
        raise EstimationError("conley: the sample has no lat/lon coordinates")
    if not (np.all(np.isfinite(sample.lat)) and np.all(np.isfinite(sample.lon))):
        raise EstimationError("conley: lat/lon must be finite on every row of the sample")
    if not cutoff_km > 0:
        raise EstimationError(f"conley cutoff_km={cutoff_km!r}: a positive distance, please")
    if kernel not in KERNELS:
        raise EstimationError(f"conley kernel {kernel!r}: one of {', '.join(KERNELS)}, please")
    if not isinstance(serial_lags, int | np.integer) or serial_lags < 0:
        raise EstimationError(f"conley serial_lags={serial_lags!r}: a non-negative integer")
    cells = np.unique(np.column_stack([sample.entity, sample.time]), axis=0).shape[0]
    if cells < sample.time.size:
        raise EstimationError("conley: an entity has two rows in one year")


def _finish(sample: Sample, meat: np.ndarray, ssc: str, kind: str, **cluster) -> Covariance:
    """Sandwich, scale by the rule, repair a negative diagonal."""
    factor, df, n_clusters = _rule(sample, ssc, kind, **cluster)
    bread = np.linalg.inv(sample.X.T @ sample.X)
    matrix = factor * (bread @ meat @ bread)
    return Covariance(_repaired((matrix + matrix.T) / 2.0), df, n_clusters)


def _rule(
    sample: Sample,
    ssc: str,
    kind: str,
    clusters: Sequence[np.ndarray] = (),
    groups: int | None = None,
) -> tuple[float, int | None, int | None]:
    """(factor, t degrees of freedom, clusters) of a small-sample rule for one vcov kind."""
    n, k = sample.X.shape
    n_clusters = groups if kind == "cluster" else None
    if ssc == "none":
        return 1.0, None, n_clusters
    if ssc == "linearmodels":
        counted = k + fe_parameters(sample.fe, clusters, rule="linearmodels")
        full = k + fe_parameters(sample.fe, rule="linearmodels")
        _check_df(n, full, ssc)
        return n / (n - counted), n - full, n_clusters
    big_k = k + fe_parameters(sample.fe, clusters, rule="fixest")
    _check_df(n, big_k, ssc)
    if kind in ("iid", "hetero"):
        return n / (n - big_k), n - big_k, None
    factor = (n - 1) / (n - big_k)
    if kind == "conley":
        return factor, n - big_k, None
    return factor * groups / (groups - 1), groups - 1, n_clusters


def _check_df(n: int, parameters: int, ssc: str) -> None:
    if n - parameters <= 0:
        raise EstimationError(
            f"ssc {ssc}: {n} rows leave no residual degrees of freedom after {parameters} "
            "parameters (regressors and fixed effects)"
        )


def _repaired(matrix: np.ndarray) -> np.ndarray:
    """R fixest's ``mat_posdef_fix``: a negative diagonal -> eigenvalues ≥ PSD_TOLERANCE."""
    if np.all(np.diag(matrix) >= 0):
        return matrix
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.maximum(values, PSD_TOLERANCE)) @ vectors.T


def _codes(values: np.ndarray) -> np.ndarray:
    """0..G−1 codes of any labels (hashed, in order of appearance)."""
    return pd.factorize(np.asarray(values).reshape(-1))[0].astype(np.int64)


def _is_nested(fe: np.ndarray, clusters: np.ndarray) -> bool:
    """Every level of ``fe`` lies within one cluster."""
    fe, clusters = _codes(fe), _codes(clusters)
    pairs = pd.unique(fe * (clusters.max() + 1) + clusters).size
    return pairs == fe.max() + 1


def _group_sums(scores: np.ndarray, codes: np.ndarray, groups: int) -> np.ndarray:
    """(groups, k) sums of the score rows by code."""
    return np.column_stack(
        [np.bincount(codes, weights=column, minlength=groups) for column in scores.T]
    )


def _cluster_meat(scores: np.ndarray, codes: np.ndarray) -> np.ndarray:
    sums = _group_sums(scores, codes, int(codes.max()) + 1)
    return sums.T @ sums


def _spatial_meat(
    scores: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    time: np.ndarray,
    cutoff_km: float,
    kernel: str,
) -> np.ndarray:
    """Σ_t Σ_{i,j in t} K(d_ij) s_i s_j' through location pairs within the cutoff.

    Scores are summed by (location, period) into S (A × T·k); the meat is Σ_a S_a S_a'
    (a location with itself, K = 1) plus Σ_{a<b} K_ab (S_a S_b' + S_b S_a') over the pairs
    of distinct locations, found a chunk of locations at a time.
    """
    coords, location = np.unique(np.column_stack([lat, lon]), axis=0, return_inverse=True)
    location = location.reshape(-1)
    periods = np.unique(time, return_inverse=True)[1].reshape(-1)
    n_locations, n_periods, k = coords.shape[0], int(periods.max()) + 1, scores.shape[1]
    sums = _group_sums(scores, location * n_periods + periods, n_locations * n_periods)
    meat = sums.T @ sums
    sums = sums.reshape(n_locations, -1)
    radians = np.radians(coords)
    tree = cKDTree(_unit_vectors(radians))
    chord = 2.0 * np.sin(min(cutoff_km / EARTH_RADIUS_KM, np.pi) / 2.0) * (1 + 1e-9) + 1e-12
    for start in range(0, n_locations, _CHUNK_LOCATIONS):
        rows = np.arange(start, min(start + _CHUNK_LOCATIONS, n_locations))
        weights = _kernel_block(radians, rows, tree, chord, cutoff_km, kernel)
        cross = sums[rows].reshape(-1, k).T @ (weights @ sums).reshape(-1, k)
        meat += cross + cross.T
    return meat


def _unit_vectors(radians: np.ndarray) -> np.ndarray:
    lat, lon = radians[:, 0], radians[:, 1]
    return np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])


def _kernel_block(
    radians: np.ndarray,
    rows: np.ndarray,
    tree: cKDTree,
    chord: float,
    cutoff_km: float,
    kernel: str,
) -> sparse.csr_matrix:
    """Sparse (len(rows), A) kernel weights K_ab of locations a in ``rows`` and b > a.

    Candidates come from the k-d tree (chord distance, padded); the haversine distance
    decides: a pair is in when d ≤ cutoff_km.
    """
    block = cKDTree(_unit_vectors(radians[rows]))
    pairs = block.sparse_distance_matrix(tree, chord, output_type="ndarray")
    i, j = pairs["i"], pairs["j"]
    upper = j > rows[i]
    i, j = i[upper], j[upper]
    lat_a, lon_a = radians[rows[i], 0], radians[rows[i], 1]
    lat_b, lon_b = radians[j, 0], radians[j, 1]
    h = (
        np.sin((lat_b - lat_a) / 2) ** 2
        + np.cos(lat_a) * np.cos(lat_b) * np.sin((lon_b - lon_a) / 2) ** 2
    )
    distance = 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(h, 1.0)))
    inside = distance <= cutoff_km
    i, j, distance = i[inside], j[inside], distance[inside]
    weight = 1.0 - distance / cutoff_km if kernel == "bartlett" else np.ones(distance.size)
    return sparse.csr_matrix((weight, (i, j)), shape=(rows.size, radians.shape[0]))


def _serial_meat(
    scores: np.ndarray, entity: np.ndarray, time: np.ndarray, lags: int, kernel: str
) -> np.ndarray:
    """Σ_i Σ_{t≠r, |t−r|≤L} k_|t−r| s_it s_ir' over rows of one entity, calendar lags."""
    span = int(time.max() - time.min()) + lags + 1
    key = _codes(entity).astype(np.int64) * span + (time - time.min()).astype(np.int64)
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    meat = np.zeros((scores.shape[1], scores.shape[1]))
    for lag in range(1, lags + 1):
        at = np.minimum(np.searchsorted(sorted_key, key + lag), key.size - 1)
        found = sorted_key[at] == key + lag
        gamma = scores[found].T @ scores[order[at[found]]]
        weight = 1.0 - lag / (lags + 1.0) if kernel == "bartlett" else 1.0
        meat += weight * (gamma + gamma.T)
    return meat
