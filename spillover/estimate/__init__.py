"""Fixed-effects panels with linearmodels ``PanelOLS``, and the 第II-2-4-4図 decomposition.

The model of a spec (DESIGN.md §1)::

    y_it = β' x_it + α_i (+ γ_t) + ε_it

with t = year and, in the ``neighbourhood`` family, i = centre (a global firm's domestic
plant), y and x = neighbourhood sums (million yen), the centre firm's OPR (percent) and the
external-demand DI (points); in the ``plant`` family i = establishment, y = its own exports
and the exposure Σ w(d)·OPR replaces OPR.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from spillover.config import ModelSpec
from spillover.errors import SpilloverError

ESTIMATE_COLUMNS = [
    "spec_id",
    "family",
    "term",
    "coef",
    "se",
    "t",
    "p",
    "ci_low",
    "ci_high",
    "nobs",
    "n_entities",
    "n_periods",
    "entity_effects",
    "time_effects",
    "cov_type",
    "cluster",
    "radius_km",
    "transform",
    "r2_within",
    "r2_overall",
]


class EstimationError(SpilloverError, ValueError):
    """A spec cannot be estimated on the panel (too few rows, missing regressor, ...)."""


#: The panel entity of each model family.
ENTITY = {"neighbourhood": "centre_id", "plant": "establishment_id"}


def spec_rows(panel: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """Rows of ``panel`` at the spec's radius and years (before dropping incomplete rows)."""
    rows = panel[np.isclose(panel["radius_km"], spec.radius_km)]
    if spec.years is not None:
        rows = rows[rows["year"].between(*spec.years)]
    return rows


