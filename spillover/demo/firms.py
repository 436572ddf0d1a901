"""Firms of the demo world: who they are, their overseas affiliates and their firm survey.

All money in million yen, OPR (overseas production ratio) in percent.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from spillover.demo.params import CAPITAL_THRESHOLD, WorldParams
from spillover.demo.places import COUNTRIES, INDUSTRIES, probabilities


def make_firms(rng: np.random.Generator, params: WorldParams) -> pd.DataFrame:
    """Draw the firms with their kind, capital, plant count and industry.

    Parameters
    ----------
    rng : numpy.random.Generator
        The world's generator.
    params : WorldParams
        Number of global, large and medium firms.

    Returns
    -------
    pandas.DataFrame
        ``firm_id``, ``kind`` (global, large or medium), ``capital`` (million yen,
        log-normal, medium firms below :data:`CAPITAL_THRESHOLD`), ``n_plants``,
        ``has_affiliates`` and ``industry`` (JSIC 4-digit).
    """
    kinds = (
        ["global"] * params.n_global_firms
        + ["large"] * params.n_large_firms
        + ["medium"] * params.n_medium_firms
    )
    n = len(kinds)
    kind = np.array(kinds)
    capital = np.where(
        kind == "medium",
        np.clip(rng.lognormal(np.log(120), 0.9, n), 30, 990),
        CAPITAL_THRESHOLD * np.exp(np.abs(rng.normal(0, 1.6, n))),
    )
    plants = np.where(
        kind == "global",
        rng.choice([1, 1, 1, 2], n),
        np.where(kind == "large", rng.choice([1, 2, 3, 4], n), rng.choice([1, 1, 1, 2], n)),
    )
    # some medium firms have factories abroad (OPR > 0) but are below the capital threshold;
    # some large firms only have sales affiliates abroad (OPR = 0): neither is global
    has_affiliates = (kind == "global") | (rng.random(n) < np.where(kind == "large", 0.4, 0.05))
    return pd.DataFrame(
        {
            "firm_id": [f"F{i:06d}" for i in range(1, n + 1)],
            "kind": kind,
            "capital": np.round(capital, 0),
            "n_plants": plants,
            "has_affiliates": has_affiliates,
            "industry": rng.choice([c for c, _ in INDUSTRIES], n, p=probabilities(INDUSTRIES)),
        }
    )


class _Affiliates(NamedTuple):
    """One firm's overseas affiliates: manufacturing ones first, then sales ones."""

    n_mfg: int
    countries: np.ndarray
    mfg_weights: np.ndarray
    ids: list[str]


def _draw_affiliates(rng: np.random.Generator, firm, first_seq: int) -> _Affiliates:
    """Draw how many affiliates a firm has, where, and how its overseas output is split."""
    n_mfg = int(rng.integers(1, 6)) if firm.kind != "large" else 0
    n_sales = int(rng.integers(0, 3)) + (1 if firm.kind == "large" else 0)
    countries = rng.choice([c for c, _ in COUNTRIES], n_mfg + n_sales, p=probabilities(COUNTRIES))
    weights = rng.dirichlet(np.ones(max(n_mfg, 1)))
    ids = [f"A{first_seq + i:07d}" for i in range(n_mfg + n_sales)]
    return _Affiliates(n_mfg, countries, weights, ids)


def _affiliate_rows(
    rng: np.random.Generator, firm, group: _Affiliates, year: int, domestic: float, opr: float
) -> tuple[list[dict], float]:
    """One year's 現地法人票 rows of a firm, and its written overseas manufacturing sales."""
    overseas = opr / (100 - opr) * domestic
    n_mfg = group.n_mfg
    mfg_sales = np.round(overseas * group.mfg_weights[:n_mfg], 0) if n_mfg else np.array([])
    rows = []
    for i, affiliate_id in enumerate(group.ids):
        is_mfg = i < n_mfg
        rows.append(
            {
                "year": year,
                "affiliate_id": affiliate_id,
                "parent_firm_id": firm.firm_id,
                "country": group.countries[i],
                "industry": firm.industry[:2] if is_mfg else rng.choice(["50", "51", "52"]),
                "sales": float(mfg_sales[i])
                if is_mfg
                else round(domestic * rng.uniform(0.02, 0.2), 0),
            }
        )
    return rows, mfg_sales.sum()


