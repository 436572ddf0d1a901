"""The demo world's data-generating process, with planted neighbourhood effects.

This is the default setting; in the overlap setting (``WorldParams.overlap``) centres stand
only 3 km apart, neighbourhoods overlap, and the effect is planted at plant level instead:
see :mod:`spillover.demo.plant_effects`.

The data generating process (all money in million yen, OPR in percent)::

    exports_jt = s_j · shipments_jt                                   for exporter j
               + (β_opr · OPR_k,t + β_di · DI_t + a_k) / m_k,t        if j is in N_k,t

N_k,t is the neighbourhood of centre k (a plant of a global firm) in year t under the
pipeline's own rules (great-circle ≤ radius, firm capital < threshold), and m_k,t counts its
exporters that report an export share. Summing over N_k,t gives exactly the white paper's
neighbourhood equation with coefficients β_opr and β_di plus the fixed effect a_k, so the
pipeline must recover them. Centres are sited at least ``2 · radius + 0.5`` km apart, so at
the default radius neighbourhoods do not overlap (the white paper's footnote 241 caveat does
not bite in the demo); export shares are rounded to whole percent as in the survey, which adds
noise but no bias. Non-response (missing share) is drawn only among establishments that carry
no planted increment, so the fallback imputation cannot attenuate the planted effect.

:func:`build_world_frames` runs the steps in a fixed order on one generator (towns, firms,
establishments, OPR paths and overseas tables, Tankan DI, planted increments, shipments and
shares, firm survey), so a seed gives the same world every time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from spillover.demo.establishments import Plants, make_plants
from spillover.demo.firms import firm_survey, make_firms, overseas_tables
from spillover.demo.geography import make_towns
from spillover.demo.national import national_towns
from spillover.demo.params import CAPITAL_THRESHOLD, WorldParams
from spillover.demo.plant_effects import overlap_truth, planted_exposure_increments
from spillover.spatial import haversine_km

#: Planted truth (neighbourhood level): million yen per OPR point / per DI point.
BETA_OPR = 25.0
BETA_DI = 15.0


def build_world_frames(params: WorldParams) -> dict[str, pd.DataFrame | dict]:
    """Generate every table of the demo world in canonical units (no files written).

    Parameters
    ----------
    params : WorldParams
        Size, shape and seed of the world.

    Returns
    -------
    dict
        ``towns``, ``establishments`` (establishment-year panel: ``shipments`` in million
        yen, ``export_share`` in whole percent, NaN for non-response), ``firms`` (firm
        survey), ``affiliates``, ``parents``, ``tankan`` (quarterly DI) and ``truth``
        (the planted coefficients, as written to ``truth.json``).
    """
    rng = np.random.default_rng(params.seed)
    years = np.arange(params.first_year, params.last_year + 1)
    towns = national_towns(params, rng) if params.gazetteer else make_towns(rng)
    firms = make_firms(rng, params)
    plants = make_plants(rng, towns, firms, params, years)
    global_firms = firms[firms["kind"] == "global"]
    opr_path = _opr_paths(rng, len(global_firms), len(years))
    affiliates, parents, opr_written = overseas_tables(rng, firms, global_firms, opr_path, years)
    di = _tankan(rng, years)
    n_centres = int(plants.table["is_centre"].sum())
    if params.overlap:
        increment, facts = planted_exposure_increments(
            rng, plants, opr_written, params.radius_km, years
        )
        truth = overlap_truth(params, n_centres, facts)
    else:
        increment, m_count = _planted_increments(
            rng, plants, opr_written, _annual_di(di), params.radius_km, years
        )
        truth = _truth(params, m_count)
    establishments = _establishment_panel(rng, plants, increment, years)
    return {
        "towns": towns,
        "establishments": establishments,
        "firms": firm_survey(rng, firms, years),
        "affiliates": affiliates,
        "parents": parents,
        "tankan": di,
        "truth": truth,
    }


def _opr_paths(rng: np.random.Generator, n_firms: int, n_years: int) -> np.ndarray:
    """OPR (percent) of each global firm in each year, trending upward, within [1, 85]."""
    opr_start = rng.uniform(8, 40, n_firms)
    opr_slope = rng.normal(1.2, 0.9, n_firms)
    return np.clip(
        opr_start[:, None]
        + opr_slope[:, None] * np.arange(n_years)
        + rng.normal(0, 1.5, (n_firms, n_years)),
        1.0,
        85.0,
    )


def _tankan(rng: np.random.Generator, years: np.ndarray) -> pd.DataFrame:
    """Quarterly 海外での製商品需給判断DI (最近), integer points, by industry and size."""
    quarters = [f"{y}Q{q}" for y in range(years[0] - 1, years[-1] + 2) for q in range(1, 5)]
    cycle = np.cumsum(rng.normal(0, 2.5, len(quarters))) - 8
    rows = []
    for industry, offset in (
        ("製造業", 0.0),
        ("輸送用機械", 3.0),
        ("電気機械", -2.0),
        ("金属製品", -5.0),
    ):
        for size, s_off in (("大企業", 0.0), ("中堅企業", -2.0), ("中小企業", -4.0)):
            noise = (
                rng.normal(0, 1.5, len(quarters)) if industry != "製造業" or size != "大企業" else 0
            )
            values = np.clip(np.round(cycle + offset + s_off + noise), -60, 60)
            rows.extend(
                {"period": p, "industry": industry, "size_class": size, "di": float(v)}
                for p, v in zip(quarters, values, strict=True)
            )
    return pd.DataFrame(rows)


def _annual_di(di: pd.DataFrame) -> pd.Series:
    """Annual mean DI (points) of large manufacturers, the DI_t of the planted equation."""
    return (
        di[(di["industry"] == "製造業") & (di["size_class"] == "大企業")]
        .assign(year=lambda d: d["period"].str[:4].astype(int))
        .groupby("year")["di"]
        .mean()
    )


def _planted_increments(
    rng: np.random.Generator,
    plants: Plants,
    opr_written: pd.Series,
    di_annual: pd.Series,
    radius_km: float,
    years: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Planted exports (million yen, establishments × years) and exporters per neighbourhood.

    Each centre's ``β_opr · OPR + β_di · DI + a_k`` is split equally among the exporting
    neighbours present that year, under the pipeline's rules (within ``radius_km``, owner
    below the capital threshold, not a centre). Ensures every centre has exporters (this
    may turn neighbours of ``plants`` into exporters).
    """
    est = plants.table
    centres = est[est["is_centre"]].reset_index()
    centre_fe = rng.uniform(200, 2000, len(centres))
    eligible_base = ~est["large_owner"].to_numpy() & ~est["is_centre"].to_numpy()
    dist = haversine_km(
        centres["lat"].to_numpy()[:, None],
        centres["lon"].to_numpy()[:, None],
        est["lat"].to_numpy()[None, :],
        est["lon"].to_numpy()[None, :],
    )
    eligible = (dist <= radius_km) & eligible_base
    stable = (plants.start == years[0]) & (plants.end == years[-1])
    _ensure_exporting_neighbours(rng, plants, eligible & stable)
    increment = np.zeros((len(est), len(years)))
    m_count = np.zeros((len(centres), len(years)), dtype=int)
    for t, year in enumerate(years):
        active = (plants.start <= year) & (plants.end >= year)
        for k, firm_id in enumerate(centres["firm_id"]):
            members = np.flatnonzero(eligible[k] & active & plants.exporter)
            m_count[k, t] = len(members)
            if len(members) == 0:
                continue
            opr = opr_written.at[(firm_id, year)]
            total = BETA_OPR * opr + BETA_DI * di_annual[year] + centre_fe[k]
            increment[members, t] += total / len(members)
    return increment, m_count


