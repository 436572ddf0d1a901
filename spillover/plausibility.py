"""Plausibility rules at the boundary that the per-column schema cannot express.

:mod:`spillover.schemas` bounds every column on its own (finite, within its range). The
rules here compare values within a row or check a record's shape; each returns, per row,
the reason it fails (missing where it passes), and :mod:`spillover.ingest` quarantines the
failing rows with that reason. Coordinates are checked later, by the geocode stage
(:mod:`spillover.locate`, against :mod:`spillover.geocode.territory`), which can still
place a row by its address when its given lat/lon are implausible.
"""

from __future__ import annotations

import pandas as pd


def absent_fields(raw: pd.DataFrame) -> pd.Series:
    """Why each text record lacks fields (missing where it has them all).

    Parameters
    ----------
    raw : pandas.DataFrame
        A CSV, TSV or fixed-width file as read by :func:`spillover.rawfiles.read_raw`: a
        field the record does not reach is ``None`` (an empty field is ``""``).

    Returns
    -------
    pandas.Series
        ``blank line`` for an empty record, ``record has 5 of 11 fields (it ends before
        製造品出荷額等（万円）)`` for a short one, missing elsewhere; indexed like ``raw``.
    """
    present = raw.notna()
    count = present.sum(axis=1)
    width = raw.shape[1]
    out = pd.Series(None, index=raw.index, dtype=object)
    short = (count > 0) & (count < width)
    if short.any():
        first_absent = (~present[short]).idxmax(axis=1)
        out[short] = [
            f"record has {n} of {width} fields (it ends before {name})"
            for n, name in zip(count[short], first_absent, strict=True)
        ]
    out[count == 0] = "blank line"
    return out


def code_mismatches(frame: pd.DataFrame) -> pd.Series:
    """Why each establishment's ``city_code`` contradicts its ``pref_code`` (else missing).

    The first two digits of a 全国地方公共団体コード are the JIS prefecture code, so
    ``city_code`` 01100 (札幌市) with ``pref_code`` 23 (愛知県) is a contradiction: one of the
    two is wrong, and the row cannot be placed or summed with confidence.

    Parameters
    ----------
    frame : pandas.DataFrame
        Canonical establishment rows with ``pref_code`` (Int64) and ``city_code`` (str).

    Returns
    -------
    pandas.Series
        ``city_code 01100 lies in prefecture 1, but pref_code is 23`` where they disagree,
        missing elsewhere (including rows missing either code).
    """
    city = frame["city_code"]
    city_pref = pd.to_numeric(city.str[:2], errors="coerce").astype("Int64")
    clash = (city_pref != frame["pref_code"]).fillna(False).astype(bool)
    out = pd.Series(None, index=frame.index, dtype=object)
    out[clash] = [
        f"city_code {code} lies in prefecture {prefix}, but pref_code is {pref}"
        for code, prefix, pref in zip(
            city[clash], city_pref[clash], frame.loc[clash, "pref_code"], strict=True
        )
    ]
    return out
