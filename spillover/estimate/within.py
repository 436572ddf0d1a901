r"""Fixed effects: integer codes, singleton removal and the within (demeaning) transformation.

``Demeaner(codes, weights).demean(M)`` returns the residuals of the weighted least-squares
projection of every column of ``M`` on the dummies of all fixed effects,
``M − D(D'WD)⁻D'WM`` (``D`` the stacked dummies, ``W = diag(weights)``), so that OLS on the
demeaned columns gives the fixed-effects estimator. The fixed effect with the most levels,
``A``, is removed exactly by weighted group means; the others, ``B``, are solved for on the
Schur complement

    S = B'W(I − P_A)B,    S α = B'W(I − P_A) m,    demeaned m = (I − P_A)(m − Bα),

(``P_A`` the weighted projection on ``A``) by conjugate gradients with a Jacobi
preconditioner, one column of ``M`` per right-hand side. ``S`` is only as large as the
number of levels of ``B`` (for entity + year: the years), so an iteration costs nothing
next to a pass over the rows, and ``S`` is built once per :class:`Demeaner`, which callers
share across specs with the same fixed effects, rows and weights. ``S`` is singular
whenever the fixed effects overlap (entity + year always do, by one dimension); conjugate
gradients on the consistent system still converge, and the null space of ``S`` leaves
the demeaned columns unchanged. A level of ``B`` that ``A`` absorbs (a firm made of whole
entities) is dropped from ``B`` first.

Convergence: a column is done when ‖S α − b‖ ≤ ``tol`` · ‖B'W|m|‖ (Euclidean norms over
the levels of ``B``; the scale is the right-hand side before any cancellation, so that a
column the fixed effects absorb, whose ``b`` is pure roundoff, stops at once instead of
chasing roundoff in the null space of ``S``). With the default ``tol = 1e-14`` the
demeaned columns agree with a dense least-squares solution to about 1e-14 of their scale
(1e-11 on a badly connected entity–firm network), far inside the 1e-10 the estimates are
checked to. One fixed effect needs no iteration.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

from spillover.estimate.errors import EstimationError

#: A level of ``B`` whose Schur diagonal is below this share of its weight lies in ``A``.
ABSORBED = 1e-9


def fe_codes(frame: pd.DataFrame, names: list[str]) -> dict[str, np.ndarray]:
    """Integer codes 0..G−1 (int64) of each fixed effect, by name.

    Parameters
    ----------
    frame : pandas.DataFrame
        The rows to estimate on.
    names : list of str
        Fixed effects: a column of ``frame`` (``entity``, ``firm``...) or an interaction of
        columns joined by ``^`` (``pref^year``: one level per prefecture and year seen).

    Returns
    -------
    dict of str to numpy.ndarray
        Codes (levels in sorted order) per name, each of length ``len(frame)``.

    Raises
    ------
    EstimationError
        If a column is missing from ``frame`` or has missing values (drop those rows first:
        a missing level is not a level).
    """
    codes = {}
    for name in names:
        absent = [part for part in name.split("^") if part not in frame.columns]
        if absent:
            raise EstimationError(
                f"fixed effect {name!r}: no column {absent} (columns: {list(frame.columns)})"
            )
        parts = [_column_codes(frame, name, part) for part in name.split("^")]
        combined = parts[0][0].astype(np.int64)
        for part_codes, count in parts[1:]:
            combined = np.unique(combined * count + part_codes, return_inverse=True)[1]
        codes[name] = combined.astype(np.int64)
    return codes


def _column_codes(frame: pd.DataFrame, name: str, column: str) -> tuple[np.ndarray, int]:
    """Codes of one column (levels sorted) and the number of levels."""
    missing = int(frame[column].isna().sum())
    if missing:
        raise EstimationError(
            f"fixed effect {name!r}: column {column!r} has {missing} missing value(s); "
            "drop those rows first"
        )
    codes, uniques = pd.factorize(frame[column], sort=True)
    return codes, len(uniques)


def levels(codes: dict[str, np.ndarray]) -> dict[str, int]:
    """Number of levels present in each fixed effect."""
    return {name: int(np.unique(c).size) for name, c in codes.items()}


def drop_singletons(codes: dict[str, np.ndarray]) -> np.ndarray:
    """Keep mask without the rows alone in a level of some fixed effect, repeated to the end.

    Dropping a singleton can leave another row alone in a level of another fixed effect, so
    the fixed effects are swept until a sweep drops nothing (fixest's rule; the rows left
    do not depend on the order). The caller counts ``(~keep).sum()`` as singletons dropped.

    Parameters
    ----------
    codes : dict of str to numpy.ndarray
        Non-negative integer codes of one or more fixed effects, all of the same length n.

    Returns
    -------
    numpy.ndarray of bool
        (n,) True for the rows kept.
    """
    if not codes:
        raise EstimationError("drop_singletons: no fixed effects given")
    keep = np.ones(len(next(iter(codes.values()))), dtype=bool)
    dropped = True
    while dropped:
        dropped = False
        for c in codes.values():
            alone = keep & (np.bincount(c, weights=keep)[c] == 1)
            if alone.any():
                keep &= ~alone
                dropped = True
    return keep


def _compact(codes: np.ndarray) -> np.ndarray:
    """Codes renumbered 0..G−1 over the levels present."""
    present = np.bincount(codes) > 0
    return (np.cumsum(present) - 1)[codes]


def _dummies(codes: np.ndarray, weights: np.ndarray, width: int) -> sparse.csr_array:
    """(n, width) one weighted entry per row at column ``codes``."""
    n = codes.size
    return sparse.csr_array((weights, codes, np.arange(n + 1)), shape=(n, width))


class Demeaner:
    """Removes a set of fixed effects from columns (weighted least squares residuals).

    Parameters
    ----------
    codes : dict of str to numpy.ndarray
        Integer codes of one or more fixed effects, each (n,), on the rows to be demeaned
        (after singleton removal); levels need not be consecutive.
    weights : numpy.ndarray, optional
        (n,) positive weights; group means are weighted by them. None = equal weights.
    tol : float
        Convergence of the conjugate gradients (two or more fixed effects): every column's
        residual ‖S α − b‖ at most ``tol`` times ‖B'W|m|‖ (see the module docstring).
    maxiter : int
        Conjugate-gradient iterations allowed before :class:`EstimationError`.

    Attributes
    ----------
    names : list of str
        The fixed effects, as given.
    n : int
        Number of rows.
    """

    def __init__(
        self,
        codes: dict[str, np.ndarray],
        weights: np.ndarray | None = None,
        *,
        tol: float = 1e-14,
        maxiter: int = 5000,
    ) -> None:
        if not codes:
            raise EstimationError("Demeaner: no fixed effects given")
        self.names = list(codes)
        compact = {name: _compact(np.asarray(c, dtype=np.int64)) for name, c in codes.items()}
        self.n = len(next(iter(compact.values())))
        if self.n == 0 or any(c.size != self.n for c in compact.values()):
            raise EstimationError(f"Demeaner: fixed effects {self.names} empty or unequal")
        w = np.ones(self.n) if weights is None else np.asarray(weights, dtype=np.float64)
        if w.shape != (self.n,) or not (np.isfinite(w).all() and (w > 0).all()):
            raise EstimationError(f"Demeaner: weights must be {self.n} positive finite numbers")
        self.tol, self.maxiter = tol, maxiter
        order = sorted(compact, key=lambda name: -compact[name].max())
        first = compact[order[0]]
        self._a = first
        self._a_weight = np.bincount(first, weights=w)
        self._a_sum = _dummies(first, w, self._a_weight.size).T.tocsr()
        self._schur(w, [compact[name] for name in order[1:]])

    def _schur(self, w: np.ndarray, others: list[np.ndarray]) -> None:
        """``B`` (levels of the other fixed effects, absorbed ones dropped) and ``S``."""
        self._b = None
        if not others:
            return
        offsets = np.cumsum([0] + [c.max() + 1 for c in others])
        rows = np.concatenate([c + o for c, o in zip(others, offsets[:-1], strict=True)])
        n, k = self.n, len(others)
        b = sparse.csr_array(
            (np.ones(n * k), rows.reshape(k, n).T.ravel(), np.arange(0, n * k + 1, k)),
            shape=(n, offsets[-1]),
        )
        weighted = (b.T @ sparse.diags_array(w)).tocsr()
        cross = weighted @ _dummies(self._a, np.ones(n), self._a_weight.size)
        schur = weighted @ b - cross @ sparse.diags_array(1.0 / self._a_weight) @ cross.T
        own = weighted.sum(axis=1)
        kept = np.flatnonzero(schur.diagonal() > ABSORBED * own)
        if kept.size == 0:
            return
        self._b = b[:, kept].tocsr()
        self._b_sum = weighted[kept].tocsr()
        self._s = schur.tocsr()[kept][:, kept].tocsr()
        self._diag = self._s.diagonal()

    def _within_a(self, matrix: np.ndarray) -> np.ndarray:
        """``matrix`` minus its weighted means over the levels of ``A``."""
        means = (self._a_sum @ matrix) / self._a_weight[:, None]
        return matrix - means[self._a]

    def demean(self, matrix: np.ndarray) -> np.ndarray:
        """Every column of ``matrix`` (n, m) with all fixed effects removed, (n, m).

        Raises
        ------
        EstimationError
            If the shape is wrong, a value is not finite, or the conjugate gradients do not
            converge within ``maxiter`` iterations.
        """
        matrix = np.asarray(matrix, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[0] != self.n:
            raise EstimationError(f"demean: expected ({self.n}, m) values, got {matrix.shape}")
        if not np.isfinite(matrix).all():
            raise EstimationError("demean: values must be finite")
        within = self._within_a(matrix)
        if self._b is None:
            return within
        scale = np.linalg.norm(self._b_sum @ np.abs(matrix), axis=0)
        alpha = self._solve(self._b_sum @ within, self.tol * scale)
        return within - self._within_a(self._b @ alpha)

    def _solve(self, rhs: np.ndarray, target: np.ndarray) -> np.ndarray:
        """α with S α = rhs (p, m), to residual norms ``target`` (m,), by Jacobi-PCG."""
        alpha = np.zeros_like(rhs)
        residual = rhs.copy()
        z = residual / self._diag[:, None]
        direction = z.copy()
        rz = (residual * z).sum(axis=0)
        for _ in range(self.maxiter):
            # a column stops when it converges (roundoff in its null space would grow α)
            active = np.linalg.norm(residual, axis=0) > target
            if not active.any():
                return alpha
            image = self._s @ direction
            curvature = (direction * image).sum(axis=0)
            step = np.divide(rz, curvature, out=np.zeros_like(rz), where=active & (curvature > 0))
            alpha += step * direction
            residual -= step * image
            z = residual / self._diag[:, None]
            rz_next = (residual * z).sum(axis=0)
            ratio = np.divide(rz_next, rz, out=np.zeros_like(rz), where=active & (rz > 0))
            direction = z + ratio * direction
            rz = rz_next
        raise EstimationError(
            f"demeaning on the fixed effects {self.names} did not converge in "
            f"{self.maxiter} iterations"
        )
