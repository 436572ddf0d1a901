r"""Wild cluster bootstrap-t with the null imposed (WCR), for each coefficient separately.

The restricted wild cluster bootstrap of Cameron, Gelbach and Miller (2008), computed the way
Roodman, MacKinnon, Nielsen and Webb (2019, "Fast and wild") do: from per-cluster blocks,
never looping over rows in a replication. For coefficient j and a null value b, with
:math:`A = (\tilde X'\tilde X)^{-1}`:

1. the restricted estimate :math:`\tilde\beta = \hat\beta - A_j(\hat\beta_j - b)/A_{jj}`
   (least squares subject to :math:`\beta_j = b`) and its residuals :math:`\tilde u`;
2. replication r draws one weight :math:`v_g` per cluster (Rademacher ±1, or Webb's six
   points ±√1.5, ±1, ±√0.5 with probability 1/6 each) and sets
   :math:`y^* = \tilde X\tilde\beta + \tilde u \circ v`;
3. refits :math:`y^*` on :math:`\tilde X` *and the fixed effects* and forms
   :math:`t^*_r = (\beta^*_j - b)/\mathrm{se}^*_j`, se the cluster-robust (CRV0) standard
   error of the refit;
4. the observed :math:`t = (\hat\beta_j - b)/\mathrm{se}_j` uses the CRV0 standard error of
   the original fit (unrestricted residuals).

The p-value is symmetric (two-sided): the share of replications with
:math:`|t^*_r| \ge |t|`, ties counted, i.e. :math:`t^{*2}_r \ge (1 - 10^{-10})\,t^2`
(:data:`TIE_RTOL`); a constant v reproduces the sample, t* = ±t. Both t statistics use
CRV0, so a small-sample factor (which scales them alike) cancels; the reported standard
error and t are the analytic ones of :func:`spillover.estimate.vcov.cluster` under the
spec's ``ssc`` (CRV1 for fixest).

Numerator and squared denominator of :math:`t^*_r` are affine and quadratic in b, so five
numbers per replication give :math:`t^*_r(b)` for every b. The confidence interval inverts
the test with the *same* draws: each bound is where p(b) first falls to 1 − level or
below, walking out from :math:`\hat\beta` in steps of half a standard error (to 8, then
doubling) and bisecting the last step. It is deterministic. A side not rejected within
8192 standard errors is unbounded (±inf): with G ≤ 5 Rademacher clusters p ≥ 2/2^G > 0.05
for every b.

Full enumeration: with Rademacher weights and :math:`2^G \le` reps, all :math:`2^G` sign
vectors are used once each (the seed plays no role) and the result says ``enumerated``;
otherwise ``reps`` draws come from ``numpy.random.default_rng(seed)``.

Fixed effects. The sample is demeaned, and the bootstrap refits must remove the fixed
effects from :math:`y^*` again. A fixed effect nested in the clusters (each level inside one
cluster) needs nothing: :math:`\tilde u \circ v` stays orthogonal to it. The others (year
effects with firm clusters, say) change the bootstrap residuals by
:math:`P_D(\tilde u \circ v)`; their per-cluster cross products are computed exactly
from (level × cluster) sums: with A the fixed effect of most levels (diagonal
:math:`D_A'D_A`) and R the others,
:math:`P_D = P_A + \check D (\check D'\check D)^+ \check D'` with
:math:`\check D = M_A D_R` (at most :data:`MAX_OTHER_LEVELS` levels in R). Under regression
weights the rows are scaled by √w and ``row_weights`` must be passed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from spillover.estimate import vcov
from spillover.estimate.errors import EstimationError

WEIGHT_KINDS = ("rademacher", "webb")
"""Auxiliary weight distributions: Rademacher ±1; Webb ±√1.5, ±1, ±√0.5 (each 1/6)."""

TIE_RTOL = 1e-10
"""A replication counts as at least as extreme when t*² ≥ (1 − TIE_RTOL) t²."""

MAX_OTHER_LEVELS = 5000
"""Most levels of the non-largest fixed effects when a fixed effect is not nested."""

_VALUES = {
    "rademacher": np.array([-1.0, 1.0]),
    "webb": np.array([-np.sqrt(1.5), -1.0, -np.sqrt(0.5), np.sqrt(0.5), 1.0, np.sqrt(1.5)]),
}
_BLOCK = 1 << 21
"""Elements of one (clusters × replications) block of weights."""
_STEPS = (*np.arange(0.5, 8.01, 0.5), *(8.0 * 2.0 ** np.arange(1, 11)))
"""Distances from the estimate (standard errors) tried by the confidence interval walk;
a side not rejected within 8192 standard errors is unbounded."""
_BISECTIONS = 60


@dataclass(frozen=True)
class AuxiliaryWeights:
    """The cluster weights of every replication, as codes into a table of values."""

    codes: np.ndarray
    """(G, reps) int8 indices into ``values``: column r is replication r."""
    values: np.ndarray
    """The support of the weight distribution."""
    enumerated: bool
    """All 2^G Rademacher sign vectors, once each."""

    @property
    def reps(self) -> int:
        """Number of replications."""
        return self.codes.shape[1]

    def matrix(self, reps: slice = slice(None)) -> np.ndarray:
        """(G, replications) weights v_g of the replications ``reps``."""
        return self.values[self.codes[:, reps]]


def auxiliary_weights(
    n_clusters: int, reps: int, kind: str = "rademacher", seed: int = 0
) -> AuxiliaryWeights:
    """Draw (or enumerate) the weights of ``reps`` replications for ``n_clusters`` clusters.

    Parameters
    ----------
    n_clusters : int
        G, the number of clusters.
    reps : int
        Replications wanted; with Rademacher weights and 2^G ≤ reps, all 2^G sign vectors
        are enumerated instead (replication r has v_g = +1 when bit g of r is set).
    kind : {"rademacher", "webb"}
        Weight distribution.
    seed : int
        Seed of ``numpy.random.default_rng`` (unused when enumerating).

    Returns
    -------
    AuxiliaryWeights
    """
    if kind not in WEIGHT_KINDS:
        raise EstimationError(f"wild bootstrap weights {kind!r}: one of {WEIGHT_KINDS}, please")
    if reps < 1 or n_clusters < 1:
        raise EstimationError(f"wild bootstrap: {reps} replications of {n_clusters} clusters")
    values = _VALUES[kind]
    if kind == "rademacher" and n_clusters < 63 and 2**n_clusters <= reps:
        codes = (np.arange(2**n_clusters) >> np.arange(n_clusters)[:, None]) & 1
        return AuxiliaryWeights(codes.astype(np.int8), values, True)
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, values.size, size=(n_clusters, reps), dtype=np.int8)
    return AuxiliaryWeights(codes, values, False)


@dataclass(frozen=True)
class NullDistribution:
    r"""Observed and bootstrap t of one coefficient for any null value b.

    Replication r has :math:`t^*_r(b) = (n_0 + b n_1) / \sqrt{d_{00} + 2b d_{01} + b^2
    d_{11}}` (CRV0 denominator); the observed statistic is :math:`(\hat\beta_j - b)/se`.
    """

    coef: float
    """The estimate β̂_j."""
    se: float
    """Its CRV0 standard error (original residuals)."""
    n0: np.ndarray
    n1: np.ndarray
    d00: np.ndarray
    d01: np.ndarray
    d11: np.ndarray

    def t_stat(self, null: float) -> float:
        """Observed t for H0: β_j = null."""
        return (self.coef - null) / self.se

    def t_star(self, null: float) -> np.ndarray:
        """(reps,) bootstrap t of the replications under H0: β_j = null."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return (self.n0 + null * self.n1) / np.sqrt(self._den2(null))

    def p_value(self, null: float) -> float:
        """Share of replications with |t*| ≥ |t| (up to :data:`TIE_RTOL`) under H0."""
        num2 = (self.n0 + null * self.n1) ** 2
        observed = (1.0 - TIE_RTOL) * (self.coef - null) ** 2 / self.se**2
        return float(np.mean(num2 >= observed * self._den2(null)))

    def _den2(self, null: float) -> np.ndarray:
        return np.maximum(self.d00 + 2.0 * null * self.d01 + null**2 * self.d11, 0.0)


