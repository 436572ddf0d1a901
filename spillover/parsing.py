"""Parsing raw values into canonical kinds: text, codes, numbers and Tankan periods.

METI files write numbers with thousands separators, full-width digits and 「△」 for minus,
and leave cells blank, 「-」, 「χ」 (suppressed) or 「不明」. :func:`parse_column` turns one raw
column into its canonical kind and says, row by row, why a value could not be used: it does
not parse, or it is not a finite number (``inf``, ``NaN`` written out, or an integer too
large to hold exactly).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from spillover.schemas import TABLES

#: Raw tokens that mean "no value" in METI files (blank, dash, suppressed χ/X, 不明).
NULL_TOKENS = frozenset(
    {"", "-", "－", "―", "‐", "…", "...", "χ", "Χ", "X", "x", "不明", "NA", "nan"}
)

#: Code widths whose lost leading zero is unambiguous (city 1100 -> 01100, JSIC 9 -> 09).
#: A 3-digit industry code may be a 小分類 or a 細分類 that lost its zero: name the width
#: in the source's ``zero_pad`` (e.g. ``{industry: 4}``) instead.
CODE_WIDTHS = {"industry": 2, "jsic": 2, "city_code": 5}

#: A plain decimal number: digits, optional minus sign, decimal point and thousands commas.
_PLAIN_NUMBER = r"^-?(\d+|\d{1,3}(,\d{3})+)(\.\d+)?$"

#: Largest magnitude an integer column accepts: floats hold integers exactly up to 2**53.
_MAX_EXACT_INT = 2.0**53

_PERIOD_PATTERNS = (
    (re.compile(r"^(\d{4})\s*Q([1-4])$"), lambda y, q: (y, int(q))),
    (re.compile(r"^(\d{4})[/\-.年](\d{1,2})月?$"), lambda y, m: (y, (int(m) - 1) // 3 + 1)),
)


def clean_text(raw: pd.Series, *, normalize: bool = True) -> pd.Series:
    """Stripped text (NFKC-normalised where not ASCII) with METI null tokens as missing."""
    text = raw.astype("str")
    if normalize:
        wide = text.str.contains(r"[^\x00-\x7f]", regex=True, na=False)
        if wide.any():
            text = text.where(~wide, text[wide].str.normalize("NFKC"))
    text = text.str.strip()
    return text.where(~text.isin(NULL_TOKENS) & raw.notna())


def _plain_numbers(raw: pd.Series) -> pd.Series | None:
    """Numbers of a text column whose every value is a plain decimal or a null token; else None.

    Plain: ASCII digits with an optional minus sign, decimal point and thousands commas
    (``-1,234.5``), spaces around. Parsed by pyarrow without Python objects; it gives the
    values :func:`_parse_number` gives (a test checks), which handles every other column.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if not isinstance(raw.dtype, pd.StringDtype):
        return None
    text = pc.utf8_trim(pa.array(raw), characters=" \t")
    token = pc.is_in(text, value_set=pa.array(sorted(NULL_TOKENS)))
    plain = pc.match_substring_regex(text, _PLAIN_NUMBER)
    if pc.all(pc.or_kleene(plain, token)).as_py() is False:
        return None
    digits = pc.replace_substring(pc.if_else(plain, text, None), ",", "")
    values = pc.cast(digits, pa.float64()).to_numpy(zero_copy_only=False)
    return pd.Series(values, index=raw.index, dtype="float64")


