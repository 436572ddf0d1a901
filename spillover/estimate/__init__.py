"""Fixed-effects panels: the spec grammar's models fitted on the pipeline's panels.

The model of a spec (DESIGN.md §1, grammar in :mod:`spillover.specs`)::

    f(y)_it = β' g(x)_it + Σ absorbed fixed effects + ε_it

with t = year and, in the ``neighbourhood`` family, i = centre (a global firm's domestic
plant), y and x = neighbourhood sums (million yen), the centre firm's OPR (percent) and the
external-demand DI (points); in the ``plant`` family i = establishment, y = its own exports
and the exposure Σ w(d)·OPR replaces OPR. :func:`fit` works on any panel; :func:`fit_specs`
is the pipeline's ``estimate`` stage call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from spillover.estimate.decompose import consecutive_pairs, decomposition
from spillover.estimate.errors import EstimationError
from spillover.estimate.fitting import FIT_COLUMNS, DemeanCache, fit, fit_sample
from spillover.estimate.sample import Sample, estimation_sample
from spillover.progress import track
from spillover.specs import ModelSpec

__all__ = [
    "ENTITY",
    "ESTIMATE_COLUMNS",
    "FIT_COLUMNS",
    "DemeanCache",
    "EstimationError",
    "Sample",
    "SpecFit",
    "decomposition_pairs",
    "estimation_sample",
    "fit",
    "fit_sample",
    "fit_specs",
    "pipeline_sample",
]

#: The panel entity of each model family.
ENTITY = {"neighbourhood": "centre_id", "plant": "establishment_id"}
#: Pipeline panel columns under the names the spec grammar uses.
_GROUPING_COLUMNS = {"firm_id": "firm", "pref_code": "pref"}
#: Columns of the ``estimates`` dataset: :data:`FIT_COLUMNS` and the pipeline's own.
ESTIMATE_COLUMNS = [*FIT_COLUMNS[:2], "grid", "family", "radius_km", *FIT_COLUMNS[2:]]


def spec_rows(panel: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """Rows of a family's pipeline panel at the spec's radius and membership, for :func:`fit`."""
    rows = panel[np.isclose(panel["radius_km"], spec.radius_km)]
    if "membership" in rows.columns:
        rows = rows[rows["membership"] == spec.sample.membership].drop(columns="membership")
    names = {ENTITY[spec.family]: "entity", **_GROUPING_COLUMNS}
    return rows.drop(columns="radius_km").rename(columns=names)


def pipeline_sample(panel: pd.DataFrame, spec: ModelSpec) -> Sample:
    """The estimation sample of ``spec`` on its family's pipeline panel."""
    return estimation_sample(spec_rows(panel, spec), spec)


def decomposition_pairs(panel: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """Entity (the family's id column), year and ``later`` of the estimation sample.

    ``later`` is True on the later year of each pair of consecutive years that the
    decomposition averages; disclosure control uses the same pairs.
    """
    frame = pipeline_sample(panel, spec).frame
    pairs = frame[["entity", "year"]].assign(later=consecutive_pairs(frame).to_numpy())
    return pairs.rename(columns={"entity": ENTITY[spec.family]})


@dataclass(frozen=True)
class SpecFit:
    """One fitted spec: its estimates and decomposition, and what its sample left out.

    ``rows_selected`` counts the panel rows at the spec's radius; ``dropped`` the rows left
    out per reason (outside_years, few_neighbours, imputed_exports, incomplete, unbalanced,
    singletons); ``nobs`` the rows fitted.
    """

    estimates: pd.DataFrame
    decomposition: pd.DataFrame
    rows_selected: int
    dropped: dict[str, int]
    nobs: int


def fit_specs(
    panels: dict[str, pd.DataFrame], specs: list[ModelSpec], *, progress: bool = False
) -> dict[str, SpecFit]:
    """Fit every (expanded) spec on its family's panel (``panels[spec.family]``), by spec id.

    Specs with the same fixed effects and sample share one demeaning. Progress is logged per
    spec (a bar with ``progress`` on a terminal; :mod:`spillover.progress`).
    """
    cache = DemeanCache()
    selected: dict[tuple, pd.DataFrame] = {}
    fits = {}
    for spec in track(specs, total=len(specs), stage="estimate", unit="specs", bar=progress):
        source = (spec.family, spec.radius_km, spec.sample.membership)
        if source not in selected:
            selected[source] = spec_rows(panels[spec.family], spec)
        rows = selected[source]
        sample = estimation_sample(rows, spec)
        estimates = fit_sample(sample, spec, cache, source).assign(
            grid=spec.grid or spec.id, family=spec.family, radius_km=spec.radius_km
        )[ESTIMATE_COLUMNS]
        fits[spec.id] = SpecFit(
            estimates=estimates,
            decomposition=decomposition(sample, spec, estimates),
            rows_selected=len(rows),
            dropped=sample.dropped,
            nobs=len(sample.frame),
        )
    return fits
