"""Writing one address in a style: the renderer shared by the synthetic address writers.

An address is assembled from its :class:`AddressParts` (prefecture, municipality, town,
小字, block numbers, postal code, building) as an :class:`AddressStyle` says: which parts
are written and in what form, what separates them and which characters are swapped.
:mod:`spillover.geocode.synth` (addresses drawn from gazetteer rows, for the geocoder's
accuracy tests and benchmark) and :mod:`spillover.demo.addresses` (the demo world's
establishments) each declare their styles with it, so how a style is written is
implemented once. Nothing here draws random numbers: the writers draw, this module writes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, NamedTuple

from spillover.geocode.normalize import kanji_to_int

__all__ = [
    "FULL_WIDTH",
    "AddressParts",
    "AddressStyle",
    "kanji_numeral",
    "render_address",
    "split_chome",
]

FULL_WIDTH = str.maketrans("0123456789-", "０１２３４５６７８９－")
"""``str.translate`` table writing arabic digits and the dash in full width."""

_KANJI_DIGITS = "〇一二三四五六七八九"
_CHOME = re.compile(r"^(.*?)([一二三四五六七八九十]+)丁目$")
_SEIREI = re.compile(r"^(.+?市)(.+区)$")
_GUN = re.compile(r"^(.+?郡)(.+[町村])$")


def kanji_numeral(n: int) -> str:
    """Write a number in kanji numerals with the units 十 and 百.

    Parameters
    ----------
    n : int
        The number, ``0 <= n < 1000``.

    Returns
    -------
    str
        1 → 一, 10 → 十, 28 → 二十八, 102 → 百二, 0 → 〇 (the gazetteer's 丁目 numerals).
    """
    hundreds, rest = divmod(n, 100)
    tens, ones = divmod(rest, 10)
    out = ""
    if hundreds:
        out += ("" if hundreds == 1 else _KANJI_DIGITS[hundreds]) + "百"
    if tens:
        out += ("" if tens == 1 else _KANJI_DIGITS[tens]) + "十"
    if ones or not out:
        out += _KANJI_DIGITS[ones]
    return out


def split_chome(town: str) -> tuple[str, int]:
    """A gazetteer town name as its stem and 丁目 number.

    「元町三丁目」 → (元町, 3); 「高丘」 → (高丘, 0).
    """
    match = _CHOME.match(town)
    return (match.group(1), kanji_to_int(match.group(2))) if match else (town, 0)


class AddressParts(NamedTuple):
    """What an address says, before it is written in a style.

    Attributes
    ----------
    pref : str
        Prefecture (都道府県名).
    city : str
        Municipality as the gazetteer names it, 郡 and 政令市 区 included (「諏訪郡下諏訪町」,
        「名古屋市港区」).
    town : str
        大字・町丁目 as the gazetteer names it (「元町一丁目」, 「大字高丘」).
    koaza : str
        小字・通称名, ``""`` if none.
    stem : str
        ``town`` without its 丁目 (「元町」); ``town`` itself where there is none.
    chome : int
        The 丁目 number, 0 where the town has none.
    ban, go : int
        Block (番・番地) and lot (号) numbers.
    postcode : str
        Postal code as written after 〒 (「471-0001」).
    building : str
        Building and floor as written after the address (「山田ビル3F」).
    """

    pref: str
    city: str
    town: str
    koaza: str
    stem: str
    chome: int
    ban: int
    go: int
    postcode: str
    building: str


CityForm = Literal["full", "no_gun", "short"]
TownForm = Literal["as_is", "aza", "arabic_chome", "dash_chome", "oaza_toggle"]


@dataclass(frozen=True)
class AddressStyle:
    """How to write an address.

    The written address is ``head``, the prefecture, the municipality, the town and the
    block numbers (separated by ``gaps`` and passed through ``translate``), then ``tail``.

    Attributes
    ----------
    head : str
        Written first, formatted with ``{postcode}`` (「〒{postcode} 」).
    pref : bool
        Whether the prefecture is written.
    city : {"full", "no_gun", "short"}
        The municipality as in the gazetteer; with its 郡 omitted; or with its 郡 or its
        政令市 区 omitted.
    town : {"as_is", "aza", "arabic_chome", "dash_chome", "oaza_toggle"}
        The town and 小字 as in the gazetteer; with 字 before the 小字; with an arabic
        丁目 (「元町1丁目」); with the 丁目 as a leading dashed number (「元町1-」, 大字
        dropped where there is no 丁目); with 大字 removed where the name has it, else added
        where there is no 丁目 (and 字 before the 小字).
    numbers : str
        Block numbers, formatted with ``{ban}`` and ``{go}`` (「{ban}番{go}号」).
    kanji_numbers : bool
        Whether the block numbers are written in kanji numerals.
    gaps : tuple of str
        Written after the prefecture, the municipality and the town.
    translate : dict or None
        ``str.translate`` table applied to everything but ``head`` and ``tail``.
    tail : str
        Written last, formatted with ``{building}``.
    without_chome : AddressStyle or None
        Style used instead where the town has no 丁目.
    """

    head: str = ""
    pref: bool = True
    city: CityForm = "full"
    town: TownForm = "as_is"
    numbers: str = "{ban}番{go}号"
    kanji_numbers: bool = False
    gaps: tuple[str, str, str] = ("", "", "")
    translate: dict[int, str] | None = None
    tail: str = ""
    without_chome: AddressStyle | None = None


def _without_gun(city: str) -> str:
    m = _GUN.match(city)
    return m.group(2) if m else city


def _short_city(city: str) -> str:
    m = _SEIREI.match(city)
    return m.group(1) if m else _without_gun(city)


def _aza(koaza: str) -> str:
    return "字" + koaza if koaza else ""


def _oaza_toggle(p: AddressParts) -> str:
    if p.town.startswith("大字"):
        town = p.town.removeprefix("大字")
    else:
        town = p.town if p.chome else "大字" + p.town
    return town + _aza(p.koaza)


_CITY_FORMS: dict[str, Callable[[str], str]] = {
    "full": lambda city: city,
    "no_gun": _without_gun,
    "short": _short_city,
}

_TOWN_FORMS: dict[str, Callable[[AddressParts], str]] = {
    "as_is": lambda p: p.town + p.koaza,
    "aza": lambda p: p.town + _aza(p.koaza),
    "arabic_chome": lambda p: f"{p.stem}{p.chome}丁目" if p.chome else p.town + p.koaza,
    "dash_chome": lambda p: (
        f"{p.stem}{p.chome}-" if p.chome else p.town.removeprefix("大字") + p.koaza
    ),
    "oaza_toggle": _oaza_toggle,
}


def render_address(style: AddressStyle, parts: AddressParts) -> str:
    """Write one address.

    Parameters
    ----------
    style : AddressStyle
        How to write it.
    parts : AddressParts
        What it says.

    Returns
    -------
    str
        The written address.
    """
    if not parts.chome and style.without_chome is not None:
        style = style.without_chome
    ban, go = parts.ban, parts.go
    if style.kanji_numbers:
        ban, go = kanji_numeral(ban), kanji_numeral(go)
    after_pref, after_city, after_town = style.gaps
    body = (
        (parts.pref + after_pref if style.pref else "")
        + _CITY_FORMS[style.city](parts.city)
        + after_city
        + _TOWN_FORMS[style.town](parts)
        + after_town
        + style.numbers.format(ban=ban, go=go)
    )
    if style.translate is not None:
        body = body.translate(style.translate)
    return (
        style.head.format(postcode=parts.postcode)
        + body
        + style.tail.format(building=parts.building)
    )
