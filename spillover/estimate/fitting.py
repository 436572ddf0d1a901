"""Fit one spec on any panel: within transformation, OLS, and the spec's inference.

``fit(panel, spec)`` is the public API (the pipeline's ``estimate`` stage calls it too).
The default engine demeans with :mod:`spillover.estimate.within` (shared across specs
through a :class:`DemeanCache`); ``engine: linearmodels`` takes the coefficients and the
demeaned data from linearmodels' ``AbsorbingLS``, the reference. Either way the covariance
comes from :mod:`spillover.estimate.vcov` (or :mod:`spillover.estimate.bootstrap`).
"""

from __future__ import annotations

import hashlib
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from spillover.estimate import bootstrap, vcov, within
from spillover.estimate.errors import EstimationError
from spillover.estimate.sample import Sample, estimation_sample
from spillover.specs import ModelSpec

#: Columns of :func:`fit`'s result, one row per regressor term.
FIT_COLUMNS = [
    "spec_id",
    "term",
    "coef",
    "se",
    "t",
    "p",
    "ci_low",
    "ci_high",
    "nobs",
    "n_entities",
    "n_clusters",
    "singletons_dropped",
    "df_inference",
    "fe",
    "vcov",
    "ssc",
    "r2_within",
]
CONFIDENCE = 0.95


class DemeanCache:
    """Demeaned columns kept per (source panel, fixed effects, sample rows, weights).

    Specs fitted on the same source panel (``source``: any hashable naming it, e.g. the
    family and radius) that share fixed effects, sample rows and weights demean each term
    once; a fresh cache per panel is always safe.
    """

    def __init__(self) -> None:
        self._demeaners: dict[tuple, within.Demeaner] = {}
        self._columns: dict[tuple, np.ndarray] = {}

    def demeaned(
        self, sample: Sample, spec: ModelSpec, columns: list[str], source: object = None
    ) -> np.ndarray:
        """``columns`` of ``sample`` with the spec's fixed effects removed (weighted), (n, m)."""
        frame = sample.frame
        rows = hashlib.blake2b(sample.rows.tobytes(), digest_size=16).hexdigest()
        key = (source, tuple(spec.fe), spec.sample.weights, rows)
        todo = [c for c in columns if (*key, c) not in self._columns]
        if todo:
            matrix = frame[todo].to_numpy(dtype="float64")
            if spec.fe:
                if key not in self._demeaners:
                    weights = frame["weight"].to_numpy(dtype="float64")
                    self._demeaners[key] = within.Demeaner(sample.codes, weights=weights)
                matrix = self._demeaners[key].demean(matrix)
            self._columns.update({(*key, c): matrix[:, i] for i, c in enumerate(todo)})
        return np.column_stack([self._columns[(*key, c)] for c in columns])


def _absorbing_ls(sample: Sample, spec: ModelSpec, names: list[str]):
    """Demeaned y, X and coefficients from linearmodels ``AbsorbingLS`` (the reference)."""
    from linearmodels.iv.absorbing import AbsorbingLS

    frame = sample.frame
    absorb = pd.DataFrame({fe: pd.Categorical(codes) for fe, codes in sample.codes.items()})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = AbsorbingLS(
            frame[names[0]].to_numpy(),
            frame[names[1:]].to_numpy(),
            absorb=absorb if spec.fe else None,
            weights=frame["weight"].to_numpy(),
        )
        result = model.fit(cov_type="unadjusted", absorb_options={"atol": 1e-14, "btol": 1e-14})
    root = np.sqrt(frame["weight"].to_numpy())
    y = np.asarray(model.absorbed_dependent).ravel() / root
    x = np.asarray(model.absorbed_exog) / root[:, None]
    return y, x, np.asarray(result.params)