def _parse_number(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse numbers written with commas or full-width digits; return values and failures."""
    if pd.api.types.is_numeric_dtype(raw):
        values = raw.astype("float64")
        return values, pd.Series(False, index=raw.index)
    plain = _plain_numbers(raw)
    if plain is not None:
        return plain, pd.Series(False, index=raw.index)
    return _written_numbers(raw)


def _written_numbers(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Numbers as METI writes them (full-width digits, 「△」 minus, commas); and failures."""
    text = clean_text(raw).str.replace(",", "", regex=False).str.replace("△", "-", regex=False)
    values = pd.to_numeric(text, errors="coerce").astype("float64")
    return values, values.isna() & text.notna()


def _parse_period(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Turn ``2015Q2``, ``2015/06``, ``2015-06`` or ``2015年6月`` into ``2015Q2``."""
    text = clean_text(raw)
    out = pd.Series(pd.NA, index=raw.index, dtype="str")
    for pattern, to_quarter in _PERIOD_PATTERNS:
        parts = text.str.extract(pattern)
        hit = parts[0].notna() & out.isna()
        if hit.any():
            out[hit] = [
                "{}Q{}".format(*to_quarter(int(y), v))
                for y, v in zip(parts.loc[hit, 0], parts.loc[hit, 1], strict=True)
            ]
    return out, out.isna() & text.notna()


def _zero_pad(text: pd.Series, width: int, *, only_one_short: bool) -> pd.Series:
    """Left-pad digit codes with zeros to ``width`` (only those one digit short, if asked)."""
    digits = text.str.fullmatch(r"\d+").fillna(False).astype(bool)
    length = text.str.len()
    short = digits & ((length == width - 1) if only_one_short else (length < width))
    return text.where(~short, text.str.zfill(width))


def code_text(raw: pd.Series, *, normalize: bool = True) -> pd.Series:
    """:func:`clean_text` of ids and codes; those stored as numbers lose their ``.0``."""
    if pd.api.types.is_float_dtype(raw) or pd.api.types.is_integer_dtype(raw):
        # ids and codes stored as numbers (Parquet, Stata): 10.0 -> "10", not "10.0"
        raw = raw.astype("Int64").astype("str").where(raw.notna())
    return clean_text(raw, normalize=normalize)


def _parse_text(raw: pd.Series, column: str, zero_pad: int | None) -> pd.Series:
    """Text and code columns: ids stored as numbers lose their ``.0``; codes regain zeros."""
    # addresses stay as written: the geocoder has its own, address-aware normaliser
    text = code_text(raw, normalize=column != "address")
    if zero_pad is not None:
        text = _zero_pad(text, zero_pad, only_one_short=False)
    elif column in CODE_WIDTHS:
        text = _zero_pad(text, CODE_WIDTHS[column], only_one_short=True)
    return text.astype("str")


def _reasons(raw: pd.Series, rules: list[tuple[str, pd.Series]]) -> pd.Series:
    """A reason per row: the template (``{}`` = the raw value) of the first mask that holds."""
    out = pd.Series(None, index=raw.index, dtype=object)
    for template, mask in rules:
        hit = mask & out.isna()
        if hit.any():
            out[hit] = raw[hit].astype("str").map(repr).map(template.format)
    return out


def parse_column(
    table: str, column: str, raw: pd.Series, *, zero_pad: int | None = None
) -> tuple[pd.Series, pd.Series]:
    """Parse one raw column into its canonical kind.

    Parameters
    ----------
    table, column : str
        Canonical table and column (:data:`spillover.schemas.TABLES`) giving the kind.
    raw : pandas.Series
        The raw values (text from text files, typed from binary formats).
    zero_pad : int, optional
        Width to left-pad digit codes to (the source's ``zero_pad``).

    Returns
    -------
    values : pandas.Series
        Parsed values (``str``, ``Int64`` or ``float64``); missing where unusable.
    reasons : pandas.Series
        Why each unusable value was rejected (missing where it is fine or missing):
        ``cannot parse '約500' as float`` or ``not a finite number: 'inf'``.
    """
    kind = TABLES[table].columns[column].kind
    if column == "period":
        values, failed = _parse_period(raw)
        return values, _reasons(raw, [(f"cannot parse {{}} as {kind}", failed)])
    if kind == "str":
        return _parse_text(raw, column, zero_pad), pd.Series(None, index=raw.index, dtype=object)
    values, failed = _parse_number(raw)
    non_finite = values.notna() & ~np.isfinite(values)
    if kind == "int":
        usable = values.notna() & ~non_finite
        inexact = usable & ((values != np.floor(values)) | (values.abs() >= _MAX_EXACT_INT))
        failed = failed | inexact
    values = values.where(~(failed | non_finite))
    reasons = _reasons(
        raw, [(f"cannot parse {{}} as {kind}", failed), ("not a finite number: {}", non_finite)]
    )
    return (values.astype("Int64") if kind == "int" else values), reasons
