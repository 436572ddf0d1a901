"""The geocode stage: coordinates for every establishment row, and the rows that have none.

Each row is placed by the first source that works: given lat/lon, else the offline address
geocoder (:mod:`spillover.geocode`), else the centre of its mesh cell where the address did
not reach town level. Given lat/lon and mesh centres are used only inside Japan's territory
(:mod:`spillover.geocode.territory`: Seoul or (0, 0) fall through to the address). Rows that
stay unplaced, are placed more coarsely than ``gazetteer.min_level``, or (by default) whose
address lies in another prefecture than their ``pref_code`` are quarantined with the reason.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from spillover import quarantine
from spillover.config import GazetteerConfig
from spillover.geocode.territory import in_japan
from spillover.options import GEOCODE_LEVELS

#: Levels finer than a municipality: a mesh centre replaces a coarser address match.
_TOWN_OR_FINER = ("block", "town", "oaza")


def locate_establishments(
    establishments: pd.DataFrame, gazetteer, *, cache_dir: Path | None, progress: bool
) -> pd.DataFrame:
    """Coordinates (degrees) for every establishment row: given lat/lon, else address, else mesh.

    ``geocode_level`` is ``latlon`` (given and inside Japan), a geocoder level
    (block/town/oaza/city/pref) or ``mesh`` (centre of a mesh cell inside Japan, used where
    the address did not reach town level), else ``none``. Only rows without usable given
    coordinates are matched against ``gazetteer``; with ``gazetteer=None`` (no
    ``gazetteer.path``) no address is matched.
    """
    from spillover.geocode import mesh_to_latlon

    out = establishments.copy()
    given = pd.Series(in_japan(out["lat"], out["lon"]), index=out.index)
    coded = _match_addresses(
        out.loc[~given, "address"], gazetteer, cache_dir=cache_dir, progress=progress
    ).reindex(out.index)
    coded["level"] = coded["level"].fillna("none")
    out["geocode_level"] = coded["level"].where(~given, "latlon")
    out["lat"] = out["lat"].where(given, coded["lat"])
    out["lon"] = out["lon"].where(given, coded["lon"])
    for column in ("pref", "city", "town", "note", "municipality_mapped_from"):
        out[f"geocode_{column}"] = coded[column].where(~given)
    out["geocode_ambiguous"] = coded["ambiguous"].where(~given, False).astype(bool)
    out["geocode_pref_code"] = coded["pref_code"].where(~given)
    coarse = ~given & ~coded["level"].isin(_TOWN_OR_FINER) & out["mesh_code"].notna()
    if coarse.any():
        mesh_lat, mesh_lon = mesh_to_latlon(out.loc[coarse, "mesh_code"])
        ok = in_japan(mesh_lat, mesh_lon)
        hit = coarse[coarse].index[ok]
        out.loc[hit, "lat"], out.loc[hit, "lon"] = mesh_lat[ok], mesh_lon[ok]
        out.loc[hit, "geocode_level"] = "mesh"
    out["pref_mismatch"] = (
        out["geocode_pref_code"].notna() & (out["geocode_pref_code"] != out["pref_code"])
    ).astype(bool)
    return out


def _match_addresses(
    addresses: pd.Series, gazetteer, *, cache_dir: Path | None, progress: bool
) -> pd.DataFrame:
    """:func:`spillover.geocode.geocode_addresses`, or level ``none`` for every row without one."""
    if gazetteer is not None:
        from spillover.geocode import geocode_addresses

        return geocode_addresses(
            addresses.fillna(""), gazetteer, cache_dir=cache_dir, progress=progress
        )
    none = pd.DataFrame(index=addresses.index)
    for column in ("lat", "lon"):
        none[column] = np.nan
    for column in ("pref", "city", "town", "note", "municipality_mapped_from"):
        none[column] = pd.Series(pd.NA, index=addresses.index, dtype="str")
    none["pref_code"] = pd.Series(pd.NA, index=addresses.index, dtype="Int64")
    none["level"] = "none"
    none["ambiguous"] = False
    return none


def given_outside_japan(establishments: pd.DataFrame) -> pd.Series:
    """Given coordinates that lie outside Japan, as text ``(lat, lon)``; missing elsewhere.

    Such rows are placed by their address or mesh code instead (see
    :func:`locate_establishments`); the text ends their quarantine reason if that fails too.
    """
    lat, lon = establishments["lat"], establishments["lon"]
    outside = lat.notna() & lon.notna() & ~in_japan(lat, lon)
    out = pd.Series(None, index=establishments.index, dtype=object)
    out[outside] = [f"({a:g}, {b:g})" for a, b in zip(lat[outside], lon[outside], strict=True)]
    return out


def geocode_rejections(
    located: pd.DataFrame, rules: GazetteerConfig, outside: pd.Series
) -> pd.Series:
    """Why each located row cannot be used (NaN where it can).

    Parameters
    ----------
    located : pandas.DataFrame
        Output of :func:`locate_establishments`.
    rules : GazetteerConfig
        ``min_level`` and ``on_pref_mismatch``.
    outside : pandas.Series
        :func:`given_outside_japan` of the rows before they were located: a rejected row
        whose given lat/lon lay outside Japan says so at the end of its reason.
    """
    note = ("; its given lat/lon " + outside + " lie outside Japan").fillna("")
    note = note.reindex(located.index)

    def address(rows: pd.Series) -> pd.Series:
        """The address of the ``rows`` (a mask) as quoted in their reasons."""
        return located.loc[rows, "address"].fillna("(empty)").astype("str") + note[rows]

    level = located["geocode_level"]
    coarser = GEOCODE_LEVELS[GEOCODE_LEVELS.index(rules.min_level) + 1 :]
    too_coarse = level.isin(coarser)  # latlon and mesh are no gazetteer level
    reasons = pd.Series(np.nan, index=located.index, dtype="object")
    unplaced = located["lat"].isna()
    unmatched = (
        "address not resolved by the gazetteer"
        if rules.path is not None
        else "no gazetteer (gazetteer.path) to match the address"
    )
    reasons[unplaced] = f"{unmatched} and no usable mesh code or lat/lon: " + address(unplaced)
    too_coarse &= ~unplaced
    reasons[too_coarse] = (
        "address resolved only to "
        + level[too_coarse]
        + ", coarser than gazetteer.min_level = "
        + rules.min_level
        + " (and no usable mesh code or lat/lon): "
        + address(too_coarse)
    )
    if rules.on_pref_mismatch == "quarantine":
        mismatch = located["pref_mismatch"] & reasons.isna()
        reasons[mismatch] = (
            "address lies in "
            + located.loc[mismatch, "geocode_pref"].astype("str")
            + " ("
            + located.loc[mismatch, "geocode_pref_code"].astype("str")
            + ") but pref_code is "
            + located.loc[mismatch, "pref_code"].astype("str")
            + ": "
            + address(mismatch)
        )
    return reasons


def locate_plants(
    establishments: pd.DataFrame,
    gazetteer,
    *,
    rules: GazetteerConfig,
    cache_dir: Path | None,
    progress: bool,
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Place every row and apply the acceptance rules of ``rules``.

    ``gazetteer`` is the loaded gazetteer index, or ``None`` when the config has none: rows
    are then placed by given lat/lon or mesh code only.

    Returns (accepted rows, quarantine rows, summary): the summary counts rows by
    ``geocode_level``, the rows with a prefecture mismatch or an ambiguous match, and the
    rows whose given lat/lon lay outside Japan (``latlon_outside_japan``; placed otherwise
    or quarantined).
    """
    located = locate_establishments(
        establishments, gazetteer, cache_dir=cache_dir, progress=progress
    )
    outside = given_outside_japan(establishments)
    reasons = geocode_rejections(located, rules, outside)
    rejected = reasons.notna()
    refused = quarantine.rejected_rows(
        located[rejected],
        stage="geocode",
        table="establishments",
        column="address",
        reasons=reasons,
    )
    summary = {
        "levels": {str(k): int(v) for k, v in located["geocode_level"].value_counts().items()},
        "pref_mismatch": int(located["pref_mismatch"].sum()),
        "ambiguous": int(located["geocode_ambiguous"].sum()),
        # text the geocoder ignored or explained (a company name before the address, …)
        "noted": int(located["geocode_note"].notna().sum()),
        # municipalities the gazetteer lacks, mapped through the municipal history
        "municipality_mapped": int(located["geocode_municipality_mapped_from"].notna().sum()),
        "latlon_outside_japan": int(outside.notna().sum()),
    }
    return located.loc[~rejected], refused, summary
