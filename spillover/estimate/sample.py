"""A spec's estimation sample: its terms evaluated on the panel, filtered, singletons dropped.

The panel has one row per ``entity`` and ``year``. Terms are evaluated on every row first
(so that ``L1(x)`` in the first sample year reads the year before), then rows are kept
when: the year is in ``sample.years``; ``n_neighbours ≥ sample.min_neighbours``; with
``sample.direct_exports_only``, ``exports_imputed`` is 0; every term, weight, fixed-effect
and cluster column is present (and coordinates for Conley); with ``sample.balanced``, the
entity is present in every year left; and no fixed-effect level holds a single row
(dropped repeatedly, as fixest does). Each step's loss is counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from spillover.estimate import within
from spillover.estimate.errors import EstimationError
from spillover.specs import GROUPINGS, ModelSpec, Term

#: The derivative of each term function (used to linearise released differences).
DERIVATIVES = {
    None: lambda x: np.ones_like(x),
    "log": lambda x: 1.0 / x,
    "log1p": lambda x: 1.0 / (1.0 + x),
    "asinh": lambda x: 1.0 / np.sqrt(1.0 + x * x),
}
_FUNCTIONS = {"log": np.log, "log1p": np.log1p, "asinh": np.arcsinh}


@dataclass
class Sample:
    """The rows a spec is fitted on, with the counts of rows left out at each step.

    ``frame`` has ``entity``, ``year``, one column per term (named by its text), the
    grouping columns the spec uses (integer codes; a missing firm is its entity's own
    group), ``weight`` (1 without weights), and ``lat``/``lon`` when the spec needs them.
    ``codes`` holds the codes of each absorbed fixed effect, ``rows`` the positions of the
    kept rows in the panel sorted by entity and year (a cache key for shared demeaning).
    """

    frame: pd.DataFrame
    codes: dict[str, np.ndarray]
    rows: np.ndarray
    dropped: dict[str, int] = field(default_factory=dict)

    @property
    def singletons_dropped(self) -> int:
        """Rows alone in a fixed-effect level (removed before fitting)."""
        return self.dropped.get("singletons", 0)


def term_values(panel: pd.DataFrame, term: Term) -> pd.Series:
    """``term`` on every row of ``panel`` (columns entity, year, the variable); NaN if undefined.

    ``log`` of a value ≤ 0 and ``log1p`` of a value ≤ −1 are undefined; an operator's year
    (t−1 for ``d``/``L1``, t−2 for ``L2``, t+1 for ``F1``) missing for the entity makes the
    row undefined too.
    """
    values = panel[term.variable].astype("float64")
    if term.function == "log":
        values = values.where(values > 0)
    elif term.function == "log1p":
        values = values.where(values > -1)
    if term.function:
        values = _FUNCTIONS[term.function](values)
    if not term.operator:
        return values
    series = pd.Series(values.to_numpy(), index=pd.MultiIndex.from_frame(panel[["entity", "year"]]))
    total = np.zeros(len(panel))
    for offset, sign in term.stencil:
        at = pd.MultiIndex.from_arrays([panel["entity"], panel["year"] + offset])
        total = total + sign * series.reindex(at).to_numpy()
    return pd.Series(total, index=panel.index)


def _groupings(spec: ModelSpec) -> list[str]:
    """Grouping columns the spec's fixed effects and clusters use (besides entity/year)."""
    names = {part for fe in spec.fe for part in fe.split("^")}
    vcovs = spec.vcov if isinstance(spec.vcov, list) else [spec.vcov]
    for vcov in vcovs:
        if vcov.type == "cluster":
            names.update(vcov.by)
        elif vcov.type == "wild_bootstrap":
            names.add(vcov.cluster)
    return [name for name in GROUPINGS if name in names and name not in ("entity", "year")]


def _needs_coordinates(spec: ModelSpec) -> bool:
    vcovs = spec.vcov if isinstance(spec.vcov, list) else [spec.vcov]
    return any(v.type == "conley" for v in vcovs)


def estimation_sample(panel: pd.DataFrame, spec: ModelSpec) -> Sample:
    """The rows ``spec`` is fitted on (see the module docstring), sorted by entity and year."""
    missing = [c for c in ("entity", "year") if c not in panel.columns]
    if missing:
        raise EstimationError(f"models[{spec.id}]: the panel has no column(s) {missing}")
    needed = {t.variable for t in spec.terms} | set(_groupings(spec))
    needed |= {spec.sample.weights} - {None}
    needed |= {"lat", "lon"} if _needs_coordinates(spec) else set()
    needed |= {"n_neighbours"} if spec.sample.min_neighbours else set()
    needed |= {"exports_imputed"} if spec.sample.direct_exports_only else set()
    absent = sorted(needed - set(panel.columns))
    if absent:
        variables = sorted(c for c in panel.columns if c not in ("entity", "year"))
        raise EstimationError(
            f"models[{spec.id}]: the panel has no column(s) {absent}; it has {variables}"
        )
    if panel.duplicated(["entity", "year"]).any():
        raise EstimationError(f"models[{spec.id}]: the panel repeats an (entity, year) row")
    panel = panel.sort_values(["entity", "year"]).reset_index(drop=True)
    frame = panel[["entity", "year"]].copy()
    for term in spec.terms:
        frame[term.text] = term_values(panel, term)
    for name in _groupings(spec):
        frame[name] = _group_codes(panel[name], panel["entity"])
    weights = spec.sample.weights
    frame["weight"] = panel[weights].astype("float64") if weights else 1.0
    for column in ("lat", "lon"):
        if column in needed:
            frame[column] = panel[column].astype("float64")
    return _filtered(frame, panel, spec)


def _group_codes(values: pd.Series, entity: pd.Series) -> np.ndarray:
    """Integer codes of a grouping; a missing value is its entity's own group.

    An unlinked plant (no firm) is then its own firm cluster, not one pooled "missing" firm.
    """
    codes = pd.factorize(values)[0]
    missing = codes < 0
    if missing.any():
        own = pd.factorize(entity)[0]
        codes = np.where(missing, codes.max() + 1 + own, codes)
    return codes


def _filtered(frame: pd.DataFrame, panel: pd.DataFrame, spec: ModelSpec) -> Sample:
    dropped: dict[str, int] = {}
    rows = np.arange(len(frame))

    def keep(mask: pd.Series | np.ndarray, reason: str) -> None:
        nonlocal frame, panel, rows
        mask = np.asarray(mask, dtype=bool)
        dropped[reason] = dropped.get(reason, 0) + int((~mask).sum())
        frame, panel, rows = frame[mask], panel[mask], rows[mask]

    if spec.sample.years is not None:
        keep(frame["year"].between(*spec.sample.years), "outside_years")
    if spec.sample.min_neighbours:
        keep(panel["n_neighbours"] >= spec.sample.min_neighbours, "few_neighbours")
    if spec.sample.direct_exports_only:
        keep(panel["exports_imputed"] == 0, "imputed_exports")
    values = frame.drop(columns=["entity", "year"])
    complete = values.notna().all(axis=1) & np.isfinite(values.select_dtypes("number")).all(axis=1)
    keep(complete & (frame["weight"] > 0), "incomplete")
    if spec.sample.balanced:
        years = frame["year"].nunique()
        keep(frame.groupby("entity")["year"].transform("size") == years, "unbalanced")
    codes = within.fe_codes(frame, spec.fe)
    if codes:
        alone = within.drop_singletons(codes)
        keep(alone, "singletons")
        codes = {name: values[alone] for name, values in codes.items()}
    return Sample(frame.reset_index(drop=True), codes, rows, dropped)
