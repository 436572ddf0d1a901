"""The demo world's establishment pool: owners, sites, size, capital, lifetimes, exporters.

Everything here is fixed over the years except the yearly shipment shocks; the planted
neighbourhood exports are added by :mod:`spillover.demo.dgp`. Money in million yen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from spillover.demo.geography import place_centres, supplier_town_weights
from spillover.demo.params import CAPITAL_THRESHOLD, WorldParams
from spillover.demo.places import INDUSTRIES, probabilities

#: Mean log employees of an establishment by the kind of its owner.
_LOG_EMPLOYEES = {"global": 6.3, "large": 5.5, "medium": 4.0, "small": 2.6}


@dataclass
class Plants:
    """Every establishment of the pool, one entry per establishment.

    Attributes
    ----------
    table : pandas.DataFrame
        ``establishment_id, firm_id`` (None for unlinked small plants), ``kind`` (of the
        owner), ``town`` (row of the towns), ``lat, lon`` (degrees), ``is_centre``,
        ``industry``, ``employees``, ``own_capital`` (million yen), ``reports_capital``
        and ``large_owner``; the centres come first.
    base_shipments : numpy.ndarray
        Yearly shipments before shocks (million yen).
    start, end : numpy.ndarray
        First and last accounts year in which each establishment is present.
    exporter : numpy.ndarray
        Whether it exports (bool).
    own_share : numpy.ndarray
        Share of shipments it exports whatever its neighbourhood (fraction, 0 if not an
        exporter).
    shock : numpy.ndarray
        Log shipment shocks, establishments × years.
    """

    table: pd.DataFrame
    base_shipments: np.ndarray
    start: np.ndarray
    end: np.ndarray
    exporter: np.ndarray
    own_share: np.ndarray
    shock: np.ndarray


def make_plants(
    rng: np.random.Generator,
    towns: pd.DataFrame,
    firms: pd.DataFrame,
    params: WorldParams,
    years: np.ndarray,
) -> Plants:
    """Draw the establishment pool.

    Parameters
    ----------
    rng : numpy.random.Generator
        The world's generator.
    towns : pandas.DataFrame
        Towns from :func:`spillover.demo.geography.make_towns`.
    firms : pandas.DataFrame
        Firms from :func:`spillover.demo.firms.make_firms`.
    params : WorldParams
        Pool size, neighbourhood radius (km) and the centres' separation (km).
    years : numpy.ndarray
        Accounts years.

    Returns
    -------
    Plants
        The pool; centres (plants of global firms) live through the whole period.
    """
    table, base_shipments = _establishments(rng, towns, firms, params)
    n_est = len(table)
    start = np.where(rng.random(n_est) < 0.93, years[0], rng.choice(years[1:], n_est))
    end = np.where(rng.random(n_est) < 0.95, years[-1], rng.choice(years[:-1], n_est))
    end = np.maximum(start, end)
    is_centre = table["is_centre"].to_numpy()
    start[is_centre], end[is_centre] = years[0], years[-1]
    exporter = rng.random(n_est) < np.where(table["large_owner"], 0.6, 0.28)
    own_share = np.where(exporter, rng.beta(1.3, 12, n_est), 0.0)
    shock = rng.normal(0, 0.12, size=(n_est, len(years)))
    return Plants(table, base_shipments, start, end, exporter, own_share, shock)


def _establishments(
    rng: np.random.Generator, towns: pd.DataFrame, firms: pd.DataFrame, params: WorldParams
) -> tuple[pd.DataFrame, np.ndarray]:
    """The establishment table and base shipments (million yen): see :class:`Plants`."""
    firm_info = firms.set_index("firm_id")
    est = _sited_establishments(rng, towns, firms, firm_info, params)
    n_est = len(est)
    est["industry"] = np.where(
        est["firm_id"].isna(),
        rng.choice(np.array([c for c, _ in INDUSTRIES]), n_est, p=probabilities(INDUSTRIES)),
        est["firm_id"].map(firm_info["industry"]).fillna("2441"),
    )
    est["employees"] = np.maximum(
        1, np.round(rng.lognormal(est["kind"].map(_LOG_EMPLOYEES).to_numpy(dtype=float), 0.6))
    ).astype(int)
    base_shipments = est["employees"].to_numpy() * rng.lognormal(np.log(25), 0.5, n_est)
    # own capital as reported by the establishment survey (法人 only); a few unlinked plants
    # belong to large subsidiaries that the firm survey does not link: excluded by own capital
    small_capital = np.clip(rng.lognormal(np.log(15), 1.0, n_est), 1, 990)
    big_unlinked = (est["kind"] == "small") & (rng.random(n_est) < 0.01)
    est["own_capital"] = np.where(
        est["firm_id"].notna(),
        est["firm_id"].map(firm_info["capital"]),
        np.where(big_unlinked, 2500.0, small_capital),
    )
    est["reports_capital"] = rng.random(n_est) < 0.6
    est.loc[big_unlinked, "reports_capital"] = True
    est["large_owner"] = est["own_capital"] >= CAPITAL_THRESHOLD
    est.loc[est["kind"] == "small", "large_owner"] = big_unlinked[est["kind"] == "small"]
    return est, base_shipments


def _sited_establishments(
    rng: np.random.Generator,
    towns: pd.DataFrame,
    firms: pd.DataFrame,
    firm_info: pd.DataFrame,
    params: WorldParams,
) -> pd.DataFrame:
    """Owners and towns: centres first, then plants of other firms, then unlinked ones."""
    global_firms = firms[firms["kind"] == "global"]
    centre_towns, centre_firms = place_centres(
        rng, towns, global_firms, params.centre_separation_km
    )
    n_centres = len(centre_towns)
    # other plants: towns weighted by district size, boosted near centres (suppliers)
    town_weight = supplier_town_weights(towns, centre_towns, params.radius_km)
    others = firms[firms["kind"] != "global"]
    linked_owner = np.repeat(others["firm_id"].to_numpy(), others["n_plants"].to_numpy())
    n_small = params.n_establishments - n_centres - len(linked_owner)
    owner = np.concatenate([centre_firms, linked_owner, np.full(n_small, None, dtype=object)])
    n_est = len(owner)
    town_of = np.concatenate(
        [centre_towns, rng.choice(len(towns), n_est - n_centres, p=town_weight / town_weight.sum())]
    )
    lat, lon = towns["lat"].to_numpy(), towns["lon"].to_numpy()
    return pd.DataFrame(
        {
            "establishment_id": [f"E{i:07d}" for i in range(1, n_est + 1)],
            "firm_id": owner,
            "kind": np.array(
                ["small" if f is None else firm_info.at[f, "kind"] for f in owner], dtype=object
            ),
            "town": town_of,
            "lat": lat[town_of],
            "lon": lon[town_of],
            "is_centre": np.arange(n_est) < n_centres,
        }
    )