def _ensure_exporting_neighbours(
    rng: np.random.Generator, plants: Plants, neighbours: np.ndarray
) -> None:
    """Make at least three of each centre's always-present neighbours exporters (in place).

    ``neighbours`` is centres × establishments (bool). Export shares of the new exporters
    are drawn as for any exporter.
    """
    for members in map(np.flatnonzero, neighbours):
        if len(members) and plants.exporter[members].sum() < 3:
            flip = rng.choice(members, min(3, len(members)), replace=False)
            plants.exporter[flip] = True
            plants.own_share[flip] = rng.beta(1.3, 12, len(flip))


def _establishment_panel(
    rng: np.random.Generator, plants: Plants, increment: np.ndarray, years: np.ndarray
) -> pd.DataFrame:
    """Establishment-year rows with shipments (million yen) and export share (percent).

    Shipments are kept large enough that planted exports stay well below 100 % of them;
    shares are rounded to whole percent; non-response (NaN share) is drawn only where no
    increment is planted.
    """
    floor = 3.0 * increment.max(axis=1) / np.exp(-3 * 0.12)
    base_ship = np.maximum(plants.base_shipments, floor)
    shipments = np.round(base_ship[:, None] * np.exp(plants.shock), 2)
    exports = plants.own_share[:, None] * shipments + increment
    share = np.round(100 * exports / shipments)
    share[~plants.exporter] = 0.0
    non_response = (rng.random(share.shape) < 0.03) & ~(increment > 0)
    share = np.where(non_response, np.nan, share)
    panel_rows = []
    for t, year in enumerate(years):
        active = (plants.start <= year) & (plants.end >= year)
        frame = plants.table.loc[active].copy()
        frame["year"] = year
        frame["shipments"] = shipments[active, t]
        frame["export_share"] = share[active, t]
        panel_rows.append(frame)
    return pd.concat(panel_rows, ignore_index=True)


def _truth(params: WorldParams, m_count: np.ndarray) -> dict:
    """The planted coefficients and the facts that make them identified (``truth.json``)."""
    return {
        "description": "planted neighbourhood-level coefficients of the demo world",
        "seed": params.seed,
        "radius_km": params.radius_km,
        "capital_threshold_million_yen": CAPITAL_THRESHOLD,
        "coefficients": {"opr": BETA_OPR, "external_demand": BETA_DI},
        "units": {
            "opr": "million yen of neighbourhood exports per percentage point of OPR",
            "external_demand": "million yen of neighbourhood exports per DI point",
        },
        "n_centres": len(m_count),
        "min_exporting_neighbours": int(m_count.min()),
        "centres_separation_km": 2 * params.radius_km + 0.5,
    }