@dataclass(frozen=True)
class BootstrapResult:
    """Wild cluster bootstrap inference of every coefficient of one fit."""

    coef: np.ndarray
    """(k,) estimates."""
    se: np.ndarray
    """(k,) analytic cluster-robust standard errors under the spec's ssc (CRV1 for fixest)."""
    t: np.ndarray
    """(k,) coef / se."""
    p: np.ndarray
    """(k,) bootstrap p-values of H0: β_j = 0 (symmetric)."""
    ci_low: np.ndarray
    """(k,) lower bounds of the test-inversion confidence intervals (−inf if unbounded)."""
    ci_high: np.ndarray
    """(k,) upper bounds (+inf if unbounded)."""
    reps_used: int
    """Replications: reps, or 2^G under full enumeration."""
    enumerated: bool
    """All 2^G Rademacher sign vectors were used (exact; the seed plays no role)."""
    n_clusters: int
    """G, the number of bootstrap clusters."""

    @property
    def df_inference(self) -> None:
        """None: p-values and intervals come from the bootstrap, not a t distribution."""
        return None


def wild_cluster(
    sample: vcov.Sample,
    clusters: np.ndarray,
    reps: int = 9999,
    weights: str = "rademacher",
    seed: int = 0,
    ssc: str = "fixest",
    *,
    level: float = 0.95,
    row_weights: np.ndarray | None = None,
) -> BootstrapResult:
    """WCR wild cluster bootstrap-t p-values and confidence intervals of every coefficient.

    Parameters
    ----------
    sample : Sample
        The demeaned sample (rows scaled by √w under weights).
    clusters : numpy.ndarray
        (n,) labels of the bootstrap clusters.
    reps : int
        Replications (Rademacher with 2^G ≤ reps: full enumeration instead).
    weights : {"rademacher", "webb"}
        Auxiliary weight distribution.
    seed : int
        Seed of the draws.
    ssc : {"fixest", "linearmodels", "none"}
        Small-sample rule of the reported standard errors (it does not change p or CI).
    level : float
        Confidence level of the intervals.
    row_weights : numpy.ndarray, optional
        (n,) regression weights w (rows of ``sample`` scaled by √w); None = unweighted.
        Only used to re-project fixed effects that are not nested in the clusters.

    Returns
    -------
    BootstrapResult
    """
    codes = _cluster_codes(clusters, sample.y.size)
    n_clusters = int(codes.max()) + 1
    aux = auxiliary_weights(n_clusters, reps, weights, seed)
    dists = null_distributions(sample, codes, aux, row_weights=row_weights)
    se = np.sqrt(np.diag(vcov.cluster(sample, {"cluster": codes}, ssc).matrix))
    coef = np.array([d.coef for d in dists])
    bounds = np.array([_interval(d, s, level) for d, s in zip(dists, se, strict=True)])
    return BootstrapResult(
        coef=coef,
        se=se,
        t=coef / se,
        p=np.array([d.p_value(0.0) for d in dists]),
        ci_low=bounds[:, 0],
        ci_high=bounds[:, 1],
        reps_used=aux.reps,
        enumerated=aux.enumerated,
        n_clusters=n_clusters,
    )


