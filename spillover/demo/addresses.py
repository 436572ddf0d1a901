"""Write demo addresses the way survey respondents type them.

The same plant is written differently from year to year: kanji or arabic 丁目, 番地/号 or
dashes, full-width digits, postal codes, building and floor names, the prefecture or the 郡
omitted, a 政令市 written without its ward, 大字 prefixes, ケ/ヶ swapped, stray spaces.
Every variant names the plant's own town, so an offline geocoder can resolve all of them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from spillover.demo.places import BUILDINGS, MUNICIPALITIES

_FULL_WIDTH = str.maketrans("0123456789-", "０１２３４５６７８９－")
_KANJI = "〇一二三四五六七八九"


def kanji_number(n: int) -> str:
    """1 → 一, 10 → 十, 23 → 二十三 (the gazetteer's 丁目 numerals)."""
    tens, ones = divmod(n, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else _KANJI[tens] + "十")
    return head + (_KANJI[ones] if ones else "")


def _render(
    style: int,
    pref: str,
    county: str,
    city: str,
    ward: str,
    stem: str,
    chome: int,
    ban: int,
    go: int,
    extra: str,
    zipcode: str,
) -> str:
    city_full = county + city + ward
    kanji_town = f"{stem}{kanji_number(chome)}丁目" if chome else stem
    if style == 0:  # the canonical form
        return f"{pref}{city_full}{kanji_town}{ban}番{go}号"
    if style == 1:  # prefecture and 郡 omitted, dashes
        town = f"{stem}{chome}-{ban}-{go}" if chome else f"{stem}{ban}-{go}"
        return f"{city}{ward}{town}"
    if style == 2:  # full-width digits, building and floor
        town = f"{stem}{chome}丁目{ban}-{go}" if chome else f"{stem}{ban}番地{go}"
        return f"{pref}{city_full}{town}".translate(_FULL_WIDTH) + f"　{extra}"
    if style == 3:  # postal code, 番地
        chome_text = f"{chome}丁目" if chome else ""
        return f"〒{zipcode} {pref}{city_full}{stem}{chome_text}{ban}番地{go}"
    if style == 4:  # 番地の
        return f"{pref}{city_full}{kanji_town}{ban}番地の{go}"
    if style == 5:  # 政令市 without its ward, 郡 omitted
        return f"{pref}{city}{kanji_town}{ban}番{go}号"
    if style == 6:  # 大字 prefix where the town has no 丁目, else spaces between parts
        if not chome:
            return f"{pref}{city_full}大字{stem}{ban}番地"
        return f"{pref} {city_full} {stem}{chome}丁目 {ban}-{go}"
    # style 7: ケ/ヶ swapped and no 号
    text = f"{pref}{city_full}{kanji_town}{ban}-{go}"
    return text.replace("ヶ", "\0").replace("ケ", "ヶ").replace("\0", "ケ")


def write_addresses(est: pd.DataFrame, towns: pd.DataFrame, rng: np.random.Generator) -> list[str]:
    """One written address per establishment-year row of ``est``.

    ``est`` has ``town`` (row of ``towns``) and ``establishment_id`` (``E`` + serial).
    """
    ids = est["establishment_id"].to_numpy()
    serial = np.array([int(i[1:]) for i in ids])
    ban = 1 + serial * 7 % 29
    go = 1 + serial * 13 % 19
    styles = rng.integers(0, 8, len(est))
    extras = [
        f"{BUILDINGS[s % len(BUILDINGS)]}{1 + s % 5}F" for s in rng.integers(0, 1000, len(est))
    ]
    muni_index = towns["muni"].to_numpy()
    stems, chomes = towns["stem"].to_numpy(), towns["chome"].to_numpy()
    out = []
    for row, town in enumerate(est["town"].to_numpy()):
        muni = MUNICIPALITIES[muni_index[town]]
        zipcode = f"{muni.city_code[:3]}-{serial[row] % 10000:04d}"
        out.append(
            _render(
                int(styles[row]),
                muni.pref,
                muni.county,
                muni.city,
                muni.ward,
                stems[town],
                int(chomes[town]),
                int(ban[row]),
                int(go[row]),
                extras[row],
                zipcode,
            )
        )
    return out
