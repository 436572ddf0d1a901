"""Municipal history: map a municipality written in an address to the gazetteer's vintage.

Registers of 2012–2019 and a gazetteer of another date name municipalities differently: a
pre-merger 町 (平成の大合併), a city before its 政令市 wards (熊本市 before 2012), a 町 before
it became a 市 (那珂川町 → 那珂川市, 2018), 浜松市's seven wards before 2024 or its three
after. ``municipal_history.csv`` (beside this module; source in its header comment, built by
``tools/build_municipal_history.py``) lists these changes, one row per (old, new) pair.

:func:`history_aliases` turns the table into extra municipality aliases for one gazetteer:
each name of the table that the gazetteer lacks points to the gazetteer municipalities it
became (forwards: an old register, a newer gazetteer) or came from (backwards: a newer
register, an older gazetteer). Which side of each change the gazetteer is on is read from
the names it contains; a vintage date given by the user overrides that (changes dated on or
before it count as done, later ones as not yet done).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from spillover.errors import SpilloverError
from spillover.geocode._prefectures import PREFECTURES
from spillover.geocode.normalize import canonical_text

__all__ = [
    "HISTORY_PATH",
    "KINDS",
    "Change",
    "HistoryAliases",
    "MunicipalHistory",
    "MunicipalHistoryError",
    "history_aliases",
    "read_history",
]

HISTORY_PATH = Path(__file__).with_name("municipal_history.csv")
"""The municipal history table shipped with the package."""

KINDS = frozenset(
    (
        "merger",
        "absorption",
        "designation",
        "ward_creation",
        "ward_reorganisation",
        "city_status",
        "town_status",
        "rename",
        "district_change",
    )
)
"""Kinds of change in the table (see ``tools/build_municipal_history.py``)."""

_COLUMNS = ["date", "kind", "pref", "old_code", "old_name", "new_code", "new_name", "part"]
_CODE = re.compile(r"\d{5}")
_GUN = re.compile(r"^(.+?郡)(.+[町村])$")
_PREF_CODES = {name: i + 1 for i, name in enumerate(PREFECTURES)}


class MunicipalHistoryError(SpilloverError, ValueError):
    """The municipal history table is malformed; the message names the file and line."""


@dataclass(frozen=True)
class Change:
    """One row of the table: ``old_name`` (code ``old_code``) became ``new_name`` on ``date``."""

    date: dt.date
    kind: str
    pref_code: int
    old_code: str
    old_name: str
    new_code: str
    new_name: str
    part: str


@dataclass(frozen=True)
class MunicipalHistory:
    """The table's rows and the SHA-256 of its bytes (part of the geocode cache key)."""

    changes: tuple[Change, ...]
    checksum: str
    path: str


def _row(fields: dict[str, str], where: str) -> Change:
    """One CSV record as a :class:`Change`; :class:`MunicipalHistoryError` naming `where`."""
    try:
        date = dt.date.fromisoformat(fields["date"])
    except ValueError:
        raise MunicipalHistoryError(f"{where}: date {fields['date']!r} is not YYYY-MM-DD") from None
    if fields["kind"] not in KINDS:
        raise MunicipalHistoryError(
            f"{where}: unknown kind {fields['kind']!r} (one of {', '.join(sorted(KINDS))})"
        )
    pref_code = _PREF_CODES.get(fields["pref"])
    if pref_code is None:
        raise MunicipalHistoryError(f"{where}: {fields['pref']!r} is no prefecture")
    for column in ("old_code", "new_code"):
        if not _CODE.fullmatch(fields[column]):
            raise MunicipalHistoryError(
                f"{where}: {column} {fields[column]!r} is not a 5-digit municipality code"
            )
    for column in ("old_name", "new_name"):
        if not fields[column]:
            raise MunicipalHistoryError(f"{where}: {column} is empty")
    return Change(
        date,
        fields["kind"],
        pref_code,
        fields["old_code"],
        fields["old_name"],
        fields["new_code"],
        fields["new_name"],
        fields["part"],
    )


