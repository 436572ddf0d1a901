"""The planted plant-level effect of the overlap setting: exports respond to exposure.

In the dense setting (:attr:`spillover.demo.params.WorldParams.overlap`) centres stand
3 km apart, so 5 km neighbourhoods overlap, and every establishment j that the pipeline keeps
in the plant panel (owner below the capital threshold, not a centre) exports, in million yen::

    exports_jt = s_j · shipments_jt + γ · exposure_jt
    exposure_jt = Σ_k w(d_jk) · OPR_k,t       over centres k with d_jk ≤ radius

with s_j its own export share (0 for non-exporters), OPR_k,t the percent OPR of centre k's
firm as its written 海外事業活動基本調査 sales imply, d_jk the great-circle distance (km) and w
the exposure kernel written into the world's config: exactly the pipeline's ``exposure``
regressor (:func:`spillover.spatial.plant_exposure`). A within-plant regression of exports on
exposure, shipments and the external-demand DI recovers γ, and 0 for the DI: s_j is fixed,
the shipment shocks are independent of OPR, export shares rounded to whole percent add noise
but no bias, and non-response (imputed by the pipeline) is drawn only among unexposed plants.
Every exposed establishment is made an exporter, so the effect is not diluted by plants
whose exports are zero whatever their exposure.

Under overlap no neighbourhood-level coefficient is planted: a neighbourhood's exports sum
γ · exposure over its members, i.e. γ times its member count times its own centre's OPR plus
γ times the members it shares with each overlapping centre times that centre's OPR.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from spillover.demo.establishments import Plants
from spillover.demo.geography import pairs_within_km
from spillover.demo.params import CAPITAL_THRESHOLD, EXPOSURE_KERNEL, WorldParams
from spillover.spatial import BOUNDARY_TOLERANCE_KM, kernel_weights

#: Planted truth (plant level): million yen of a plant's exports per point of exposure.
GAMMA_EXPOSURE = 1.0


def planted_exposure_increments(
    rng: np.random.Generator,
    plants: Plants,
    opr_written: pd.Series,
    radius_km: float,
    years: np.ndarray,
) -> tuple[np.ndarray, dict]:
    """Planted exports γ · exposure (million yen, establishments × years) and their facts.

    Makes every exposed establishment an exporter (in ``plants``, drawing its own share as
    for any exporter).

    Parameters
    ----------
    rng : numpy.random.Generator
        The world's generator.
    plants : Plants
        The establishment pool (centres first).
    opr_written : pandas.Series
        OPR (percent) by ``(firm_id, year)``, as the written sales imply.
    radius_km : float
        Exposure radius (km), also the kernel bandwidth.
    years : numpy.ndarray
        Accounts years.

    Returns
    -------
    increment : numpy.ndarray
        Planted exports, zero outside an establishment's years.
    facts : dict
        ``n_exposed_plants`` (establishments in the plant panel with a centre within the
        radius), ``mean_centres_per_exposed_plant`` and ``share_centres_overlapping`` (centres
        whose neighbourhood shares ground with another's: centres within twice the radius).
    """
    est = plants.table
    centres = est[est["is_centre"]]
    plant, centre, dist = pairs_within_km(
        est["lat"].to_numpy(),
        est["lon"].to_numpy(),
        centres["lat"].to_numpy(),
        centres["lon"].to_numpy(),
        radius_km + BOUNDARY_TOLERANCE_KM,
    )
    eligible = ~est["large_owner"].to_numpy() & ~est["is_centre"].to_numpy()
    plant, centre, dist = plant[eligible[plant]], centre[eligible[plant]], dist[eligible[plant]]
    weight = kernel_weights(dist, kernel=EXPOSURE_KERNEL, bandwidth_km=radius_km)
    opr = np.array([[opr_written.at[(f, y)] for y in years] for f in centres["firm_id"]])
    exposure = np.zeros((len(est), len(years)))
    np.add.at(exposure, plant, weight[:, None] * opr[centre])
    active = (plants.start[:, None] <= years) & (plants.end[:, None] >= years)
    increment = GAMMA_EXPOSURE * exposure * active
    centres_near = np.bincount(plant, minlength=len(est))
    exposed = centres_near > 0
    flip = exposed & ~plants.exporter
    plants.exporter[flip] = True
    plants.own_share[flip] = rng.beta(1.3, 12, int(flip.sum()))
    return increment, {
        "n_exposed_plants": int(exposed.sum()),
        "mean_centres_per_exposed_plant": round(float(centres_near[exposed].mean()), 3),
        "share_centres_overlapping": _share_overlapping(centres, radius_km),
    }


def _share_overlapping(centres: pd.DataFrame, radius_km: float) -> float:
    """Share of centres with another centre within twice the radius (their disks overlap)."""
    lat, lon = centres["lat"].to_numpy(), centres["lon"].to_numpy()
    first, second, dist = pairs_within_km(lat, lon, lat, lon, 2 * radius_km)
    overlapping = np.zeros(len(centres), dtype=bool)
    overlapping[first[(first != second) & (dist < 2 * radius_km)]] = True
    return round(float(overlapping.mean()), 4)


def overlap_truth(params: WorldParams, n_centres: int, facts: dict) -> dict:
    """The planted plant-level coefficient and the facts behind it (``truth.json``)."""
    return {
        "description": "planted plant-level coefficient of the demo world (overlap setting)",
        "seed": params.seed,
        "radius_km": params.radius_km,
        "capital_threshold_million_yen": CAPITAL_THRESHOLD,
        "overlap": True,
        "coefficients": {},
        "neighbourhood_estimand": (
            "not planted: neighbourhoods overlap, and a neighbourhood's exports sum the "
            "plant-level effect over its members (gamma times its member count times its own "
            "centre's OPR, plus gamma times the members shared with each overlapping centre "
            "times that centre's OPR); the neighbourhood models estimate that mixture"
        ),
        "plant_coefficients": {"exposure": GAMMA_EXPOSURE, "external_demand": 0.0},
        "plant_units": {
            "exposure": "million yen of a plant's exports per point of exposure "
            "(kernel-weighted sum of nearby centres' OPR in percent)",
            "external_demand": "million yen of a plant's exports per DI point (none planted)",
        },
        "exposure_kernel": EXPOSURE_KERNEL,
        "n_centres": n_centres,
        **facts,
        "centres_separation_km": params.centre_separation_km,
    }
