"""Geography of the demo world: synthetic 町丁目, their gazetteer, and where plants stand."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from spillover.demo.places import MUNICIPALITIES, TOWN_STEMS
from spillover.geocode.address_styles import kanji_numeral
from spillover.spatial import EARTH_RADIUS_KM, haversine_km


def make_towns(rng: np.random.Generator) -> pd.DataFrame:
    """Draw synthetic 町丁目 around each municipality, unique names within a city.

    Parameters
    ----------
    rng : numpy.random.Generator
        The world's generator.

    Returns
    -------
    pandas.DataFrame
        One row per town: ``muni`` (index into ``MUNICIPALITIES``), ``stem``, ``chome``
        (0 if none), ``lat``/``lon`` (degrees, 6 decimals), ``weight`` (relative number
        of plants), ``town`` (the gazetteer name, 「元町一丁目」) and the municipality's
        ``pref_code``, ``pref``, ``city_code`` and ``city`` (as written, 郡 and 区 included).
    """
    rows = []
    for m_index, muni in enumerate(MUNICIPALITIES):
        n_stems = int(18 + 14 * muni.weight)
        stems = rng.choice(len(TOWN_STEMS), size=min(n_stems, len(TOWN_STEMS)), replace=False)
        for stem_index in stems:
            stem = TOWN_STEMS[stem_index]
            dist = min(abs(rng.normal(0, muni.spread_km)), 3 * muni.spread_km)
            angle = rng.uniform(0, 2 * np.pi)
            lat0 = muni.lat + dist * np.cos(angle) / 111.0
            lon0 = muni.lon + dist * np.sin(angle) / (111.0 * np.cos(np.radians(muni.lat)))
            n_chome = int(rng.choice([0, 0, 2, 3, 4, 5]))
            for chome in range(1, n_chome + 1) if n_chome else [0]:
                jitter = rng.normal(0, 0.35, size=2) if chome else np.zeros(2)
                rows.append(
                    {
                        "muni": m_index,
                        "stem": stem,
                        "chome": chome,
                        "lat": round(lat0 + jitter[0] / 111.0, 6),
                        "lon": round(lon0 + jitter[1] / 91.0, 6),
                        "weight": muni.weight * rng.lognormal(0, 0.7),
                    }
                )
    towns = pd.DataFrame(rows)
    towns["town"] = [_town_name(s, c) for s, c in zip(towns["stem"], towns["chome"], strict=True)]
    munis = [MUNICIPALITIES[i] for i in towns["muni"]]
    towns["pref_code"] = [m.pref_code for m in munis]
    towns["pref"] = [m.pref for m in munis]
    towns["city_code"] = [m.city_code for m in munis]
    towns["city"] = [m.county + m.city + m.ward for m in munis]
    return towns


def _town_name(stem: str, chome: int) -> str:
    return f"{stem}{kanji_numeral(chome)}丁目" if chome else stem


def gazetteer_frame(towns: pd.DataFrame) -> pd.DataFrame:
    """Write the demo gazetteer in Geolonia ``latest.csv`` column layout.

    Parameters
    ----------
    towns : pandas.DataFrame
        Towns from :func:`make_towns` (or :func:`spillover.demo.national.national_towns`).

    Returns
    -------
    pandas.DataFrame
        One row per town, Geolonia's 14 columns (kana and romaji left empty, 緯度/経度 in
        degrees).
    """
    return pd.DataFrame(
        {
            "都道府県コード": [f"{code:02d}" for code in towns["pref_code"]],
            "都道府県名": towns["pref"].to_numpy(),
            "都道府県名カナ": "",
            "都道府県名ローマ字": "",
            "市区町村コード": towns["city_code"].to_numpy(),
            "市区町村名": towns["city"].to_numpy(),
            "市区町村名カナ": "",
            "市区町村名ローマ字": "",
            "大字町丁目名": towns["town"].to_numpy(),
            "大字町丁目名カナ": "",
            "大字町丁目名ローマ字": "",
            "小字・通称名": "",
            "緯度": towns["lat"].to_numpy(),
            "経度": towns["lon"].to_numpy(),
        }
    )


def site_centres(
    rng: np.random.Generator, towns: pd.DataFrame, n_plants: int, min_separation_km: float
) -> np.ndarray:
    """Choose towns for plants greedily at random, at least ``min_separation_km`` apart.

    Parameters
    ----------
    rng : numpy.random.Generator
        The world's generator (one permutation of the towns is drawn).
    towns : pandas.DataFrame
        Towns with ``lat``/``lon`` (degrees).
    n_plants : int
        Plants wanted.
    min_separation_km : float
        Smallest great-circle distance (km) between two chosen towns.

    Returns
    -------
    numpy.ndarray
        Row positions of the chosen towns; fewer than ``n_plants`` if there is no room.
    """
    order = rng.permutation(len(towns))
    chosen: list[int] = []
    lat, lon = towns["lat"].to_numpy(), towns["lon"].to_numpy()
    for index in order:
        if (
            chosen
            and haversine_km(lat[index], lon[index], lat[chosen], lon[chosen]).min()
            < min_separation_km
        ):
            continue
        chosen.append(int(index))
        if len(chosen) == n_plants:
            break
    return np.array(chosen)


def place_centres(
    rng: np.random.Generator,
    towns: pd.DataFrame,
    global_firms: pd.DataFrame,
    min_separation_km: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Site the plants of global firms (the centres) at least ``min_separation_km`` apart.

    Parameters
    ----------
    rng : numpy.random.Generator
        The world's generator.
    towns : pandas.DataFrame
        Towns from :func:`make_towns`.
    global_firms : pandas.DataFrame
        Global firms with ``firm_id`` and ``n_plants``.
    min_separation_km : float
        Smallest distance (km) between two centres; above twice the neighbourhood radius,
        neighbourhoods cannot overlap (see ``WorldParams.centre_separation_km``).

    Returns
    -------
    centre_towns : numpy.ndarray
        Row positions of the centres' towns.
    centre_firms : numpy.ndarray
        The owning ``firm_id`` of each centre. Where there is not room for every plant,
        the plants of the last firms are shed.
    """
    n_plants = int(global_firms["n_plants"].sum())
    centre_towns = site_centres(rng, towns, n_plants, min_separation_km)
    owners = np.repeat(global_firms["firm_id"].to_numpy(), global_firms["n_plants"].to_numpy())
    return centre_towns, owners[: len(centre_towns)]


