"""Write demo addresses the way survey respondents type them.

The same plant is written differently from year to year: kanji or arabic 丁目, 番地/号 or
dashes, full-width digits, postal codes, building and floor names, the prefecture or the 郡
omitted, a 政令市 written without its ward, 大字 prefixes, ケ/ヶ swapped, stray spaces.
Every variant names the plant's own town, so an offline geocoder can resolve all of them.
The styles are rendered by :mod:`spillover.geocode.address_styles`, shared with the
geocoder's benchmark writer :mod:`spillover.geocode.synth`.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from spillover.demo.places import BUILDINGS, MUNICIPALITIES
from spillover.geocode.address_styles import (
    FULL_WIDTH,
    AddressParts,
    AddressStyle,
    render_address,
)

_FULL_WIDTH_BUILDING = AddressStyle(
    town="arabic_chome", numbers="{ban}-{go}", translate=FULL_WIDTH, tail="　{building}"
)

#: The demo's writing styles; an establishment-year row is written in one drawn at random.
_STYLES: tuple[AddressStyle, ...] = (
    # the canonical form
    AddressStyle(),
    # prefecture and 郡 omitted, dashes
    AddressStyle(pref=False, city="no_gun", town="dash_chome", numbers="{ban}-{go}"),
    # full-width digits, building and floor (番地 where the town has no 丁目)
    replace(
        _FULL_WIDTH_BUILDING,
        without_chome=replace(_FULL_WIDTH_BUILDING, numbers="{ban}番地{go}"),
    ),
    # postal code, arabic 丁目, 番地
    AddressStyle(head="〒{postcode} ", town="arabic_chome", numbers="{ban}番地{go}"),
    # 番地の
    AddressStyle(numbers="{ban}番地の{go}"),
    # 政令市 without its ward, 郡 omitted
    AddressStyle(city="short"),
    # spaces between the parts; 大字 prefix where the town has no 丁目
    AddressStyle(
        gaps=(" ", " ", " "),
        town="arabic_chome",
        numbers="{ban}-{go}",
        without_chome=AddressStyle(town="oaza_toggle", numbers="{ban}番地"),
    ),
    # ケ/ヶ swapped and no 号
    AddressStyle(numbers="{ban}-{go}", translate=str.maketrans({"ヶ": "ケ", "ケ": "ヶ"})),
)


def write_establishment_addresses(
    est: pd.DataFrame, towns: pd.DataFrame, rng: np.random.Generator
) -> list[str]:
    """Write one address per establishment-year row, in a randomly drawn style.

    Parameters
    ----------
    est : pandas.DataFrame
        Establishment-year rows with ``town`` (a row label of ``towns``) and
        ``establishment_id`` (``E`` + serial number; the serial fixes the block numbers
        and the postal code, so they do not change from year to year).
    towns : pandas.DataFrame
        The demo's towns: ``muni`` (index into ``MUNICIPALITIES``), ``stem``, ``chome``
        (0 if none) and ``town`` (the gazetteer name).
    rng : numpy.random.Generator
        Draws the style and the building of each row.

    Returns
    -------
    list of str
        The written addresses, in the order of ``est``.
    """
    serial = np.array([int(i[1:]) for i in est["establishment_id"].to_numpy()])
    ban = 1 + serial * 7 % 29
    go = 1 + serial * 13 % 19
    styles = rng.integers(0, len(_STYLES), len(est))
    buildings = [
        f"{BUILDINGS[s % len(BUILDINGS)]}{1 + s % 5}F" for s in rng.integers(0, 1000, len(est))
    ]
    muni_index, names = towns["muni"].to_numpy(), towns["town"].to_numpy()
    stems, chomes = towns["stem"].to_numpy(), towns["chome"].to_numpy()
    out = []
    for row, town in enumerate(est["town"].to_numpy()):
        muni = MUNICIPALITIES[muni_index[town]]
        parts = AddressParts(
            pref=muni.pref,
            city=muni.county + muni.city + muni.ward,
            town=names[town],
            koaza="",
            stem=stems[town],
            chome=int(chomes[town]),
            ban=int(ban[row]),
            go=int(go[row]),
            postcode=f"{muni.city_code[:3]}-{serial[row] % 10000:04d}",
            building=buildings[row],
        )
        out.append(render_address(_STYLES[styles[row]], parts))
    return out
