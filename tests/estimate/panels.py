"""Random panels for the estimation tests (entities clustered in space, errors correlated).

``random_panel`` draws a panel with one row per ``entity`` and ``year`` whose errors are
correlated within entity (a persistent entity shock), within firm and across nearby
entities in a year (a shock shared by each spatial cluster), so that every covariance
estimator gives a different answer. Entities sit around a few cluster centres in Japan-like
coordinates (lat 31–43°, lon 130–145°), so many pairs are within a few km of each other.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from spillover.spatial import EARTH_RADIUS_KM

KM_PER_DEGREE = np.pi * EARTH_RADIUS_KM / 180.0
"""Great-circle km per degree of latitude."""

COEFFICIENTS = {"x1": 1.0, "x2": -0.5}
"""The true coefficients of ``y`` on ``x1`` and ``x2``."""


def random_panel(
    seed: int,
    n_entities: int = 60,
    years: Sequence[int] = range(2012, 2018),
    *,
    unbalanced: bool = True,
    n_centres: int = 6,
    spread_km: float = 5.0,
    n_firms: int | None = None,
    n_prefs: int = 4,
) -> pd.DataFrame:
    """A random panel with columns entity, year, firm, pref, lat, lon, y, x1, x2.

    Parameters
    ----------
    seed : int
        Seed of the generator (the panel is a pure function of the arguments).
    n_entities : int
        Number of entities (``entity`` is 0..n_entities−1).
    years : sequence of int
        The years of the balanced panel.
    unbalanced : bool
        Drop about 20 % of the rows at random, keeping at least two rows per entity (so no
        entity is a singleton of an entity fixed effect).
    n_centres : int
        Number of spatial cluster centres, uniform over lat 31–43°, lon 130–145°.
    spread_km : float
        Standard deviation of an entity's offset from its centre, in km (per axis).
    n_firms : int, optional
        Number of firms (each entity belongs to one firm); ``n_entities // 3`` by default.
    n_prefs : int
        Number of prefectures; an entity's prefecture is its centre's number modulo
        ``n_prefs``, so entities are nested in prefectures.

    Returns
    -------
    pandas.DataFrame
        One row per kept (entity, year), sorted by entity and year; ``lat``/``lon`` in
        degrees are constant within entity. ``y = x1 − 0.5·x2 + α_i + γ_t + u`` with
        :data:`COEFFICIENTS`.
    """
    rng = np.random.default_rng(seed)
    years = np.asarray(list(years))
    n_firms = n_firms or max(n_entities // 3, 2)
    centre = rng.integers(n_centres, size=n_entities)
    centre_lat = rng.uniform(31.0, 43.0, n_centres)
    centre_lon = rng.uniform(130.0, 145.0, n_centres)
    lat = centre_lat[centre] + rng.normal(0.0, spread_km, n_entities) / KM_PER_DEGREE
    lon = centre_lon[centre] + rng.normal(0.0, spread_km, n_entities) / (
        KM_PER_DEGREE * np.cos(np.radians(centre_lat[centre]))
    )
    firm = rng.integers(n_firms, size=n_entities)
    entity = np.repeat(np.arange(n_entities), years.size)
    year = np.tile(years, n_entities)
    t = np.tile(np.arange(years.size), n_entities)
    ent_effect = rng.normal(0.0, 1.0, n_entities)
    shock = rng.normal(0.0, 1.0, (n_centres, years.size))[centre[entity], t]
    firm_shock = rng.normal(0.0, 0.7, n_firms)[firm[entity]]
    x1 = 0.5 * ent_effect[entity] + 0.8 * shock + rng.normal(0.0, 1.0, entity.size)
    x2 = rng.normal(0.0, 1.0, entity.size) + 0.3 * year.astype(float) / years.max()
    u = 0.7 * shock + firm_shock + rng.normal(0.0, 1.0, entity.size) * (1.0 + 0.5 * np.abs(x2))
    y = (
        COEFFICIENTS["x1"] * x1
        + COEFFICIENTS["x2"] * x2
        + ent_effect[entity]
        + 0.1 * (year - years.min())
        + u
    )
    frame = pd.DataFrame(
        {
            "entity": entity,
            "year": year,
            "firm": firm[entity],
            "pref": centre[entity] % n_prefs,
            "lat": lat[entity],
            "lon": lon[entity],
            "y": y,
            "x1": x1,
            "x2": x2,
        }
    )
    if unbalanced:
        frame = frame[_keep_rows(rng, entity, years.size)]
    return frame.reset_index(drop=True)


def _keep_rows(rng: np.random.Generator, entity: np.ndarray, n_years: int) -> np.ndarray:
    """Random 80 % of the rows, with at least two rows of every entity kept."""
    keep = rng.random(entity.size) >= 0.2
    first_two = rng.permuted(np.tile(np.arange(n_years), (entity.max() + 1, 1)), axis=1)[:, :2]
    forced = (first_two + np.arange(entity.max() + 1)[:, None] * n_years).ravel()
    keep[forced] = True
    return keep
