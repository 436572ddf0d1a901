"""Estimation speed: 80 models (20 specs × 4 radii) on 10,000 centres × 8 years vs pyfixest.

Builds a neighbourhood-like panel (centres spread over Japan's main islands, firm and
prefecture groupings, four radii), fits the same 80 models with ``spillover.estimate``
(demeaning shared across specs with the same fixed effects and sample) and with pyfixest
``feols`` in the same process, then adds four Conley fits at a 10 km cutoff. Prints wall
times and the largest coefficient difference. Run: ``python benchmarks/bench_estimate.py``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from spillover.estimate import DemeanCache, estimation_sample, fit_sample
from spillover.specs import ModelSpec

RADII = (2.0, 5.0, 10.0, 20.0)
YEARS = range(2012, 2020)


def build_panel(centres: int, seed: int = 0) -> pd.DataFrame:
    """Centres × years × radii with sums that grow with the radius (million yen)."""
    rng = np.random.default_rng(seed)
    lat = rng.uniform(33.0, 36.5, centres)
    lon = rng.uniform(130.5, 140.5, centres)
    firm = rng.integers(0, centres // 5, centres)
    pref = rng.integers(1, 48, centres)
    industry = rng.integers(9, 33, centres)
    frames = []
    for radius in RADII:
        for year in YEARS:
            n = centres
            opr = rng.uniform(0, 60, n)
            demand = rng.normal(0, 10) + rng.normal(0, 2, n)
            shipments = rng.lognormal(7 + np.log(radius), 0.5, n)
            exports = 25 * opr + 15 * demand + 0.05 * shipments + rng.normal(0, 50, n)
            frames.append(
                pd.DataFrame(
                    {
                        "radius_km": radius,
                        "entity": np.arange(n),
                        "year": year,
                        "lat": lat,
                        "lon": lon,
                        "firm": firm,
                        "pref": pref,
                        "industry": industry,
                        "opr": opr,
                        "external_demand": demand,
                        "shipments": shipments,
                        "employees": rng.poisson(30 * radius, n).astype(float),
                        "exports": np.abs(exports),
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


def specs() -> list[dict]:
    """20 specs: 5 term sets × 2 fixed-effect sets × 2 covariances."""
    term_sets = [
        ("exports", ["opr", "external_demand", "shipments"]),
        ("exports", ["opr", "shipments"]),
        ("log1p(exports)", ["opr", "external_demand", "log1p(shipments)"]),
        ("exports", ["opr", "external_demand", "shipments", "employees"]),
        ("asinh(exports)", ["opr", "asinh(shipments)"]),
    ]
    fes = [["entity"], ["entity", "pref^year"]]
    vcovs = [{"type": "cluster", "by": ["entity"]}, {"type": "hetero"}]
    out = []
    for i, (dependent, regressors) in enumerate(term_sets):
        for j, fe in enumerate(fes):
            for k, vcov in enumerate(vcovs):
                out.append(
                    {
                        "id": f"s{i}{j}{k}",
                        "dependent": dependent,
                        "regressors": regressors,
                        "fe": fe,
                        "vcov": vcov,
                    }
                )
    return out


def _formula(spec: dict) -> tuple[str, dict | str]:
    def name(term: str) -> str:
        return term.replace("(", "_").replace(")", "")

    fe = " + ".join(f.replace("pref^year", "pref_year") for f in spec["fe"])
    formula = f"{name(spec['dependent'])} ~ {' + '.join(map(name, spec['regressors']))} | {fe}"
    vcov = {"CRV1": "entity"} if spec["vcov"]["type"] == "cluster" else "hetero"
    return formula, vcov


def run_ours(panel: pd.DataFrame, entries: list[dict]) -> dict:
    cache = DemeanCache()
    coefs = {}
    for radius in RADII:
        rows = panel[panel["radius_km"] == radius]
        for entry in entries:
            spec = ModelSpec.model_validate({**entry, "radius_km": radius})
            table = fit_sample(estimation_sample(rows, spec), spec, cache, radius)
            coefs[(radius, entry["id"])] = table["coef"].to_numpy()
    return coefs


def run_pyfixest(panel: pd.DataFrame, entries: list[dict]) -> dict:
    import pyfixest

    data = panel.assign(
        log1p_exports=np.log1p(panel["exports"]),
        log1p_shipments=np.log1p(panel["shipments"]),
        asinh_exports=np.arcsinh(panel["exports"]),
        asinh_shipments=np.arcsinh(panel["shipments"]),
        pref_year=panel["pref"] * 10_000 + panel["year"],
    )
    coefs = {}
    for radius in RADII:
        rows = data[data["radius_km"] == radius]
        for entry in entries:
            formula, vcov = _formula(entry)
            model = pyfixest.feols(formula, data=rows, vcov=vcov)
            coefs[(radius, entry["id"])] = model.coef().to_numpy()
    return coefs


def run_conley(panel: pd.DataFrame) -> None:
    for radius in RADII:
        rows = panel[panel["radius_km"] == radius]
        spec = ModelSpec.model_validate(
            {
                "id": f"conley@r{radius:g}",
                "regressors": ["opr", "external_demand", "shipments"],
                "vcov": {"type": "conley", "cutoff_km": 10, "serial_lags": 2},
                "radius_km": radius,
            }
        )
        fit_sample(estimation_sample(rows, spec), spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--centres", type=int, default=10_000)
    args = parser.parse_args()
    panel = build_panel(args.centres)
    entries = specs()
    print(f"panel: {len(panel):,} rows ({args.centres:,} centres × 8 years × {len(RADII)} radii)")
    import pyfixest  # noqa: F401  (import time is not fitting time)

    timings = {}
    for name, runner in (("spillover", run_ours), ("pyfixest", run_pyfixest)):
        start = time.perf_counter()
        coefs = runner(panel, entries)
        timings[name] = (time.perf_counter() - start, coefs)
    ours, theirs = timings["spillover"][1], timings["pyfixest"][1]
    gap = max(float(np.max(np.abs(ours[k] - theirs[k]) / np.abs(theirs[k]))) for k in ours)
    start = time.perf_counter()
    run_conley(panel)
    conley = time.perf_counter() - start
    ratio = timings["spillover"][0] / timings["pyfixest"][0]
    print(f"80 models, spillover: {timings['spillover'][0]:.2f} s")
    print(f"80 models, pyfixest:  {timings['pyfixest'][0]:.2f} s  (ratio {ratio:.2f})")
    print(f"largest relative coefficient difference: {gap:.1e}")
    print(f"4 Conley fits (10 km, 2 serial lags): {conley:.2f} s")
    print(f"total spillover incl. Conley: {timings['spillover'][0] + conley:.2f} s")


if __name__ == "__main__":
    main()
