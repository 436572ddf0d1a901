"""Global firms and the overseas production ratio (海外生産比率, 海外進出企業ベース).

Definitions (DESIGN.md §4; money in million yen, ratios in percent):

    OPR_f,t = 100 · Σ sales of f's manufacturing affiliates / (that sum + f's domestic sales)
    global firm: capital ≥ threshold and OPR > 0

The ratio is defined only for domestic sales > 0: a firm with manufacturing affiliates but
domestic sales of 0 would get OPR 100% (a domestic corporation without domestic sales is a
reporting error, not a firm producing only abroad), so its OPR is missing instead and the
firm-year is quarantined with the reason (:func:`opr_rejections`).

Domestic sales and capital come from the 本社企業票 (``parents``); capital falls back to
企業活動基本調査 (``firms``). Firm-survey years are fiscal years: ``firm_year_offset`` maps
them to the establishments' accounts year (accounts year = firm year − offset).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from spillover import quarantine
from spillover.config import Definitions


def _accounts_year(frame: pd.DataFrame, offset: int) -> pd.DataFrame:
    return frame.assign(year=frame["year"] - offset) if offset else frame


def is_manufacturing(industry: pd.Series, majors: list[str]) -> pd.Series:
    """True where a JSIC code (2–4 digits) belongs to one of the ``majors`` (2-digit)."""
    return industry.astype("str").str[:2].isin(majors).fillna(False).astype(bool)


def firm_capital(firms: pd.DataFrame, parents: pd.DataFrame, *, offset: int = 0) -> pd.DataFrame:
    """Capital per (year, firm_id): 本社企業票 first, else 企業活動基本調査; with its source."""
    from_parents = _accounts_year(parents, offset)[["year", "firm_id", "capital"]].assign(
        capital_source="parents"
    )
    from_firms = _accounts_year(firms, offset)[["year", "firm_id", "capital"]].assign(
        capital_source="firms"
    )
    both = pd.concat([from_parents, from_firms], ignore_index=True)
    return both.drop_duplicates(["year", "firm_id"], keep="first").reset_index(drop=True)


def global_firms(
    firms: pd.DataFrame,
    affiliates: pd.DataFrame,
    parents: pd.DataFrame,
    *,
    definitions: Definitions,
) -> pd.DataFrame:
    """One row per (year, firm_id) seen in either firm survey, with OPR and ``is_global``.

    Returns columns ``year, firm_id, capital, capital_source, domestic_sales,
    domestic_sales_source, overseas_manufacturing_sales, n_manufacturing_affiliates, opr,
    is_global``. Domestic sales come from the 本社企業票, else from 企業活動基本調査 (sales);
    a firm with manufacturing affiliates but neither, or with domestic sales ≤ 0, has OPR NaN
    and is not global. A firm without manufacturing affiliates has OPR 0. Affiliates whose
    parent is in neither survey that year are returned by :func:`orphan_affiliates`.
    """
    offset = definitions.firm_year_offset
    capital = firm_capital(firms, parents, offset=offset)
    affiliates = _accounts_year(affiliates, offset)
    parents = _accounts_year(parents, offset)
    manufacturing = affiliates[
        is_manufacturing(affiliates["industry"], definitions.manufacturing_jsic_majors)
    ]
    overseas = (
        manufacturing.groupby(["year", "parent_firm_id"])["sales"]
        .agg(overseas_manufacturing_sales="sum", n_manufacturing_affiliates="size")
        .rename_axis(["year", "firm_id"])
        .reset_index()
    )
    sales = pd.concat(
        [
            parents[["year", "firm_id", "sales"]].assign(domestic_sales_source="parents"),
            _accounts_year(firms, offset)[["year", "firm_id", "sales"]].assign(
                domestic_sales_source="firms"
            ),
        ],
        ignore_index=True,
    ).drop_duplicates(["year", "firm_id"], keep="first")
    out = capital.merge(
        sales.rename(columns={"sales": "domestic_sales"}), on=["year", "firm_id"], how="left"
    ).merge(overseas, on=["year", "firm_id"], how="left")
    out["overseas_manufacturing_sales"] = out["overseas_manufacturing_sales"].fillna(0.0)
    out["n_manufacturing_affiliates"] = out["n_manufacturing_affiliates"].fillna(0).astype("int64")
    domestic = out["domestic_sales"].where(out["domestic_sales"] > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        opr = (
            100
            * out["overseas_manufacturing_sales"]
            / (out["overseas_manufacturing_sales"] + domestic)
        )
    no_affiliates = out["n_manufacturing_affiliates"] == 0
    out["opr"] = opr.where(~no_affiliates, 0.0)
    out["is_global"] = (
        ((out["capital"] >= definitions.capital_threshold_million_yen) & (out["opr"] > 0))
        .fillna(False)
        .astype(bool)
    )
    return out.sort_values(["year", "firm_id"]).reset_index(drop=True)


def orphan_affiliates(
    affiliates: pd.DataFrame, table: pd.DataFrame, *, offset: int = 0
) -> pd.Series:
    """Mask of affiliates whose parent is in neither firm survey in that (accounts) year."""
    keys = pd.MultiIndex.from_frame(_accounts_year(affiliates, offset)[["year", "parent_firm_id"]])
    known = pd.MultiIndex.from_frame(table[["year", "firm_id"]])
    return pd.Series(~keys.isin(known), index=affiliates.index)


def opr_rejections(
    table: pd.DataFrame, firms: pd.DataFrame, parents: pd.DataFrame, *, offset: int = 0
) -> pd.DataFrame:
    """Quarantine rows for the firm-years whose OPR denominator is not positive.

    A firm with manufacturing affiliates and domestic sales ≤ 0 has OPR NaN in
    :func:`global_firms`; this names the survey row its domestic sales came from (file and
    line where the tables carry them) and why.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`global_firms`.
    firms, parents : pandas.DataFrame
        The firm surveys, with ``source_file`` and ``source_line`` if ingested.
    offset : int, default 0
        ``definitions.firm_year_offset``.

    Returns
    -------
    pandas.DataFrame
        Quarantine records (:data:`spillover.quarantine.COLUMNS`), one per firm-year.
    """
    bad = table[(table["n_manufacturing_affiliates"] > 0) & (table["domestic_sales"] <= 0)]
    frames = []
    for name, survey, label in (
        ("parents", parents, "本社企業票"),
        ("firms", firms, "企業活動基本調査"),
    ):
        rows = bad[bad["domestic_sales_source"] == name][
            ["year", "firm_id", "domestic_sales", "overseas_manufacturing_sales"]
        ]
        provenance = _accounts_year(survey, offset).reindex(
            columns=["year", "firm_id", "source_file", "source_line"]
        )
        rows = rows.merge(provenance, on=["year", "firm_id"], how="left")
        reasons = pd.Series(
            [
                f"domestic sales {d:g} million yen ({label}) with {o:g} million yen of overseas "
                "manufacturing sales: OPR = overseas / (overseas + domestic) needs domestic "
                "sales > 0 (it would be 100%); OPR left missing"
                for d, o in zip(
                    rows["domestic_sales"], rows["overseas_manufacturing_sales"], strict=True
                )
            ],
            index=rows.index,
            dtype=object,
        )
        frames.append(
            quarantine.rejected_rows(
                rows, stage="firms", table=name, column="sales", reasons=reasons
            )
        )
    return quarantine.concat(frames)


def firm_table(
    firms: pd.DataFrame,
    affiliates: pd.DataFrame,
    parents: pd.DataFrame,
    *,
    definitions: Definitions,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The firms stage: (:func:`global_firms`, quarantine rows).

    Quarantined: affiliates whose parent is in neither firm survey (:func:`orphan_affiliates`)
    and firm-years without a positive OPR denominator (:func:`opr_rejections`).
    """
    table = global_firms(firms, affiliates, parents, definitions=definitions)
    offset = definitions.firm_year_offset
    orphans = orphan_affiliates(affiliates, table, offset=offset)
    rejected = quarantine.rejected_rows(
        affiliates[orphans],
        stage="firms",
        table="affiliates",
        column="parent_firm_id",
        reasons=pd.Series(
            "parent firm is in neither 本社企業票 nor 企業活動基本調査 that year: its sales "
            "cannot enter any OPR",
            index=affiliates.index,
        ),
    )
    no_denominator = opr_rejections(table, firms, parents, offset=offset)
    return table, quarantine.concat([rejected, no_denominator]) if len(no_denominator) else rejected