def null_distributions(
    sample: vcov.Sample,
    clusters: np.ndarray,
    aux: AuxiliaryWeights,
    *,
    row_weights: np.ndarray | None = None,
) -> list[NullDistribution]:
    """The bootstrap t of every coefficient as a function of its null value.

    Parameters
    ----------
    sample : Sample
        The demeaned sample.
    clusters : numpy.ndarray
        (n,) cluster labels; G of them, as many as ``aux`` has rows.
    aux : AuxiliaryWeights
        The weights of the replications (shared by all coefficients).
    row_weights : numpy.ndarray, optional
        (n,) regression weights (see :func:`wild_cluster`).

    Returns
    -------
    list of NullDistribution
        One per column of ``sample.X``.
    """
    x, y = sample.X, sample.y
    codes = _cluster_codes(clusters, y.size)
    n_clusters = int(codes.max()) + 1
    if aux.codes.shape[0] != n_clusters:
        raise EstimationError(f"wild bootstrap: weights for {aux.codes.shape[0]} clusters")
    inverse = np.linalg.inv(x.T @ x)
    beta = inverse @ (x.T @ y)
    resid = y - x @ beta
    blocks = _cluster_blocks(x, resid, codes, n_clusters)
    projection = _FixedEffects.build(sample.fe, codes, n_clusters, row_weights)
    parts = [
        _Coefficient.build(j, beta, inverse, x, resid, blocks, projection)
        for j in range(x.shape[1])
    ]
    sums = np.zeros((len(parts), 5, aux.reps))
    step = max(1, _BLOCK // n_clusters)
    for start in range(0, aux.reps, step):
        reps = slice(start, min(start + step, aux.reps))
        v = aux.matrix(reps)
        for part, out in zip(parts, sums, strict=True):
            out[:, reps] = part.replications(v)
    return [NullDistribution(float(beta[j]), parts[j].se, *sums[j]) for j in range(len(parts))]


def _cluster_codes(clusters: np.ndarray, n: int) -> np.ndarray:
    labels = np.asarray(clusters)
    if labels.shape != (n,):
        raise EstimationError(f"wild bootstrap: {labels.shape} cluster labels for {n} rows")
    codes = np.unique(labels, return_inverse=True)[1].reshape(-1)
    if codes.max() < 1:
        raise EstimationError("wild bootstrap: only one cluster in the sample")
    return codes


def _cluster_blocks(
    x: np.ndarray, resid: np.ndarray, codes: np.ndarray, groups: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per-cluster cross products X̃_g'X̃_g (G, k, k) and scores X̃_g'e_g (G, k)."""
    k = x.shape[1]
    xx = np.empty((groups, k, k))
    for a in range(k):
        for b in range(a, k):
            xx[:, a, b] = xx[:, b, a] = np.bincount(codes, x[:, a] * x[:, b], groups)
    xe = np.column_stack([np.bincount(codes, col * resid, groups) for col in x.T])
    return xx, xe


@dataclass(frozen=True)
class _FixedEffects:
    """Factors of (p∘1_g)' P_D (q∘1_h) = left(p) @ right(q) for all clusters g, h.

    P_D = P_A + Ď S⁺ Ď' with A the fixed effect of most levels, Ď = M_A D_R the other
    fixed effects net of A and S = Ď'Ď, all in the √w-scaled space. For p, q orthogonal to
    the fixed effects, a level of A inside one cluster adds nothing, so only the levels of A
    that span clusters enter: the rank is their number plus the levels of R.
    """

    codes: np.ndarray
    groups: int
    root: np.ndarray
    """(n,) √w."""
    a_rows: np.ndarray
    """Rows whose level of A spans clusters."""
    a_codes: np.ndarray
    """Codes 0..L'−1 of those rows' levels."""
    a_mass: np.ndarray
    """(L',) Σ w of each spanning level."""
    a_cross: sparse.csr_matrix
    """(L', L_R) D_A' W D_R of the spanning levels."""
    r_codes: np.ndarray
    """(n, number of other fixed effects) codes, offset into one range 0..L_R−1."""
    s_pinv: np.ndarray
    """(L_R, L_R) S⁺."""

    @classmethod
    def build(
        cls,
        fe: dict[str, np.ndarray],
        codes: np.ndarray,
        groups: int,
        row_weights: np.ndarray | None,
    ) -> _FixedEffects | None:
        """None when every fixed effect is nested in the clusters (nothing to re-project)."""
        effects = [np.unique(c, return_inverse=True)[1].reshape(-1) for c in fe.values()]
        if all(_nested(f, codes, groups) for f in effects):
            return None
        w = np.ones(codes.size) if row_weights is None else np.asarray(row_weights, float)
        effects.sort(key=lambda f: -(int(f.max()) + 1))
        big, others = effects[0], effects[1:]
        offsets = np.cumsum([0] + [int(f.max()) + 1 for f in others])
        if offsets[-1] > MAX_OTHER_LEVELS:
            raise EstimationError(
                f"wild bootstrap: the fixed effects besides the largest have {offsets[-1]} "
                f"levels (at most {MAX_OTHER_LEVELS} when one is not nested in the clusters)"
            )
        r_codes = np.zeros((codes.size, len(others)), dtype=np.int64)
        for column, (f, offset) in enumerate(zip(others, offsets, strict=False)):
            r_codes[:, column] = f + offset
        mass = np.bincount(big, w)
        cross = _crosstab(big, mass.size, r_codes, int(offsets[-1]), w)
        gram = _crosstab(r_codes, offsets[-1], r_codes, offsets[-1], w).toarray()
        gram -= (cross.T @ sparse.diags(1.0 / mass) @ cross).toarray()
        spanning = np.bincount(np.unique(big.astype(np.int64) * groups + codes) // groups) > 1
        rows = np.flatnonzero(spanning[big])
        return cls(
            codes=codes,
            groups=groups,
            root=np.sqrt(w),
            a_rows=rows,
            a_codes=np.unique(big[rows], return_inverse=True)[1].reshape(-1),
            a_mass=mass[spanning],
            a_cross=cross[np.flatnonzero(spanning)],
            r_codes=r_codes,
            s_pinv=np.linalg.pinv(gram, rcond=1e-10, hermitian=True),
        )

    def left(self, p: np.ndarray) -> np.ndarray:
        """(G, rank) [D_A'(√w p∘1_g) / mass ; S⁺ Ď'(p∘1_g)]'."""
        z_a, z_r = self._sums(p)
        return np.hstack([(z_a / self.a_mass[:, None]).T, z_r.T @ self.s_pinv])

    def right(self, q: np.ndarray) -> np.ndarray:
        """(rank, G) [D_A'(√w q∘1_h) ; Ď'(q∘1_h)]."""
        return np.vstack(self._sums(q))

    def _sums(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Dense D_A'(√w p∘1_g) (L' × G, spanning levels) and Ď'(√w p∘1_g) (L_R × G)."""
        values = self.root * p
        z_a = _dense_crosstab(
            self.a_codes,
            self.a_mass.size,
            self.codes[self.a_rows],
            self.groups,
            values[self.a_rows],
        )
        z_r = _dense_crosstab(self.r_codes, self.s_pinv.shape[0], self.codes, self.groups, values)
        return z_a, z_r - self.a_cross.T @ (z_a / self.a_mass[:, None])


def _nested(fe: np.ndarray, codes: np.ndarray, groups: int) -> bool:
    """Every level of ``fe`` lies in one cluster."""
    return np.unique(fe.astype(np.int64) * groups + codes).size == int(fe.max()) + 1


def _crosstab(
    rows: np.ndarray, n_rows: int, cols: np.ndarray, n_cols: int, values: np.ndarray
) -> sparse.csr_matrix:
    """Sparse (n_rows × n_cols) sums of ``values`` by (row code, column code).

    ``rows`` and ``cols`` are (n,) or (n, m) codes; with m columns a row adds its value
    once per column (stacked fixed effects), for every pair of a row and a column code.
    """
    rows = rows if rows.ndim == 2 else rows[:, None]
    cols = cols if cols.ndim == 2 else cols[:, None]
    r = np.repeat(rows, cols.shape[1], axis=1).ravel()
    c = np.tile(cols, (1, rows.shape[1])).ravel()
    data = np.repeat(values, rows.shape[1] * cols.shape[1])
    return sparse.csr_matrix((data, (r, c)), shape=(n_rows, n_cols))


def _dense_crosstab(
    rows: np.ndarray, n_rows: int, cols: np.ndarray, n_cols: int, values: np.ndarray
) -> np.ndarray:
    """:func:`_crosstab` as a dense array."""
    return _crosstab(rows, n_rows, cols, n_cols, values).toarray()


@dataclass(frozen=True)
class _Coefficient:
    """Per-cluster pieces of the bootstrap t of coefficient j, affine in the null value b.

    Replication v has numerator c(b)'v and per-cluster denominator terms
    q(b) = c(b)∘v − m z(b) v, with S_g(b) = X̃_g'ũ_g(b) (G × k), c = S A_j,
    m = [R, F_left], z = [S' ; F_right], R_g = A X̃_g'X̃_g A_j and F = F_left F_right the
    fixed-effect re-projection; q = M v with M = diag(c) − m z dense (G × G) when m has
    more than G/2 columns. The per-cluster q are formed explicitly (not through the
    expanded Gram form Σ c²v² − 2 z'm'(c∘v) + z'm'mz), so that a replication that
    reproduces the sample (v constant) keeps d11 ≈ 0 to rounding squared.
    """

    se: float
    """CRV0 standard error of β̂_j (original residuals)."""
    c: np.ndarray
    """(2, G) c(0) and dc/db."""
    m: np.ndarray
    """(G, d)."""
    z: np.ndarray
    """(2, d, G) z(0) and dz/db."""
    dense: np.ndarray | None
    """(2, G, G) M(0) and dM/db when 2d > G, else None."""

    @classmethod
    def build(
        cls,
        j: int,
        beta: np.ndarray,
        inverse: np.ndarray,
        x: np.ndarray,
        resid: np.ndarray,
        blocks: tuple[np.ndarray, np.ndarray],
        projection: _FixedEffects | None,
    ) -> _Coefficient:
        xx, xe = blocks
        a_j = inverse[:, j]
        xx_a = xx @ a_j
        s = np.stack([xe + xx_a * (beta[j] / a_j[j]), -xx_a / a_j[j]])
        se = float(np.sqrt(np.sum((xe @ a_j) ** 2)))
        if not se > 0:
            raise EstimationError(f"wild bootstrap: coefficient {j} has zero cluster scores")
        m, z = xx_a @ inverse, s.transpose(0, 2, 1)
        if projection is not None:
            p = x @ a_j
            right = [projection.right(q) for q in (resid + p * (beta[j] / a_j[j]), -p / a_j[j])]
            m = np.hstack([m, projection.left(p)])
            z = np.concatenate([z, np.stack(right)], axis=1)
        c = s @ a_j
        dense = c[:, :, None] * np.eye(c.shape[1]) - m @ z if 2 * m.shape[1] > c.shape[1] else None
        return cls(se, c, m, z, dense)

    def replications(self, v: np.ndarray) -> np.ndarray:
        """(5, reps) n0, n1, d00, d01, d11 of the weights ``v`` (G × reps)."""
        q = [self._scores(i, v) for i in (0, 1)]
        return np.vstack([self.c @ v, _dot(q[0], q[0]), _dot(q[0], q[1]), _dot(q[1], q[1])])

    def _scores(self, i: int, v: np.ndarray) -> np.ndarray:
        """(G, reps) q(0) (i = 0) or dq/db (i = 1)."""
        if self.dense is not None:
            return self.dense[i] @ v
        q = self.m @ (self.z[i] @ v)
        return np.subtract(self.c[i][:, None] * v, q, out=q)


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Column-wise inner products."""
    return np.einsum("gr,gr->r", a, b)


def _interval(dist: NullDistribution, scale: float, level: float) -> tuple[float, float]:
    """Bounds of {b : p(b) > 1 − level} on each side of the estimate."""
    return _bound(dist, -1.0, scale, 1.0 - level), _bound(dist, 1.0, scale, 1.0 - level)


def _bound(dist: NullDistribution, side: float, scale: float, alpha: float) -> float:
    """First crossing of p(b) ≤ alpha walking from the estimate (steps of ``scale``)."""
    accepted = 0.0
    for step in _STEPS:
        if dist.p_value(dist.coef + side * step * scale) <= alpha:
            rejected = step
            break
        accepted = step
    else:
        return side * np.inf
    for _ in range(_BISECTIONS):
        middle = (accepted + rejected) / 2.0
        if dist.p_value(dist.coef + side * middle * scale) <= alpha:
            rejected = middle
        else:
            accepted = middle
    return dist.coef + side * (accepted + rejected) / 2.0 * scale
