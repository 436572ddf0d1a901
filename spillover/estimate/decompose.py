"""The 第II-2-4-4図 decomposition: how much of the mean yearly change each regressor explains.

On a spec's estimation sample, the mean yearly change of a term is the mean of its first
differences between consecutive years of one entity (pairs t−1, t both in the sample; on an
unbalanced panel an entity with a gap contributes no difference across the gap). A
regressor's contribution is its coefficient × its mean yearly change, with the CI of the
coefficient carried over; the ``(other)`` row is the dependent's mean yearly change minus
the contributions, so that the bars add up to it. Contributions are in the dependent term's
unit per year: million yen for a level of exports, log points for ``log(exports)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from spillover.estimate.sample import Sample
from spillover.specs import ModelSpec, Term

OTHER = "(other)"
#: Unit of each panel variable.
UNITS = {
    "exports": "million yen",
    "exports_imputed": "million yen",
    "shipments": "million yen",
    "employees": "persons",
    "n_neighbours": "establishments",
    "n_centres": "centres",
    "opr": "percent",
    "exposure": "percent (weighted sum of OPR)",
    "weight_sum": "kernel weight",
    "nearest_km": "km",
    "external_demand": "DI points",
}


def term_unit(term: Term) -> str:
    """Unit of a term's values: the variable's, or log points under log/log1p/asinh."""
    unit = UNITS.get(term.variable, "units of " + term.variable)
    if term.function:
        unit = "log points" if term.function != "asinh" else "asinh points (≈ log points)"
    return unit if term.operator != "d" else unit + " (yearly change)"


def consecutive_pairs(frame: pd.DataFrame) -> pd.Series:
    """True on the later row of each (t−1, t) pair of one entity (``frame`` sorted)."""
    step = frame.groupby("entity", sort=False)["year"].diff()
    return (step == 1).fillna(False).astype(bool)


def decomposition(sample: Sample, spec: ModelSpec, estimates: pd.DataFrame) -> pd.DataFrame:
    """One row per regressor and an ``(other)`` row (see the module docstring)."""
    frame = sample.frame
    texts = [t.text for t in spec.terms]
    later = consecutive_pairs(frame)
    changes = frame.groupby("entity", sort=False)[texts].diff()[later].mean()
    dependent_change = float(changes[texts[0]])
    table = estimates.set_index("term")
    rows = []
    for term in texts[1:]:
        coef, change = float(table.at[term, "coef"]), float(changes[term])
        bounds = sorted([table.at[term, "ci_low"] * change, table.at[term, "ci_high"] * change])
        rows.append(
            {
                "term": term,
                "coef": coef,
                "mean_yearly_change": change,
                "contribution": coef * change,
                "ci_low": bounds[0],
                "ci_high": bounds[1],
            }
        )
    explained = sum(row["contribution"] for row in rows)
    rows.append(
        {
            "term": OTHER,
            "coef": np.nan,
            "mean_yearly_change": np.nan,
            "contribution": dependent_change - explained,
            "ci_low": np.nan,
            "ci_high": np.nan,
        }
    )
    result = pd.DataFrame(rows)
    return result.assign(
        spec_id=spec.id,
        dependent_mean_yearly_change=dependent_change,
        share=result["contribution"] / dependent_change if dependent_change else np.nan,
        unit=term_unit(spec.terms[0]) + " per year",
        n_differences=int(later.sum()),
    )[
        [
            "spec_id",
            "term",
            "coef",
            "mean_yearly_change",
            "contribution",
            "ci_low",
            "ci_high",
            "dependent_mean_yearly_change",
            "share",
            "unit",
            "n_differences",
        ]
    ]