def _unit_vectors(lat_deg: np.ndarray, lon_deg: np.ndarray) -> np.ndarray:
    lat, lon = np.radians(lat_deg), np.radians(lon_deg)
    return np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])


def pairs_within_km(
    lat_a: np.ndarray, lon_a: np.ndarray, lat_b: np.ndarray, lon_b: np.ndarray, radius_km: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair of points of ``a`` and ``b`` at most ``radius_km`` apart (great circle).

    A k-d tree on unit vectors (SciPy) finds candidates by chord length, with a 0.1 km
    margin; the haversine distance then decides, so no pair is lost to rounding and the
    memory grows with the pairs, not with ``len(a) · len(b)``.

    Parameters
    ----------
    lat_a, lon_a, lat_b, lon_b : numpy.ndarray
        Coordinates in degrees.
    radius_km : float
        Largest distance (km), inclusive.

    Returns
    -------
    index_a, index_b : numpy.ndarray
        Positions in ``a`` and ``b`` of each pair, sorted by ``index_a`` then ``index_b``.
    distance_km : numpy.ndarray
        Their great-circle distance (:func:`spillover.spatial.haversine_km`).
    """
    chord = 2.0 * np.sin(min(radius_km + 0.1, np.pi * EARTH_RADIUS_KM) / (2 * EARTH_RADIUS_KM))
    tree_a = cKDTree(_unit_vectors(lat_a, lon_a))
    tree_b = cKDTree(_unit_vectors(lat_b, lon_b))
    found = tree_a.sparse_distance_matrix(tree_b, chord, output_type="ndarray")
    order = np.lexsort((found["j"], found["i"]))
    index_a, index_b = found["i"][order], found["j"][order]
    distance = haversine_km(lat_a[index_a], lon_a[index_a], lat_b[index_b], lon_b[index_b])
    keep = distance <= radius_km
    return index_a[keep], index_b[keep], distance[keep]


def supplier_town_weights(
    towns: pd.DataFrame, centre_towns: np.ndarray, radius_km: float
) -> np.ndarray:
    """Weights of towns for the other plants: district size, tripled near a centre.

    Parameters
    ----------
    towns : pandas.DataFrame
        Towns with ``lat``/``lon`` (degrees) and ``weight``.
    centre_towns : numpy.ndarray
        Row positions of the centres' towns.
    radius_km : float
        Towns within this distance (km) of a centre are boosted (suppliers cluster there).

    Returns
    -------
    numpy.ndarray
        Unnormalised weight of each town.
    """
    lat, lon = towns["lat"].to_numpy(), towns["lon"].to_numpy()
    near_town, _, _ = pairs_within_km(lat, lon, lat[centre_towns], lon[centre_towns], radius_km)
    near = np.zeros(len(towns), dtype=bool)
    near[near_town] = True
    return towns["weight"].to_numpy() * (1 + 2.0 * near)
