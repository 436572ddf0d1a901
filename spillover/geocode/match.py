"""Gazetteer matching with the fallback ladder block → town → oaza → city → pref → none.

An address is first put into canonical form by
:func:`spillover.geocode.normalize.canonical_text`; everything here works on that
canonical text, so two addresses with the same canonical text always get the same
result (which is what makes the cache in :mod:`spillover.geocode.cache` exact).

Ladder, for one canonical address ``s``:

1. **Prefecture**: ``s`` starts with one of the 47 names, or the prefecture is
   omitted (then municipalities are searched nationally).
2. **Municipality**: the longest prefix that is a municipality name, the name
   without its 郡 (「下諏訪町」 for 「諏訪郡下諏訪町」), or a 政令市 without its 区
   (「浜松市」 stands for every 「浜松市…区」). A name of the municipal history that the
   gazetteer lacks (「浜松市中央区」 against the seven old wards, 「天竜市」) stands for the
   gazetteer municipalities it maps to (:mod:`spillover.geocode.history`); when no town of
   theirs fits, the result is the level they share, flagged. Several candidates may remain.
3. **Town**: within the candidate municipalities, the longest prefix of the rest
   that is a 大字・町丁目 name; 「元町1-」 and 「元町1丁」 also stand for
   「元町一丁目」. A match only on the 大字 part of chome towns (「元町」 when the
   gazetteer has 元町一丁目…五丁目, or 「元町9丁目」 that does not exist) gives
   level ``oaza`` at the mean of those towns. A 小字・通称名 after the town, if
   the gazetteer lists it, refines the point (level stays ``town``).
4. **Block**: the first number after the town (街区符号 or 地番) is looked up in
   the 街区 table, if one was loaded.
5. **Kyoto street directions**: if no town follows the municipality, text up to
   the last 「上る」「下る」「東入」「西入」 is skipped and the town is sought after it.
6. **Merged municipalities**: if no municipality name matches but the prefecture
   is known, the town name is searched in the whole prefecture, starting right
   after the prefecture or after any 「市」「町」「村」「郡」「区」 in the next 15
   characters (so 「静岡県清水市…」 still finds the town in today's 静岡市清水区). If
   only unexplained text follows every town found this way, the match was
   probably the old municipality's name kept as a town name, and only the
   municipality is kept.

Ambiguity is flagged, never guessed: if the best town match exists in more than
one municipality (or several gazetteer towns share the key and lie more than
``SAME_PLACE_KM`` apart), the result falls back to the deepest level the
candidates share (the 政令市, the prefecture, or none) with ``ambiguous=True``.
"""

from __future__ import annotations

import bisect
import math
import re

from spillover.geocode.index import GazetteerIndex
from spillover.options import GEOCODE_LEVELS

__all__ = ["LEVELS", "RESULT_FIELDS", "SAME_PLACE_KM", "MatchResult", "Matcher"]

LEVELS = GEOCODE_LEVELS
"""Match levels, most to least precise."""

SAME_PLACE_KM = 1.0
"""Gazetteer entries sharing a key and lying within this distance (km) are one place."""

STEM_SPREAD_KM = 3.0
"""A town match followed by unexplained text is reported at the mean of the towns sharing
its key as a prefix (level ``oaza``) when they lie within this distance (km)."""

MatchResult = tuple[
    str, int, "str | None", "str | None", "str | None", float, float, bool, str, str, str
]
"""(level, pref_code (0 = none), pref, city, town, lat, lon, ambiguous, normalized, note,
municipality_mapped_from)."""

RESULT_FIELDS = (
    "level",
    "pref_code",
    "pref",
    "city",
    "town",
    "lat",
    "lon",
    "ambiguous",
    "normalized",
    "note",
    "municipality_mapped_from",
)
"""Field names of :data:`MatchResult`, in order (result frames and the cache use them).

``note`` says what the matcher did not use or could not explain ("" when nothing): text
before the address, text after a town that no town name explains, a dropped 町/村 suffix.
``municipality_mapped_from`` is the municipality as written (canonical) when the gazetteer
lacks it and it was mapped through the municipal history ("" otherwise).
"""