def spec_frame(panel: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """Rows of ``panel`` used by ``spec``, indexed (entity, year), complete cases only."""
    rows = spec_rows(panel, spec)
    columns = [spec.dependent, *spec.regressors]
    missing = [c for c in columns if c not in rows.columns]
    if missing:
        raise EstimationError(f"models[{spec.id}]: panel has no column(s) {missing}")
    entity = ENTITY[spec.family]
    data = rows[[entity, "year", "firm_id", "pref_code", *columns]].dropna(subset=columns)
    if spec.transform == "log1p":
        money = [c for c in columns if c in ("exports", "shipments", "employees")]
        data = data.assign(**{c: np.log1p(data[c]) for c in money})
    return data.set_index([entity, "year"]).sort_index()


def fit_spec(panel: pd.DataFrame, spec: ModelSpec):
    """Fit one spec; return the linearmodels results object."""
    # imported here: linearmodels takes seconds to import, and DAG parsing must not wait
    from linearmodels.panel import PanelOLS
    from linearmodels.panel.utility import AbsorbingEffectError

    data = spec_frame(panel, spec)
    if len(data) <= len(spec.regressors) + 2:
        raise EstimationError(f"models[{spec.id}]: only {len(data)} complete rows to estimate")
    model = PanelOLS(
        data[spec.dependent],
        data[list(spec.regressors)],
        entity_effects=spec.entity_effects,
        time_effects=spec.time_effects,
        drop_absorbed=False,
    )
    options: dict = {"cov_type": spec.cov_type}
    if spec.cov_type == "clustered":
        if spec.cluster == "entity":
            options["cluster_entity"] = True
        else:
            column = "firm_id" if spec.cluster == "firm" else "pref_code"
            # an unlinked plant (no firm) is its own cluster, not one pooled "missing" firm
            groups = (
                data[column]
                .astype("str")
                .where(
                    data[column].notna(), "entity:" + data.index.get_level_values(0).astype("str")
                )
            )
            options["clusters"] = pd.DataFrame({column: pd.factorize(groups)[0]}, index=data.index)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        try:
            return model.fit(**options)
        except (AbsorbingEffectError, ValueError, np.linalg.LinAlgError) as exc:
            raise EstimationError(f"models[{spec.id}]: {type(exc).__name__}: {exc}") from None


def estimates_table(spec: ModelSpec, result) -> pd.DataFrame:
    """Tidy rows (one per term) of a fitted spec."""
    ci = result.conf_int()
    entities = result.entity_info["total"]
    periods = result.time_info["total"]
    return pd.DataFrame(
        {
            "spec_id": spec.id,
            "family": spec.family,
            "term": result.params.index,
            "coef": result.params.to_numpy(),
            "se": result.std_errors.to_numpy(),
            "t": result.tstats.to_numpy(),
            "p": result.pvalues.to_numpy(),
            "ci_low": ci["lower"].to_numpy(),
            "ci_high": ci["upper"].to_numpy(),
            "nobs": int(result.nobs),
            "n_entities": int(entities),
            "n_periods": int(periods),
            "entity_effects": spec.entity_effects,
            "time_effects": spec.time_effects,
            "cov_type": spec.cov_type,
            "cluster": spec.cluster if spec.cov_type == "clustered" else "",
            "radius_km": spec.radius_km,
            "transform": spec.transform,
            "r2_within": float(result.rsquared_within),
            "r2_overall": float(result.rsquared_overall),
        }
    )[ESTIMATE_COLUMNS]


def differenced_sample(panel: pd.DataFrame, spec: ModelSpec) -> tuple[pd.DataFrame, pd.Series]:
    """The spec's estimation sample sorted by entity and year, and its first differences.

    The mask is True on the rows whose entity is also in the sample the year before: the
    later year of each first difference the decomposition averages. Disclosure control
    (:func:`spillover.disclosure.decomposition_margins`) uses the same pairs.
    """
    entity = ENTITY[spec.family]
    data = spec_frame(panel, spec).reset_index().sort_values([entity, "year"])
    return data, data.groupby(entity)["year"].diff() == 1


def decomposition(panel: pd.DataFrame, spec: ModelSpec, estimates: pd.DataFrame) -> pd.DataFrame:
    """Coefficient × mean yearly change of each regressor (第II-2-4-4図).

    The mean yearly change of a variable is the mean over centres and consecutive years of
    its first difference on the estimation sample; ``share`` is the contribution divided by
    the mean yearly change of the dependent variable (NaN when that is 0).
    """
    entity = ENTITY[spec.family]
    data, consecutive = differenced_sample(panel, spec)
    columns = [spec.dependent, *spec.regressors]
    changes = data.groupby(entity)[columns].diff()[consecutive].mean()
    coefs = estimates.set_index("term")["coef"]
    dependent_change = float(changes[spec.dependent])
    rows = []
    for term in spec.regressors:
        contribution = float(coefs[term] * changes[term])
        rows.append(
            {
                "spec_id": spec.id,
                "term": term,
                "coef": float(coefs[term]),
                "mean_yearly_change": float(changes[term]),
                "contribution": contribution,
                "dependent_mean_yearly_change": dependent_change,
                "share": contribution / dependent_change if dependent_change else np.nan,
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class SpecFit:
    """One fitted spec: its tidy estimates and decomposition, and its sample sizes (rows)."""

    estimates: pd.DataFrame
    decomposition: pd.DataFrame
    rows_selected: int
    nobs: int


def fit_specs(panels: dict[str, pd.DataFrame], specs: list[ModelSpec]) -> dict[str, SpecFit]:
    """Fit every spec on its family's panel (``panels[spec.family]``), keyed by spec id.

    ``rows_selected`` counts the rows at the spec's radius and years, ``nobs`` those with
    every variable present (the estimation sample).
    """
    fits = {}
    for spec in specs:
        panel = panels[spec.family]
        result = fit_spec(panel, spec)
        rows = estimates_table(spec, result)
        fits[spec.id] = SpecFit(
            estimates=rows,
            decomposition=decomposition(panel, spec, rows),
            rows_selected=len(spec_rows(panel, spec)),
            nobs=int(result.nobs),
        )
    return fits