def read_history(path: str | Path = HISTORY_PATH) -> MunicipalHistory:
    """Read and check a municipal history table.

    Parameters
    ----------
    path : path-like, default :data:`HISTORY_PATH`
        UTF-8 CSV: ``#`` comment lines, then the header ``date, kind, pref, old_code,
        old_name, new_code, new_name, part`` and one row per change.

    Returns
    -------
    MunicipalHistory

    Raises
    ------
    MunicipalHistoryError
        If the file is missing, has other columns, or a row has a bad date, kind,
        prefecture, code, an empty name or the wrong number of fields; the message names the
        file and line.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MunicipalHistoryError(f"{path}: cannot read the municipal history ({exc})") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MunicipalHistoryError(f"{path}: not UTF-8 ({exc})") from None
    lines = text.splitlines()
    numbered = [(n, line) for n, line in enumerate(lines, 1) if not line.startswith("#")]
    if not numbered:
        raise MunicipalHistoryError(f"{path}: no header line")
    records = csv.reader([line for _, line in numbered])
    header = next(records)
    if header != _COLUMNS:
        raise MunicipalHistoryError(
            f"{path}, line {numbered[0][0]}: header {header}, expected {_COLUMNS}"
        )
    changes = []
    for (number, _), record in zip(numbered[1:], records, strict=True):
        where = f"{path}, line {number}"
        if len(record) != len(_COLUMNS):
            raise MunicipalHistoryError(
                f"{where}: {len(record)} fields, expected {len(_COLUMNS)} ({', '.join(_COLUMNS)})"
            )
        changes.append(_row(dict(zip(_COLUMNS, record, strict=True)), where))
    return MunicipalHistory(tuple(changes), hashlib.sha256(data).hexdigest(), str(path))


@dataclass(frozen=True)
class HistoryAliases:
    """Municipality names the gazetteer lacks, mapped through the history.

    ``aliases[scope][key]`` is the tuple of gazetteer municipality ids a canonical name
    stands for (scope: prefecture code, or 0 for addresses without one);
    ``direction[scope][key]`` is ``"forwards"`` or ``"backwards"``. ``vintage`` is the
    date the gazetteer is taken to be of, as ``(after, before)``: the latest change whose
    new name alone it holds and the earliest whose old name alone it holds (either None).
    """

    aliases: dict[int, dict[str, tuple[int, ...]]]
    direction: dict[int, dict[str, str]]
    vintage: tuple[dt.date | None, dt.date | None]


def _name_aliases(key: str) -> tuple[str, ...]:
    """A canonical municipality name and, for a 郡's 町村, the name without its 郡."""
    m = _GUN.match(key)
    return (key, m.group(2)) if m else (key,)


def _reach(start: str, edges: dict[str, list[str]], known: dict[str, tuple[int, ...]]) -> list:
    """Gazetteer municipality ids reached from `start` along `edges`, stopping at known names."""
    found: dict[int, None] = {}
    seen = {start}
    frontier = [start]
    while frontier:
        nxt = []
        for name in frontier:
            for other in edges.get(name, ()):
                if other in seen:
                    continue
                seen.add(other)
                cids = known.get(other)
                if cids is None:
                    nxt.append(other)
                else:
                    found.update(dict.fromkeys(cids))
        frontier = nxt
    return list(found)


def history_aliases(
    history: MunicipalHistory,
    city_alias: dict[int, dict[str, tuple[int, ...]]],
    *,
    vintage: dt.date | None = None,
) -> HistoryAliases:
    """Map each name of the history that the gazetteer lacks to gazetteer municipalities.

    Parameters
    ----------
    history : MunicipalHistory
        From :func:`read_history`.
    city_alias : dict
        The gazetteer's municipality aliases by scope (prefecture code; 0 = national):
        canonical name → municipality ids (:attr:`GazetteerIndex.city_alias`).
    vintage : datetime.date, optional
        The gazetteer's date: changes dated on or before it are followed forwards only,
        later ones backwards only. Default: both, as the gazetteer's names allow.

    Returns
    -------
    HistoryAliases
        A name is mapped forwards (to what it became) when that reaches gazetteer names,
        else backwards (to what it came from); names of a 郡's 町村 also without the 郡.
    """
    forwards: dict[int, dict[str, list[str]]] = {}
    backwards: dict[int, dict[str, list[str]]] = {}
    after = before = None
    for change in history.changes:
        pc = change.pref_code
        old, new = canonical_text(change.old_name), canonical_text(change.new_name)
        if old == new:
            continue
        known = city_alias.get(pc, {})
        has_old, has_new = old in known, new in known
        if has_new and not has_old:
            after = max(after or change.date, change.date)
        elif has_old and not has_new:
            before = min(before or change.date, change.date)
        if vintage is None or change.date <= vintage:
            forwards.setdefault(pc, {}).setdefault(old, []).append(new)
        if vintage is None or change.date > vintage:
            backwards.setdefault(pc, {}).setdefault(new, []).append(old)
    aliases: dict[int, dict[str, dict[int, None]]] = {}
    direction: dict[int, dict[str, str]] = {}
    for pc in sorted(forwards.keys() | backwards.keys()):
        known = city_alias.get(pc, {})
        names = dict.fromkeys([*forwards.get(pc, {}), *backwards.get(pc, {})])
        for name in names:
            if name in known:
                continue
            way, cids = "forwards", _reach(name, forwards.get(pc, {}), known)
            if not cids:
                way, cids = "backwards", _reach(name, backwards.get(pc, {}), known)
            if not cids:
                continue
            for alias in _name_aliases(name):
                for scope in (pc, 0):
                    if alias in city_alias.get(scope, {}):
                        continue
                    slot = aliases.setdefault(scope, {}).setdefault(alias, {})
                    slot.update(dict.fromkeys(cids))
                    direction.setdefault(scope, {})[alias] = way
    return HistoryAliases(
        {s: {k: tuple(v) for k, v in table.items()} for s, table in aliases.items()},
        direction,
        (after, before),
    )