_NOTE = RESULT_FIELDS.index("note")
_MAPPED = RESULT_FIELDS.index("municipality_mapped_from")

_BLOCK = re.compile(r"-?(?:\d+(?:丁目|番地ノ|番地|番ノ|番|号|-|ノ)?)+")
_DIGITS = re.compile(r"\d+")
_MUNICIPAL_END = frozenset("市町村郡区")
# The text of a tail up to its first number or dash.
_HEAD = re.compile(r"[^\d-]*")
# Suffixes a register may add to or drop from a town name (「大塚町5」 for the town 大塚).
_SUFFIXES = frozenset(("町", "村", "丁"))
# Suffixes a register drops from a town name (「和合152-3」 for 和合町).
_DROPPED = ("町", "村")
# Text that reads as (part of) a town name, not a 小字: 「…町」, 「…丁目」, 「…条」, 「四?目」.
_KANJI_NUMERALS = frozenset("一二三四五六七八九十")
_NUMBERED_WORD = re.compile(r"\d+[^\d\-ノ]")
_CHOME = re.compile(r"\d+(?:丁目|条)")
_TOWN_LIKE = re.compile(r"(?:町|村|丁目|条)$|丁目|^[一二三四五六七八九十\d]+.?目$")
# Kyoto-style street directions before the town: 「烏丸通三条下る饅頭屋町」.
_KYOTO_STREET = re.compile(r".*(?:上る|下る|上ル|下ル|東入る|西入る|東入ル|西入ル|東入|西入)")
_GUN = re.compile(r"^.+?郡(.+[町村])$")
_NAN = float("nan")


def _noted(result: MatchResult, note: str, *, keep: bool = False) -> MatchResult:
    """`result` with `note` put before its own note (``keep``: only where it has none)."""
    own = result[_NOTE]
    text = (own or note) if keep else "; ".join(filter(None, (note, own)))
    return (*result[:_NOTE], text, *result[_NOTE + 1 :])


def _spread_km(lats: list[float], lons: list[float]) -> float:
    """Diagonal of the bounding box of the points, in km (equirectangular)."""
    dlat = (max(lats) - min(lats)) * 111.2
    dlon = (max(lons) - min(lons)) * 111.2 * math.cos(math.radians(sum(lats) / len(lats)))
    return math.hypot(dlat, dlon)


def _name_without_gun(name: str) -> str:
    """A municipality name without its 郡 (「下諏訪町」 for 「諏訪郡下諏訪町」)."""
    m = _GUN.match(name)
    return m.group(1) if m else name


def _longest(table: dict[str, int], lengths: tuple[int, ...], text: str, *, min_len: int = 1):
    """Longest prefix of `text` that is a key of `table`: (length, value) or None.

    `lengths` are the prefix lengths to try, longest first. A prefix ending in a
    number followed by 「-」 or 「丁」 also matches the key with 「丁目」 instead
    (「元町1-」 and 「元町1丁」 find 「元町1丁目」).
    """
    n = len(text)
    for size in lengths:
        if size > n:
            continue
        if size < min_len:
            return None
        prefix = text[:size]
        value = table.get(prefix)
        if value is None and size > 1 and prefix[-1] in "-丁" and prefix[-2].isdigit():
            value = table.get(prefix[:-1] + "丁目")
        if value is not None:
            return size, value
    return None