def _solve(y: np.ndarray, x: np.ndarray, raw: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """OLS coefficients; a regressor the fixed effects absorb (or a collinear set) is an error.

    A demeaned column at 1e-9 of its own size before demeaning (``raw``) is absorbed.
    """
    names = spec.regressor_names
    scale = np.sqrt((x * x).sum(axis=0))
    before = np.sqrt((raw * raw).sum(axis=0))
    absorbed = [n for n, s, b in zip(names, scale, before, strict=True) if s <= 1e-9 * b]
    if absorbed or np.linalg.matrix_rank(x / np.where(scale > 0, scale, 1.0)) < x.shape[1]:
        raise EstimationError(
            f"models[{spec.id}]: {absorbed or names} collinear with the fixed effects "
            f"{spec.fe} (or with each other) on this sample"
        )
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    return beta


def _design(sample: Sample, spec: ModelSpec, cache: DemeanCache, source: object) -> tuple:
    names = [t.text for t in spec.terms]
    if spec.engine == "linearmodels":
        y, x, beta = _absorbing_ls(sample, spec, names)
    else:
        both = cache.demeaned(sample, spec, names, source)
        y, x, beta = both[:, 0], both[:, 1:], None
    root = np.sqrt(sample.frame["weight"].to_numpy(dtype="float64"))
    y, x = y * root, x * root[:, None]
    if beta is None:
        raw = sample.frame[names[1:]].to_numpy(dtype="float64") * root[:, None]
        beta = _solve(y, x, raw, spec)
    return y, x, beta


def _codes(values: pd.Series) -> np.ndarray:
    return pd.factorize(values)[0].astype(np.int64)


def _inference(sample: Sample, spec: ModelSpec, y, x, beta) -> dict:
    """Standard errors, t, p and CI of every coefficient under the spec's vcov and ssc."""
    frame = sample.frame
    choice = spec.vcov
    data = vcov.Sample(
        X=x,
        y=y,
        resid=y - x @ beta,
        entity=_codes(frame["entity"]),
        time=frame["year"].to_numpy(dtype="int64"),
        fe=sample.codes,
        lat=frame["lat"].to_numpy() if "lat" in frame else None,
        lon=frame["lon"].to_numpy() if "lon" in frame else None,
    )

    def groups(name: str) -> np.ndarray:
        return data.entity if name == "entity" else _codes(frame[name])

    if choice.type == "wild_bootstrap":
        result = bootstrap.wild_cluster(
            data,
            groups(choice.cluster),
            reps=choice.reps,
            weights=choice.weights,
            seed=choice.seed,
            ssc=spec.ssc,
            level=CONFIDENCE,
            row_weights=frame["weight"].to_numpy(dtype="float64"),
        )
        return {
            "se": result.se,
            "t": result.t,
            "p": result.p,
            "ci_low": result.ci_low,
            "ci_high": result.ci_high,
            "df_inference": result.df_inference,
            "n_clusters": result.n_clusters,
        }
    if choice.type == "cluster":
        covariance = vcov.cluster(data, {n: groups(n) for n in choice.by}, spec.ssc)
    elif choice.type == "driscoll_kraay":
        covariance = vcov.driscoll_kraay(data, choice.lags, spec.ssc)
    elif choice.type == "conley":
        covariance = vcov.conley(
            data, choice.cutoff_km, choice.kernel, choice.serial_lags, spec.ssc
        )
    else:
        covariance = getattr(vcov, choice.type)(data, spec.ssc)
    se = np.sqrt(np.diag(covariance.matrix))
    t = beta / se
    df = covariance.df_inference
    dist = stats.norm() if df is None else stats.t(df)
    half = dist.ppf(0.5 + CONFIDENCE / 2) * se
    return {
        "se": se,
        "t": t,
        "p": 2 * dist.sf(np.abs(t)),
        "ci_low": beta - half,
        "ci_high": beta + half,
        "df_inference": df,
        "n_clusters": covariance.n_clusters,
    }


def fit_sample(
    sample: Sample, spec: ModelSpec, cache: DemeanCache | None = None, source: object = None
) -> pd.DataFrame:
    """Fit ``spec`` on an estimation sample (:func:`estimation_sample`); one row per term.

    ``cache`` shares demeaning between specs of the same ``source`` panel (:class:`DemeanCache`).
    """
    if isinstance(spec.vcov, list) or isinstance(spec.radius_km, list):
        raise EstimationError(f"models[{spec.id}]: expand the grid first (ModelSpec.expand)")
    frame = sample.frame
    if len(frame) <= len(spec.regressors) + 1:
        raise EstimationError(f"models[{spec.id}]: only {len(frame)} rows left to estimate")
    y, x, beta = _design(sample, spec, cache or DemeanCache(), source)
    inference = _inference(sample, spec, y, x, beta)
    resid = y - x @ beta
    r2_within = 1.0 - float(resid @ resid) / float(y @ y) if float(y @ y) > 0 else np.nan
    table = pd.DataFrame(
        {"spec_id": spec.id, "term": spec.regressor_names, "coef": beta, **inference}
    )
    return table.assign(
        nobs=len(frame),
        n_entities=frame["entity"].nunique(),
        singletons_dropped=sample.singletons_dropped,
        fe="+".join(spec.fe) or "none",
        vcov=spec.vcov.label,
        ssc=spec.ssc,
        r2_within=r2_within,
    ).astype({"n_clusters": "Int64", "df_inference": "Int64"})[FIT_COLUMNS]


def fit(panel: pd.DataFrame, spec: dict | ModelSpec) -> pd.DataFrame:
    """Fit one spec on ``panel`` and return one row per regressor term (:data:`FIT_COLUMNS`).

    ``panel`` has columns ``entity``, ``year``, the variables the terms name, ``lat``/``lon``
    (degrees, the entity's coordinates) for Conley, and any grouping named in ``fe`` or the
    vcov (``firm``, ``pref``, ``industry``). ``spec`` is shaped like one ``models:`` entry
    of the config (``family`` and ``radius_km`` matter only in the pipeline); a grid
    (lists of radii or vcovs) is refused here — call it once per expanded spec.
    """
    if not isinstance(spec, ModelSpec):
        from pydantic import ValidationError

        try:
            spec = ModelSpec.model_validate(spec)
        except ValidationError as exc:
            raise EstimationError(f"spec {spec.get('id', '?')!r}: {exc}") from None
    return fit_sample(estimation_sample(panel, spec), spec)
