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

from spillover.demo.places import BUILDINGS
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
    est: pd.DataFrame,
    towns: pd.DataFrame,
    rng: np.random.Generator,
    rewrite_share: float = 1.0,
) -> list[str]:
    """Write one address per establishment-year row, in a randomly drawn style.

    Parameters
    ----------
    est : pandas.DataFrame
        Establishment-year rows with ``town`` (a row label of ``towns``), ``year`` and
        ``establishment_id`` (``E`` + serial number; the serial fixes the block numbers
        and the postal code, so they do not change from year to year).
    towns : pandas.DataFrame
        The demo's towns: ``pref``, ``city``, ``city_code``, ``town`` (the gazetteer name),
        ``stem`` and ``chome`` (0 if none).
    rng : numpy.random.Generator
        Draws the style and the building of each row.
    rewrite_share : float
        Probability (0–1) that a row after an establishment's first is written in a newly
        drawn style and building; otherwise it repeats the establishment's previous
        address. 1 draws every row afresh.

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
    written_from = (
        np.arange(len(est)) if rewrite_share >= 1 else _last_rewrite(est, rng, rewrite_share)
    )
    prefs, cities, codes = (towns[c].to_numpy() for c in ("pref", "city", "city_code"))
    names, stems, chomes = (towns[c].to_numpy() for c in ("town", "stem", "chome"))
    town_of = est["town"].to_numpy()
    rendered: dict[int, str] = {}
    for row in np.unique(written_from):
        town = town_of[row]
        parts = AddressParts(
            pref=prefs[town],
            city=cities[town],
            town=names[town],
            koaza="",
            stem=stems[town],
            chome=int(chomes[town]),
            ban=int(ban[row]),
            go=int(go[row]),
            postcode=f"{codes[town][:3]}-{serial[row] % 10000:04d}",
            building=buildings[row],
        )
        rendered[int(row)] = render_address(_STYLES[styles[row]], parts)
    return [rendered[row] for row in written_from.tolist()]


def _last_rewrite(est: pd.DataFrame, rng: np.random.Generator, share: float) -> np.ndarray:
    """For each row, the row whose drawn style it is written in (its latest rewrite).

    An establishment's first year is always drawn; each later year is redrawn with
    probability ``share`` and otherwise repeats the previous year's address.
    """
    order = np.lexsort((est["year"].to_numpy(), est["establishment_id"].to_numpy()))
    ids = est["establishment_id"].to_numpy()[order]
    first = np.r_[True, ids[1:] != ids[:-1]]
    drawn = first | (rng.random(len(est)) < share)
    source_sorted = np.maximum.accumulate(np.where(drawn, np.arange(len(est)), -1))
    written_from = np.empty(len(est), dtype=np.int64)
    written_from[order] = order[source_sorted]
    return written_from
