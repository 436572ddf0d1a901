"""Regression tables: several specs side by side, coefficients over their standard errors.

Rows are the terms (coefficient with significance marks, standard error in parentheses
below it) and then N, entities, clusters, fixed effects, covariance and small-sample rule;
columns are spec ids. Numbers are never truncated: wide tables are split into blocks of
columns (:func:`column_blocks`) rather than cut.
"""

from __future__ import annotations

import math
import re

import pandas as pd

#: Significance marks and their p-value thresholds (two-sided).
STARS = ((0.01, "***"), (0.05, "**"), (0.1, "*"))
FOOTER = ("N", "Entities", "Clusters", "Fixed effects", "Covariance", "Small-sample rule")


def _number(value: float, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if value != 0 and (abs(value) >= 1e6 or abs(value) < 10**-digits):
        return f"{value:.{digits}g}"
    return f"{value:,.{digits}f}"


def short_vcov(label: str) -> str:
    """A covariance label for narrow tables: ``conley(20 km, bartlett, L=7)``."""
    for long, short in (
        ("cutoff_km=", ""),
        ("kernel=", ""),
        ("serial_lags=", "L="),
        ("weights=", ""),
        ("cluster=", ""),
    ):
        label = label.replace(long, short)
    return re.sub(r"\(([\d.]+),", r"(\1 km,", label) if label.startswith("conley") else label


def _stars(p: float) -> str:
    return next((mark for threshold, mark in STARS if p < threshold), "")


def regression_table(estimates: pd.DataFrame, spec_ids: list[str], digits: int = 3) -> pd.DataFrame:
    """Cells as strings: index = row labels, one column per spec id (in the given order).

    ``estimates`` has the columns of the ``estimates`` dataset (spec_id, term, coef, se, p,
    nobs, n_entities, n_clusters, fe, vcov, ssc).
    """
    rows = estimates[estimates["spec_id"].isin(spec_ids)]
    by_spec = {spec_id: rows[rows["spec_id"] == spec_id] for spec_id in spec_ids}
    terms = list(dict.fromkeys(t for fit in by_spec.values() for t in fit["term"]))
    labels = [label for term in terms for label in (term, f"{term} (se)")] + list(FOOTER)
    table = pd.DataFrame("", index=labels, columns=spec_ids)
    for spec_id, fit in by_spec.items():
        if fit.empty:
            continue
        for row in fit.itertuples():
            table.at[row.term, spec_id] = _number(row.coef, digits) + _stars(row.p)
            table.at[f"{row.term} (se)", spec_id] = f"({_number(row.se, digits)})"
        first = fit.iloc[0]
        clusters = first["n_clusters"]
        table.loc[list(FOOTER), spec_id] = [
            f"{int(first['nobs']):,}",
            f"{int(first['n_entities']):,}",
            "" if pd.isna(clusters) else f"{int(clusters):,}",
            first["fe"],
            short_vcov(first["vcov"]),
            first["ssc"],
        ]
    return table.rename(index={f"{t} (se)": "" for t in terms})


def column_blocks(spec_ids: list[str], width: int, label_width: int, column_width: int) -> list:
    """Split ``spec_ids`` into blocks whose table fits ``width`` characters."""
    per_block = max(1, (width - label_width) // column_width)
    return [spec_ids[i : i + per_block] for i in range(0, len(spec_ids), per_block)]
