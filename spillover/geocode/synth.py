"""Survey-style addresses written from gazetteer rows, for accuracy tests and benchmarks.

Each row of a gazetteer (pref, city, town, koaza, lat, lon) is written as a
respondent might type it, in one of :data:`STYLES`. The true point of an address
is the row's own point (the 小字 point where the row has one), so a geocoder's
accuracy is the distance between its answer and that point.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from spillover.geocode.normalize import kanji_to_int

__all__ = ["CLEAN_STYLES", "STYLES", "write_addresses"]

STYLES = (
    "canonical",  # 愛知県豊田市元町一丁目2番3号
    "banchi",  # 愛知県豊田市高丘字北1234番地5
    "no_pref_dash",  # 豊田市元町1-2-3
    "fullwidth_bldg",  # 愛知県　豊田市元町１丁目２－３　山田ビル３Ｆ
    "postal_no",  # 〒471-0001 愛知県豊田市元町一丁目2番地の3
    "short_city",  # 長野県下諏訪町… (郡 omitted), 静岡県浜松市栄町… (区 omitted)
    "oaza_toggle",  # 大字 added to or removed from the town, 字 before the 小字
    "kana_spaces",  # ケ/ヶ/が swapped, spaces between the parts
    "kanji_numbers",  # 二十八番地の三
    "old_kanji",  # 澤, 邊, 櫻, 﨑 … and a trailing company name in brackets
)
"""Writing styles, in the order of the ``style`` codes returned by :func:`write_addresses`."""

CLEAN_STYLES = ("canonical", "banchi")
"""Styles that write the gazetteer names unchanged (the 'clean forms')."""

_CHOME = re.compile(r"^(.*?)([一二三四五六七八九十]+)丁目$")
_KANJI = "〇一二三四五六七八九"
_FULL = str.maketrans("0123456789-", "０１２３４５６７８９－")
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
_SEIREI = re.compile(r"^(.+?市)(.+区)$")
_GUN = re.compile(r"^(.+?郡)(.+[町村])$")
_BUILDINGS = ("山田ビル", "第二中央ビル", "テクノプラザ", "サンハイツ", "工業団地内")


def _kanji_int(n: int) -> str:
    """1 → 一, 10 → 十, 28 → 二十八, 102 → 百二 (n < 1000)."""
    hundreds, rest = divmod(n, 100)
    tens, ones = divmod(rest, 10)
    out = ""
    if hundreds:
        out += ("" if hundreds == 1 else _KANJI[hundreds]) + "百"
    if tens:
        out += ("" if tens == 1 else _KANJI[tens]) + "十"
    if ones or not out:
        out += _KANJI[ones]
    return out


def _swap_ke(text: str) -> str:
    return text.replace("ヶ", "\0").replace("ケ", "ヶ").replace("\0", "が")


def _write(
    style: str, pref: str, city: str, town: str, koaza: str, ban: int, go: int, extra: int
) -> str:
    m = _CHOME.match(town)
    stem, chome = (m.group(1), kanji_to_int(m.group(2))) if m else (town, 0)
    plain_town = town[2:] if town.startswith("大字") else town
    aza = koaza
    if style == "canonical":
        return f"{pref}{city}{town}{aza}{ban}番{go}号"
    if style == "banchi":
        return f"{pref}{city}{town}{'字' + aza if aza else ''}{ban}番地{go}"
    if style == "no_pref_dash":
        t = f"{stem}{chome}-" if chome else f"{plain_town}{aza}"
        return f"{city}{t}{ban}-{go}"
    if style == "fullwidth_bldg":
        t = f"{stem}{chome}丁目" if chome else f"{town}{aza}"
        b = _BUILDINGS[extra % len(_BUILDINGS)]
        return f"{pref}　{city}{t}{ban}-{go}".translate(_FULL) + f"　{b}{1 + extra % 9}F".translate(
            _FULL
        )
    if style == "postal_no":
        return f"〒{100 + extra % 900}-{extra % 10000:04d} {pref}{city}{town}{aza}{ban}番地の{go}"
    if style == "short_city":
        if sm := _SEIREI.match(city):
            city = sm.group(1)
        elif gm := _GUN.match(city):
            city = gm.group(2)
        return f"{pref}{city}{town}{aza}{ban}-{go}"
    if style == "oaza_toggle":
        t = plain_town if town.startswith("大字") else (town if chome else f"大字{town}")
        return f"{pref}{city}{t}{'字' + aza if aza else ''}{ban}番地"
    if style == "kana_spaces":
        return _swap_ke(f"{pref} {city} {town}{aza} {ban}-{go}")
    if style == "kanji_numbers":
        return f"{pref}{city}{town}{aza}{_kanji_int(ban)}番地の{_kanji_int(go)}"
    if style == "old_kanji":
        return f"{pref}{city}{town}{aza}".translate(_OLD) + f"{ban}-{go}（本社工場）"
    raise ValueError(f"unknown style {style!r}; expected one of {STYLES}")


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
        _write(STYLES[s], p, c, t, k, int(b), int(g), int(e))
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
