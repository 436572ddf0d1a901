"""Survey-style addresses written from gazetteer rows, for accuracy tests and benchmarks.

Each row of a gazetteer (pref, city, town, koaza, lat, lon) is written as a
respondent might type it, in one of :data:`STYLES`. The true point of an address
is the row's own point (the 小字 point where the row has one), so a geocoder's
accuracy is the distance between its answer and that point. The styles are
rendered by :mod:`spillover.geocode.address_styles`, which the demo world's
address writer shares.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from spillover.geocode.address_styles import (
    FULL_WIDTH,
    AddressParts,
    AddressStyle,
    render_address,
    split_chome,
)

__all__ = ["CLEAN_STYLES", "STYLES", "write_addresses"]

_OLD = str.maketrans(
    {
        "沢": "澤",
        "辺": "邊",
        "桜": "櫻",
        "崎": "﨑",
        "浜": "濱",
        "国": "國",
        "広": "廣",
        "竜": "龍",
        "島": "嶋",
    }
)
_KE_GA = str.maketrans({"ヶ": "が", "ケ": "ヶ"})

_STYLE_SPECS: dict[str, AddressStyle] = {
    # 愛知県豊田市元町一丁目2番3号
    "canonical": AddressStyle(),
    # 愛知県豊田市高丘字北1234番地5
    "banchi": AddressStyle(town="aza", numbers="{ban}番地{go}"),
    # 豊田市元町1-2-3
    "no_pref_dash": AddressStyle(pref=False, town="dash_chome", numbers="{ban}-{go}"),
    # 愛知県　豊田市元町１丁目２－３　山田ビル３Ｆ
    "fullwidth_bldg": AddressStyle(
        gaps=("　", "", ""),
        town="arabic_chome",
        numbers="{ban}-{go}",
        translate=FULL_WIDTH,
        tail="　{building}",
    ),
    # 〒471-0001 愛知県豊田市元町一丁目2番地の3
    "postal_no": AddressStyle(head="〒{postcode} ", numbers="{ban}番地の{go}"),
    # 長野県下諏訪町… (郡 omitted), 静岡県浜松市栄町… (区 omitted)
    "short_city": AddressStyle(city="short", numbers="{ban}-{go}"),
    # 大字 added to or removed from the town, 字 before the 小字
    "oaza_toggle": AddressStyle(town="oaza_toggle", numbers="{ban}番地"),
    # ケ/ヶ/が swapped, spaces between the parts
    "kana_spaces": AddressStyle(gaps=(" ", " ", " "), numbers="{ban}-{go}", translate=_KE_GA),
    # 二十八番地の三
    "kanji_numbers": AddressStyle(numbers="{ban}番地の{go}", kanji_numbers=True),
    # 澤, 邊, 櫻, 﨑 … and a trailing company name in brackets
    "old_kanji": AddressStyle(numbers="{ban}-{go}", translate=_OLD, tail="（本社工場）"),
}

STYLES = tuple(_STYLE_SPECS)
"""Writing styles, in the order of the ``style`` codes returned by :func:`write_addresses`."""

CLEAN_STYLES = ("canonical", "banchi")
"""Styles that write the gazetteer names unchanged (the 'clean forms')."""

_BUILDINGS = ("山田ビル", "第二中央ビル", "テクノプラザ", "サンハイツ", "工業団地内")


def _parts(
    pref: str, city: str, town: str, koaza: str, ban: int, go: int, extra: int
) -> AddressParts:
    """The parts of one address; ``extra`` (a random integer) picks postcode and building."""
    stem, chome = split_chome(town)
    building = f"{_BUILDINGS[extra % len(_BUILDINGS)]}{1 + extra % 9}F".translate(FULL_WIDTH)
    postcode = f"{100 + extra % 900}-{extra % 10000:04d}"
    return AddressParts(pref, city, town, koaza, stem, chome, ban, go, postcode, building)


def write_addresses(gazetteer: pd.DataFrame, *, n: int, seed: int) -> pd.DataFrame:
    """Draw gazetteer rows and write one address for each, in a random style.

    Parameters
    ----------
    gazetteer : pandas.DataFrame
        Columns ``pref_code, pref, city, town, koaza, lat, lon`` (degrees);
        rows without coordinates are never drawn.
    n : int
        Number of addresses (rows are drawn with replacement if ``n`` exceeds
        the gazetteer).
    seed : int
        Seed of the NumPy generator; the same seed gives the same addresses.

    Returns
    -------
    pandas.DataFrame
        ``address`` plus the true ``pref_code, pref, city, town, koaza, lat,
        lon`` and ``style`` (a name from :data:`STYLES`).
    """
    rng = np.random.default_rng(seed)
    pool = gazetteer[gazetteer["lat"].notna() & gazetteer["lon"].notna()].reset_index(drop=True)
    rows = pool.iloc[rng.choice(len(pool), size=n, replace=n > len(pool))].reset_index(drop=True)
    styles = rng.integers(0, len(STYLES), n)
    ban = rng.integers(1, 40, n)
    go = rng.integers(1, 30, n)
    extra = rng.integers(0, 100_000, n)
    koaza = rows["koaza"].fillna("").astype(str)
    addresses = [
        render_address(_STYLE_SPECS[STYLES[s]], _parts(p, c, t, k, int(b), int(g), int(e)))
        for s, p, c, t, k, b, g, e in zip(
            styles.tolist(),
            rows["pref"],
            rows["city"],
            rows["town"],
            koaza,
            ban,
            go,
            extra,
            strict=True,
        )
    ]
    return rows.assign(address=addresses, style=[STYLES[s] for s in styles.tolist()])