def _longest_in_city(index: GazetteerIndex, cid: int, text: str):
    """Longest town key of municipality `cid` at the start of `text`.

    A 大字 stem of chome towns (kind 1, 「元町」 of 元町一丁目…) only counts when
    a number, a dash or nothing follows: in 「成田町田15」 the town is 成田 with
    the 小字 町田, not the stem of 成田町一丁目.
    """
    lengths = index.town_lengths.get(cid)
    if lengths is None:
        return None
    table = index.town_table(cid)
    hit = _longest(table, lengths, text)
    while hit is not None and hit[1] < 0 and index.key_towns(hit[1])[0] == 1:
        size = hit[0]
        if size == len(text) or text[size].isdigit() or text[size] == "-":
            return hit
        hit = _longest(table, tuple(n for n in lengths if n < size), text)
    return hit


def _town_in_cities(index: GazetteerIndex, city_ids: tuple[int, ...], rest: str):
    """Best town match of `rest` in the given municipalities.

    Each municipality contributes its longest match. The longest overall wins,
    unless another municipality matched a shorter key and the extra characters
    are digits or a dash (「本町」 vs 「本町1-」): then both readings are
    plausible and all of them are returned, so the caller flags the ambiguity.

    Returns
    -------
    tuple or None
        ``(length, [(city_id, group), ...])``.
    """
    if len(city_ids) == 1:
        hit = _longest_in_city(index, city_ids[0], rest)
        return None if hit is None else (hit[0], [(city_ids[0], hit[1])])
    found = []
    for cid in city_ids:
        hit = _longest_in_city(index, cid, rest)
        if hit is not None:
            found.append((hit[0], cid, hit[1]))
    if not found:
        return None
    best = max(size for size, _, _ in found)
    hits = [
        (cid, group) for size, cid, group in found if size == best or rest[size] in "0123456789-"
    ]
    return best, hits