def overseas_tables(
    rng: np.random.Generator,
    firms: pd.DataFrame,
    global_firms: pd.DataFrame,
    opr_path: np.ndarray,
    years: np.ndarray,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """Draw 現地法人票 and 本社企業票 whose sales reproduce the OPR path of global firms.

    Parameters
    ----------
    rng : numpy.random.Generator
        The world's generator.
    firms : pandas.DataFrame
        Firms from :func:`make_firms`; those with ``has_affiliates`` get affiliates.
    global_firms : pandas.DataFrame
        The global firms, in the row order of ``opr_path``.
    opr_path : numpy.ndarray
        OPR (percent) of each global firm (rows) in each year (columns).
    years : numpy.ndarray
        Accounts years.

    Returns
    -------
    affiliates : pandas.DataFrame
        現地法人票: ``year, affiliate_id, parent_firm_id, country, industry, sales``
        (million yen).
    parents : pandas.DataFrame
        本社企業票: ``year, firm_id, capital, sales, industry`` (million yen).
    opr_written : pandas.Series
        OPR (percent) implied by the written (rounded) sales, by ``(firm_id, year)``.
    """
    affiliates, parents, opr_rows = [], [], []
    opr_by_firm = dict(zip(global_firms["firm_id"], opr_path, strict=True))
    next_seq = 0
    for firm in firms[firms["has_affiliates"]].itertuples():
        group = _draw_affiliates(rng, firm, next_seq)
        next_seq += len(group.ids)
        domestic0 = firm.capital * rng.uniform(3, 12)
        for t, year in enumerate(years):
            domestic = round(domestic0 * (1 + 0.01 * t) * rng.lognormal(0, 0.03), 0)
            if firm.kind == "global":
                opr = opr_by_firm[firm.firm_id][t]
            else:
                opr = rng.uniform(5, 30) if group.n_mfg else 0.0
            rows, written = _affiliate_rows(rng, firm, group, year, domestic, opr)
            affiliates.extend(rows)
            parents.append(_parent_row(firm, year, domestic))
            opr_rows.append((firm.firm_id, year, 100 * written / (written + domestic)))
    opr_written = pd.Series(
        [v for *_, v in opr_rows], index=pd.MultiIndex.from_tuples([(f, y) for f, y, _ in opr_rows])
    )
    return pd.DataFrame(affiliates), pd.DataFrame(parents), opr_written


def _parent_row(firm, year: int, domestic: float) -> dict:
    """One 本社企業票 row: the parent's capital and domestic sales (million yen)."""
    return {
        "year": year,
        "firm_id": firm.firm_id,
        "capital": firm.capital,
        "sales": domestic,
        "industry": firm.industry[:2],
    }


def firm_survey(rng: np.random.Generator, firms: pd.DataFrame, years: np.ndarray) -> pd.DataFrame:
    """Draw 企業活動基本調査 (firms with ≥ 50 employees): sales and direct exports.

    Parameters
    ----------
    rng : numpy.random.Generator
        The world's generator.
    firms : pandas.DataFrame
        Firms from :func:`make_firms`; every one is large enough to be surveyed.
    years : numpy.ndarray
        Survey years.

    Returns
    -------
    pandas.DataFrame
        ``year, firm_id, capital, sales, exports`` (million yen), ``employees`` and
        ``industry`` (JSIC 2-digit).
    """
    rows = []
    for firm in firms.itertuples():
        sales0 = firm.capital * rng.uniform(4, 15)
        ratio = rng.beta(1.5, 8)
        for t, year in enumerate(years):
            sales = round(sales0 * (1 + 0.01 * t) * rng.lognormal(0, 0.04), 0)
            rows.append(
                {
                    "year": year,
                    "firm_id": firm.firm_id,
                    "capital": firm.capital,
                    "sales": sales,
                    "exports": round(sales * ratio, 0),
                    "employees": int(50 + rng.lognormal(5, 1)),
                    "industry": firm.industry[:2],
                }
            )
    return pd.DataFrame(rows)