class Matcher:
    """Match canonical addresses against one gazetteer index.

    Parameters
    ----------
    index : GazetteerIndex
        The gazetteer. The matcher keeps prefecture-wide town tables it builds
        for the merged-municipality search, so reuse one matcher for a batch.
    """

    def __init__(self, index: GazetteerIndex) -> None:
        self.ix = index
        self.pref_names = {code: name for name, code in index.pref_keys.items()}
        names = sorted(set(self.pref_names.values()), key=len, reverse=True)
        self._pref_anywhere = re.compile("|".join(map(re.escape, names)))
        self._pref_tables: dict[int, tuple[dict[str, tuple], tuple[int, ...]]] = {}
        self._sorted_keys: dict[int, list[str]] = {}  # town keys of a municipality, sorted

    # -- result builders ------------------------------------------------------------

    def _pref_result(self, pc: int, norm: str, *, ambiguous: bool = False) -> MatchResult:
        lat, lon = self.ix.pref_point[pc]
        return ("pref", pc, self.pref_names[pc], None, None, lat, lon, ambiguous, norm, "", "")

    def _none(self, norm: str, *, ambiguous: bool = False) -> MatchResult:
        return ("none", 0, None, None, None, _NAN, _NAN, ambiguous, norm, "", "")

    def _cities_result(
        self, cids: tuple[int, ...], rest: str, *, ambiguous: bool, note: str = ""
    ) -> MatchResult:
        """City-level result for candidate municipalities (one, or the wards of a 政令市)."""
        ix = self.ix
        prefs = {ix.city_pref[c] for c in cids}
        if len(prefs) > 1:
            return self._none(rest, ambiguous=True)
        pc = prefs.pop()
        pref = self.pref_names[pc]
        if len(cids) == 1:
            c = cids[0]
            city, key = ix.city_name[c], ix.city_key[c]
            lat, lon = ix.city_lat[c], ix.city_lon[c]
        else:
            bases = {ix.seirei_base.get(c) for c in cids}
            if len(bases) != 1 or None in bases:
                return self._pref_result(pc, pref + rest, ambiguous=True)
            city = key = bases.pop()
            lat = sum(ix.city_lat[c] for c in cids) / len(cids)
            lon = sum(ix.city_lon[c] for c in cids) / len(cids)
        return ("city", pc, pref, city, None, lat, lon, ambiguous, pref + key + rest, note, "")

    def _town_result(self, hits: list, size: int, rest: str) -> MatchResult:
        """Resolve town hits into a result; `size` is the matched key length.

        A town followed by text that no name explains, where the municipality has longer
        town names starting with the matched one, falls back to the municipality
        (``ambiguous``, with a note): the address probably names one of those towns.
        """
        ix = self.ix
        unexplained = self._truncated(hits, size, rest)
        if unexplained:
            cids = tuple(dict.fromkeys(c for c, _ in hits))
            dropped = self._dropped_suffix(cids, rest, found_only=True)  # 「森本」 for 森本町
            return dropped or self._stem_result(hits, size, rest, unexplained)
        if len(hits) == 1 and hits[0][1] >= 0:
            return self._one_town(hits[0][1], size, rest)
        groups = [ix.key_towns(v) for _, v in hits]
        kinds = {k for k, _ in groups}
        if len(hits) > 1 and len(kinds) > 1:
            exact = [i for i, (k, _) in enumerate(groups) if k == 0]
            if len(exact) == 1:
                hits, groups, kinds = [hits[exact[0]]], [groups[exact[0]]], {0}
        town_ids = tuple(dict.fromkeys(t for _, tids in groups for t in tids))
        cids = tuple(dict.fromkeys(ix.town_city[t] for t in town_ids))
        kind = kinds.pop() if len(kinds) == 1 else -1
        lats = [ix.town_lat[t] for t in town_ids]
        lons = [ix.town_lon[t] for t in town_ids]
        other_city = len(cids) > 1 and len({ix.seirei_base.get(c) for c in cids} - {None}) != 1
        if (
            kind == -1
            or other_city
            or (
                len(town_ids) > 1
                and (kind == 0 or len(cids) > 1)
                and _spread_km(lats, lons) > SAME_PLACE_KM
            )
        ):
            hit_cities = tuple(dict.fromkeys(c for c, _ in hits))
            return self._cities_result(hit_cities, rest, ambiguous=True)
        if kind == 0 and len(town_ids) == 1:
            return self._one_town(town_ids[0], size, rest)
        cid, tid = cids[0], town_ids[0]
        pc = ix.city_pref[cid]
        pref = self.pref_names[pc]
        if len(cids) == 1:
            city, city_key = ix.city_name[cid], ix.city_key[cid]
        else:  # wards of one 政令市 (checked above)
            city = city_key = ix.seirei_base[cid]
        tail = rest[size:]
        lat, lon = sum(lats) / len(lats), sum(lons) / len(lons)
        if kind == 1:
            level, key = "oaza", rest[:size]
            town = ix.oaza_name.get(key, key)
        else:  # several gazetteer towns with one key, within SAME_PLACE_KM: one place
            level, town, key = "town", ix.town_name[tid], ix.town_key[tid]
            found = [(t, k) for t in town_ids if (k := self._koaza(t, tail)) is not None]
            if found:
                t, (row, n) = max(found, key=lambda f: f[1][1])
                lat, lon = ix.koaza_lat[row], ix.koaza_lon[row]
                town, key = ix.town_name[t], ix.town_key[t] + tail[:n]
                tail = tail[n:]
        m = _BLOCK.match(tail) if tail else None
        nums = _DIGITS.findall(m.group())[:4] if m else []
        norm = pref + city_key + key + "-".join(nums)
        return (level, pc, pref, city, town, lat, lon, False, norm, "", "")

    def _truncated(self, hits: list, size: int, rest: str) -> str:
        """Text after a town match that reads as the rest of another town name, else "".

        The tail after the matched key is explained when it is empty, starts with a dash,
        is a 町/村/丁 suffix before a number (「大塚町5」 for 大塚) or starts with a 小字 of
        the town. A tail starting with a number is unexplained only when that number and
        the next word begin a longer town name (「宮ノ森4条十場丁目」). Otherwise the text up
        to the first number is unexplained when it looks like part of a town name (it ends
        in 町/村/丁目/条, is a numeral and 目 — a garbled 「四丁目」 — or comes before 「N丁目」
        or 「N条」), when it starts with a kanji numeral and the town has numbered
        neighbours (「美生三遍」 beside 美生3線), or when a matched municipality has a longer
        town name starting with the key: 「利賀村上百瀨」 must not become 利賀村 when 利賀村上百瀬
        exists. Other text after a town with no longer name (「元町西山12」) is taken for an
        unknown 小字, which registers are full of.
        """
        tail = rest[size:]
        if not tail or tail[0] == "-":
            return ""
        key = rest[:size]
        cids = tuple(dict.fromkeys(c for c, _ in hits))
        if tail[0].isdigit():
            # 「宮ノ森4条十場丁目」: a number and a word that begin a longer town name
            numbered = _NUMBERED_WORD.match(tail)
            if numbered and any(self._longer(c, key + numbered.group()) for c in cids):
                return tail[: numbered.end() + len(_HEAD.match(tail, numbered.end()).group())]
            return ""
        head = _HEAD.match(tail).group()
        if head in _SUFFIXES:
            return ""
        for _, value in hits:
            towns = self._towns_of(value)
            if any(self._koaza(t, tail) is not None for t in towns):
                return ""
        if _TOWN_LIKE.search(head) or _CHOME.match(tail, len(head)):
            return head  # 「上百瀬町」, 「四瑛目」, 「口1丁目」: the rest of a town name
        for cid in cids:
            if self._longer(cid, key, numbered=False):
                return head
            if head[0] in _KANJI_NUMERALS and self._longer(cid, key, numbered=True):
                return head  # 「美生三遍」 where 美生3線 exists: a garbled number
        return ""

    def _towns_of(self, value: int) -> tuple[int, ...]:
        """The towns of a town-table value (one town, or a group sharing a key)."""
        return self.ix.key_towns(value)[1] if value < 0 else (value,)

    def _longer(self, cid: int, key: str, *, numbered: bool | None = None) -> tuple[int, ...]:
        """Towns of municipality `cid` whose key starts with `key` and is longer.

        ``numbered``: only those going on with a number (chome, 条, 線: True), only those
        going on with a letter (False), or all (None).
        """
        ix = self.ix
        table = ix.town_table(cid)
        keys = self._sorted_keys.get(cid)
        if keys is None:
            keys = self._sorted_keys[cid] = sorted(table)
        found = []
        for k in keys[bisect.bisect_right(keys, key) :]:
            if not k.startswith(key):
                break
            if numbered is None or k[len(key)].isdigit() == numbered:
                value = table[k]
                found.extend(self._towns_of(value))
        return tuple(found)

    def _stem_result(self, hits: list, size: int, rest: str, unexplained: str) -> MatchResult:
        """A town match followed by `unexplained` text: one level up, flagged, with a note.

        The towns whose key starts with the matched key (the key's own and the longer ones,
        chome included) make an ``oaza`` result at their mean when they lie within
        :data:`STEM_SPREAD_KM` of each other in one municipality; otherwise the result is the
        municipality.
        """
        ix = self.ix
        key = rest[:size]
        note = f"unexplained after town {key}: {unexplained}"
        cids = tuple(dict.fromkeys(c for c, _ in hits))
        if len(cids) == 1:
            cid = cids[0]
            own = ix.town_table(cid).get(key)
            towns = [*(() if own is None else self._towns_of(own)), *self._longer(cid, key)]
            lats = [ix.town_lat[t] for t in towns]
            lons = [ix.town_lon[t] for t in towns]
            if towns and _spread_km(lats, lons) <= STEM_SPREAD_KM:
                pc = ix.city_pref[cid]
                pref = self.pref_names[pc]
                lat, lon = sum(lats) / len(lats), sum(lons) / len(lons)
                norm = pref + ix.city_key[cid] + rest
                name = ix.oaza_name.get(key, ix.town_name[towns[0]] if len(towns) == 1 else key)
                return ("oaza", pc, pref, ix.city_name[cid], name, lat, lon, True, norm, note, "")
        return self._cities_result(cids, rest, ambiguous=True, note=note)

    def _koaza(self, tid: int, tail: str) -> tuple[int, int] | None:
        """Longest 小字 of town `tid` at the start of `tail`: (koaza row, length) or None.

        A 小字 may start with a number (「22地割」, 「10号」, 「5丁目」 in the real
        data) but must not be a bare number, which would be a 番地.
        """
        if tid not in self.ix.koaza_rows:
            return None
        keys = self.ix.koaza_table(tid)
        for n in range(min(len(tail), 16), 0, -1):
            k = keys.get(tail[:n])
            if k is not None and not tail[:n].isdigit():
                return k, n
        return None

    def _one_town(self, tid: int, size: int, rest: str) -> MatchResult:
        """Build the result for a single matched town, refined by 小字, then by 街区."""
        ix = self.ix
        cid = ix.town_city[tid]
        pc = ix.city_pref[cid]
        pref = self.pref_names[pc]
        lat, lon = ix.town_lat[tid], ix.town_lon[tid]
        key = ix.town_key[tid]
        level = "town"
        tail = rest[size:]
        if tail and tid in ix.koaza_rows:
            k = self._koaza(tid, tail)
            if k is not None:
                lat, lon = ix.koaza_lat[k[0]], ix.koaza_lon[k[0]]
                key += tail[: k[1]]
                tail = tail[k[1] :]
        nums = []
        if tail:
            m = _BLOCK.match(tail)
            if m:
                nums = _DIGITS.findall(m.group())[:4]
                if ix.has_blocks:
                    point = ix.block_point(tid, int(nums[0]))
                    if point is not None:
                        level, (lat, lon) = "block", point
        norm = pref + ix.city_key[cid] + key + "-".join(nums)
        city, town = ix.city_name[cid], ix.town_name[tid]
        return (level, pc, pref, city, town, lat, lon, False, norm, "", "")

    # -- the ladder -----------------------------------------------------------------

    def match(self, s: str) -> MatchResult:
        """Match one canonical address (see the module docstring for the ladder).

        Parameters
        ----------
        s : str
            Output of :func:`spillover.geocode.normalize.canonical_text`.

        Returns
        -------
        MatchResult
            ``(level, pref_code, pref, city, town, lat, lon, ambiguous,
            normalized)``; ``pref_code`` is 0 and lat/lon (degrees) NaN for level
            ``"none"``.
        """
        ix = self.ix
        pc = ix.pref_keys.get(s[:3]) or ix.pref_keys.get(s[:4])
        rest = s[len(self.pref_names[pc]) :] if pc else s
        scope = pc or 0
        n = len(rest)
        cands = []
        aliases = ix.city_alias.get(scope, {})
        for size in ix.city_lengths.get(scope, ()):
            if size <= n:
                cids = aliases.get(rest[:size])
                if cids is not None:
                    cands.append((size, cids))
        mapped = ix.history.direction.get(scope, {})
        named: set[int] = set()  # municipalities a longer candidate named (a 政令市's ward)
        for size, cids in cands:
            if named and named <= set(cids):
                # the address names a ward whose towns lack the rest: the bare city must
                # not read the ward's own name as a town of another ward (北区 → 「北」)
                continue
            named |= set(cids)
            tail = rest[size:]
            if rest[:size] in mapped:
                result = self._mapped_town(cids, rest[:size], mapped[rest[:size]], tail)
                if result is not None:
                    return result
                continue
            found = _town_in_cities(ix, cids, tail)
            if found is None and (m := _KYOTO_STREET.match(tail)):
                tail = tail[m.end() :]
                found = _town_in_cities(ix, cids, tail)
            if found is not None:
                return self._town_result(found[1], found[0], tail)
            dropped = self._dropped_suffix(cids, tail)
            if dropped is not None:
                return dropped
        if cands:
            size, cids = cands[0]
            if rest[:size] in mapped:
                return self._mapped_city(cids, rest[:size], rest[size:])
            return self._cities_result(cids, rest[size:], ambiguous=False)
        if not pc:
            return self._embedded(s) or self._none(s)
        return self._merged_municipality(pc, rest)

    def _mapped_town(
        self, cids: tuple[int, ...], written: str, direction: str, tail: str
    ) -> MatchResult | None:
        """The town of `tail` in the municipalities a history name maps to, or ``None``.

        Forwards (an old name, a newer gazetteer), towns of a merged 町村 often carry its name
        (浜名郡舞阪町舞阪 → 浜松市西区舞阪町舞阪, 根尾村門脇 → 本巣市根尾門脇), so the name and its
        stem are tried before the tail; such a reading counts only when the town goes on into
        the tail. The result records `written` as ``municipality_mapped_from``.
        """
        readings = [(tail, 0)]
        if direction == "forwards":
            name = _name_without_gun(written)
            stem = name[:-1] if name[-1] in "市町村" and len(name) > 2 else name
            readings = [(name + tail, len(name)), (stem + tail, len(stem)), *readings]
        for text, prefix in readings:
            found = _town_in_cities(self.ix, cids, text)
            if found is not None and found[0] > prefix:
                return self._mapped(self._town_result(found[1], found[0], text), cids, written)
        dropped = self._dropped_suffix(cids, tail, found_only=True)
        return None if dropped is None else self._mapped(dropped, cids, written)

    def _mapped_city(self, cids: tuple[int, ...], written: str, tail: str) -> MatchResult:
        """A history name whose municipalities hold no town of `tail`: the level they share.

        One municipality gives it as usual; several (浜松市中央区 → the old 中区・東区・西区・南区
        ・北区) give the level they share, flagged ambiguous, with a note naming them.
        """
        result = self._cities_result(cids, tail, ambiguous=len(cids) > 1)
        return self._mapped(result, cids, written, why="no town of them fits")

    def _mapped(
        self, result: MatchResult, cids: tuple[int, ...], written: str, *, why: str = ""
    ) -> MatchResult:
        """`result` recording `written` as mapped from; an ambiguous one names the candidates."""
        if result[7]:
            names = "、".join(self.ix.city_name[c] for c in cids)
            note = f"{written} maps to {names} (municipal history)"
            result = _noted(result, f"{note}; {why}" if why else note)
        return (*result[:_MAPPED], written)

    def _dropped_suffix(
        self, cids: tuple[int, ...], tail: str, *, found_only: bool = False
    ) -> MatchResult | None:
        """A town written without its 町/村 suffix (「和合152-3」 for 和合町), or ``None``.

        The text before the first number must start exactly one town name of the
        municipality once a 町 or 村 is added (chome towns of that name count as one): then
        that town is the match, with a note. When other town names start with the text
        too, the municipality is returned, flagged ambiguous (``found_only``: ``None``).
        """
        head = _HEAD.match(tail).group()
        if not head:
            return None
        starting = {t for cid in cids for t in self._longer(cid, head)}
        if not starting:
            return None
        ix = self.ix
        readings = []
        for suffix in _DROPPED:
            found = _town_in_cities(ix, cids, head + suffix + tail[len(head) :])
            if found is not None and found[0] > len(head):
                readings.append((suffix, found))
        if len(readings) == 1:
            suffix, (size, hits) = readings[0]
            if all(ix.town_key[t].startswith(head + suffix) for t in starting):
                result = self._town_result(hits, size, head + suffix + tail[len(head) :])
                if result[0] in ("block", "town", "oaza"):
                    note = f"town written without its suffix: {head} → {head}{suffix}"
                    return _noted(result, note, keep=True)
        if found_only:
            return None
        names = "、".join(sorted({ix.town_name[t] for t in starting})[:5])
        note = f"{head} starts several town names: {names}"
        return self._cities_result(cids, tail, ambiguous=True, note=note)

    def _embedded(self, s: str) -> MatchResult | None:
        """The address inside surrounding text, or ``None``.

        It starts at the first prefecture name (after the start) that leads to a
        municipality; what came before (a company name, 本社・工場, a bracket) is noted.
        Without a prefecture name, at the first municipality name that leads to a town
        (a municipality name alone inside a company name is not enough).
        """
        first = None
        for found in self._pref_anywhere.finditer(s, 1):
            result = self._after(s, found.start())
            if result[0] not in ("pref", "none"):
                return result
            first = first or result
        if first is None:
            aliases, lengths = self.ix.city_alias.get(0, {}), self.ix.city_lengths.get(0, ())
            for start in range(1, len(s) - 1):
                if any(s[start : start + n] in aliases for n in lengths):
                    result = self._after(s, start)
                    if result[0] in ("block", "town", "oaza"):
                        return result
        return first

    def _after(self, s: str, start: int) -> MatchResult:
        """The match of ``s[start:]``, noting the text before ``start`` as ignored."""
        result = self.match(s[start:])
        note = f"ignored before the address: {s[:start]}"
        return _noted(result, note)

    def _pref_table(self, pc: int) -> tuple[dict[str, tuple], tuple[int, ...]]:
        """Town keys of a whole prefecture → ((city_id, group), ...), built on first use."""
        cached = self._pref_tables.get(pc)
        if cached is None:
            ix = self.ix
            table: dict[str, tuple] = {}
            lengths: set[int] = set()
            for cid in ix.pref_cities.get(pc, ()):
                for key, group in ix.town_table(cid).items():
                    table[key] = (*table.get(key, ()), (cid, group))
                lengths.update(ix.town_lengths.get(cid, ()))
            cached = self._pref_tables[pc] = (table, tuple(sorted(lengths, reverse=True)))
        return cached

    def _merged_municipality(self, pc: int, rest: str) -> MatchResult:
        """Search the town name prefecture-wide (old municipality names).

        Candidates start right after the prefecture or after any 市/町/村/郡/区 in
        the next 15 characters. A candidate followed by a number, a dash, the end
        or one of its 小字 is preferred (longest first). If every candidate is
        followed by unexplained text, the match is probably the old municipality's
        name kept as a town name (「三好町」 in みよし市 for 「西加茂郡三好町大字福谷…」),
        so only the municipality is returned.
        """
        table, lengths = self._pref_table(pc)
        starts = [0] + [i + 1 for i, ch in enumerate(rest[:15]) if ch in _MUNICIPAL_END]
        cands = []
        for st in starts:
            found = _longest(table, lengths, rest[st:], min_len=2)
            if found is not None:
                towns = {t for _, v in found[1] for t in self.ix.key_towns(v)[1]}
                cands.append((found[0], -st, towns, found[1]))
        pref = self.pref_names[pc]
        if not cands:
            return self._pref_result(pc, pref + rest)
        explained = [c for c in cands if self._explains(c[2], rest[c[0] - c[1] :])]
        if explained:
            size, neg_st, _, hits = max(explained, key=lambda c: c[:2])
            result = self._town_result(list(hits), size, rest[-neg_st:])
        else:
            size, neg_st, towns, _ = max(cands, key=lambda c: c[:2])
            cids = tuple(dict.fromkeys(self.ix.town_city[t] for t in towns))
            result = self._cities_result(cids, rest[-neg_st:], ambiguous=len(cids) > 1)
        if result[0] in ("city", "pref", "none") and result[7]:
            return self._pref_result(pc, pref + rest, ambiguous=True)
        return result

    def _explains(self, towns: set[int], tail: str) -> bool:
        """Whether `tail` reads as the rest of an address in one of `towns`."""
        if not tail or tail[0].isdigit() or tail[0] == "-":
            return True
        return any(self._koaza(t, tail) is not None for t in towns)
